"""Environment capture is amortised (gathered again only when a fingerprint changed, stored once) and gives exactly
the artifact an uncached capture gives — before and after every kind of change a user makes."""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

_ages = itertools.count(1)


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


def _age(root):
    """Move what changed in the last minute under ``root`` (files and folders) to an old, distinct mtime, newer
    than the previous call's: what a change made a while ago looks like. (A change within the last seconds is never
    trusted to the cache, which would hide what these tests check.) What did not change keeps its mtime."""
    now = time.time()
    t = now - 10_000 + next(_ages) * 10
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            if os.lstat(p).st_mtime > now - 60:
                os.utime(p, (t, t), follow_symlinks=False)
    if os.stat(root).st_mtime > now - 60:
        os.utime(root, (t, t))


class CountingBackend:
    """A LocalBackend that counts uploads."""

    def __init__(self, inner):
        self.inner, self.puts = inner, 0

    def put_bytes(self, data):
        self.puts += 1
        return self.inner.put_bytes(data)


@pytest.fixture
def env(gatherers, monkeypatch):
    """The environment module with empty caches (restored afterwards) and a counter of git invocations."""
    E = gatherers
    for name in ("_memo", "_last", "_stored", "_file_hashes"):
        monkeypatch.setattr(E, name, type(getattr(E, name))())
    from jupyter_mltrack.client import fingerprint as F

    monkeypatch.setattr(F, "_tracked", {})
    real_run = subprocess.run
    E.git_calls = []

    def counting_run(cmd, *a, **kw):
        if cmd and cmd[0] == "git":
            E.git_calls.append(cmd)
        return real_run(cmd, *a, **kw)

    monkeypatch.setattr(subprocess, "run", counting_run)
    return E


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with a committed local module, the current folder, on sys.path."""
    r = tmp_path / "repo"
    r.mkdir()
    _git(r, "init", "-q", "-b", "main")
    (r / "envc_helpers.py").write_text("A = 1\n")
    (r / "README.md").write_text("notes\n")
    _git(r, "add", ".")
    _git(r, "commit", "-q", "-m", "first")
    monkeypatch.chdir(r)
    monkeypatch.syspath_prepend(str(r))
    yield r
    for m in [m for m in sys.modules if m.startswith("envc_")]:
        del sys.modules[m]


def _artifact(E, store, backend=None, run_id="r"):
    """What the cached capture stores for a run, as {path: bytes}, plus what the uncached one would store."""
    from jupyter_mltrack.client.backend import LocalBackend

    backend = backend or LocalBackend(store)
    (art,) = E.environment_artifact(run_id, backend)()["artifacts"]
    cached = {f["path"]: store.blobs.read_bytes(f["sha256"]) for f in art["files"]}
    fresh = dict(E.environment_files(E.gather(cached=False)))
    return cached, fresh, art


def test_cached_capture_equals_uncached_and_costs_nothing_when_unchanged(env, repo, store):
    from jupyter_mltrack.client.backend import LocalBackend

    importlib.import_module("envc_helpers")
    _age(repo)
    backend = CountingBackend(LocalBackend(store))
    first, fresh, _ = _artifact(env, store, backend)
    assert first == fresh
    assert {"environment.json"} == set(first)  # clean tree, committed module: nothing else to store
    puts = backend.puts
    calls, second = _git_calls_of_cached_capture(env, store, backend, run_id="r2")
    assert second == first == dict(env.environment_files(env.gather(cached=False)))
    # nothing changed: no git command, nothing serialised or uploaded, the same files named
    assert calls == 0 and backend.puts == puts


def _git_calls_of_cached_capture(env, store, backend, run_id="r"):
    n = len(env.git_calls)
    (art,) = env.environment_artifact(run_id, backend)()["artifacts"]
    assert art["run_id"] == run_id
    return len(env.git_calls) - n, {f["path"]: store.blobs.read_bytes(f["sha256"]) for f in art["files"]}


def test_changes_are_picked_up(env, repo, store):
    from jupyter_mltrack.client.backend import LocalBackend

    backend = LocalBackend(store)
    importlib.import_module("envc_helpers")
    _age(repo)

    def capture():
        n = len(env.git_calls)
        (art,) = env.environment_artifact("r", backend)()["artifacts"]
        got = {f["path"]: store.blobs.read_bytes(f["sha256"]) for f in art["files"]}
        calls = len(env.git_calls) - n
        fresh = dict(env.environment_files(env.gather(cached=False)))
        assert got == fresh  # identical to gathering everything again
        return got, calls

    import json

    base, _ = capture()
    again, calls = capture()
    assert again == base and calls == 0

    # a new import of a local module
    (repo / "envc_extra.py").write_text("B = 1\n")
    _git(repo, "add", "envc_extra.py")
    _git(repo, "commit", "-q", "-m", "extra")
    _age(repo)
    importlib.import_module("envc_extra")
    after_import, calls = capture()
    mods = {m["module"] for m in json.loads(after_import["environment.json"])["local_modules"]["modules"]}
    assert mods == {"envc_helpers", "envc_extra"} and calls > 0
    assert capture()[1] == 0  # and then cached again

    # an edited local module (same size: only its mtime tells)
    (repo / "envc_helpers.py").write_text("A = 2\n")
    _age(repo)
    edited, calls = capture()
    doc = json.loads(edited["environment.json"])
    assert {m["module"]: m["git"] for m in doc["local_modules"]["modules"]}["envc_helpers"] == "modified"
    assert edited["modules/envc_helpers.py"] == b"A = 2\n" and doc["git"]["dirty"] is True
    assert "+A = 2" in edited["git.patch"].decode()

    # an edited module git does not know (no tracked file changes: only the module's own stat tells)
    (repo / "envc_loose.py").write_text("C = 1\n")
    _age(repo)
    importlib.import_module("envc_loose")
    assert capture()[0]["modules/envc_loose.py"] == b"C = 1\n"
    (repo / "envc_loose.py").write_text("C = 2\n")
    _age(repo)
    assert capture()[0]["modules/envc_loose.py"] == b"C = 2\n"
    os.remove(repo / "envc_loose.py")
    del sys.modules["envc_loose"]
    _age(repo)

    # a new commit
    _git(repo, "commit", "-q", "-am", "second")
    _age(repo)
    committed, _ = capture()
    doc2 = json.loads(committed["environment.json"])
    assert doc2["git"]["commit"] != doc["git"]["commit"] and doc2["git"]["dirty"] is False
    assert set(committed) == {"environment.json"}
    assert capture()[1] == 0

    # a dirty work tree: a tracked file that is not a module, then a new untracked file
    (repo / "README.md").write_text("notes!\n")
    _age(repo)
    dirty, _ = capture()
    assert json.loads(dirty["environment.json"])["git"]["changed_files"] == ["README.md"]
    assert "+notes!" in dirty["git.patch"].decode()
    (repo / "data.csv").write_text("1\n")
    _age(repo)
    untracked, _ = capture()
    assert json.loads(untracked["environment.json"])["git"]["changed_files"] == ["README.md", "data.csv"]


def test_a_recent_change_is_never_trusted_to_the_cache(env, repo, store):
    """Within the timestamps' resolution a file can change without its stat changing: a key taken while some file
    is that recent is not trusted, git runs again."""
    from jupyter_mltrack.client.backend import LocalBackend

    importlib.import_module("envc_helpers")
    backend = LocalBackend(store)
    (repo / "envc_helpers.py").write_text("A = 3\n")  # just now
    _git_calls_of_cached_capture(env, store, backend)
    calls, _ = _git_calls_of_cached_capture(env, store, backend)
    assert calls > 0


def test_one_look_per_writer_pass(env, repo, store, monkeypatch):
    """Runs whose capture jobs run in the same flush share one look at the environment."""
    from jupyter_mltrack.client.backend import LocalBackend

    class W:
        passes = 1

    backend = LocalBackend(store)
    importlib.import_module("envc_helpers")
    seen = []
    real = env.gather
    env.gather = lambda *a, **k: seen.append(1) or real(*a, **k)
    try:
        w = W()
        for i in range(5):
            env.environment_artifact(f"r{i}", backend, w)()
        assert len(seen) == 1
        w.passes = 2
        env.environment_artifact("r9", backend, w)()
        assert len(seen) == 2
        real_pid = os.getpid()
        with monkeypatch.context() as m:
            m.setattr(os, "getpid", lambda: real_pid + 1)  # a forked child's writer at the same pass
            env.environment_artifact("r10", backend, w)()
        assert len(seen) == 3
    finally:
        env.gather = real


def test_default_runs_store_the_environment_once(tmp_path, monkeypatch):
    """Through the public API: many runs, one set of environment blobs, every run's artifact naming it."""
    import jupyter_mltrack as mlt
    from jupyter_mltrack.client import tracking

    from ._helpers import blob_files

    mlt.set_tracking_uri(str(tmp_path / "store"))
    try:
        ids = []
        for i in range(20):
            with mlt.start_run(f"r{i}", project="envcache") as run:
                run.log_metric("m", i)
            ids.append(run.id)
        mlt.flush()
        shas = set()
        for rid in ids:
            (art,) = [a for a in mlt.get_run(rid).artifacts if a["name"] == "environment"]
            shas.add(tuple(f["sha256"] for f in art["files"]))
        assert len(shas) == 1
        assert len(blob_files(tmp_path / "store")) == 1  # environment.json only: no repository, no local module
    finally:
        tracking.reset()


def test_an_installed_package_is_picked_up(env, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    _age(site)
    before = env.gather()["packages"]["packages"]
    assert "envc-fake" not in before and env.gather()["packages"] is env.gather()["packages"]  # reused
    info = site / "envc_fake-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: envc-fake\nVersion: 1.0\n")
    _age(site)
    assert env.gather()["packages"]["packages"]["envc-fake"] == "1.0"
    assert env.gather()["packages"] == env.gather(cached=False)["packages"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_child_forked_during_a_gathering_can_gather(env):
    """A fork while the writer thread gathers (holding the cache's lock) must not leave the child stuck."""
    import threading

    from jupyter_mltrack.client import fingerprint as F

    release = threading.Event()
    entered = threading.Event()

    def slow():
        entered.set()
        release.wait(10)
        return {"ok": True}

    env.register_gatherer("slow_probe", slow)
    th = threading.Thread(target=env.gather, daemon=True)
    th.start()
    assert entered.wait(10)
    with F._lock:  # held at the fork, as python_files holds it while walking sys.modules
        pid = os.fork()
        if pid == 0:  # the child: gather once (without the slow probe) and exit at once
            code = 1
            try:
                env._gatherers.pop("slow_probe", None)
                t = threading.Thread(target=lambda: (env.gather(timeout=5), F.python_files()), daemon=True)
                t.start()
                t.join(20)
                code = 0 if not t.is_alive() else 2
            finally:
                os._exit(code)
    release.set()
    th.join(10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_module_paths_resolve_like_realpath_folder_by_folder(tmp_path):
    """Paths of loaded modules are resolved a folder at a time, not a file at a time (no lstat per file): the same
    answers as os.path.realpath of the folder; a module file that is itself a symlink counts where it is imported
    from (a notebook folder's ``helpers.py`` linked from elsewhere is one of its local modules)."""
    import os

    from jupyter_mltrack.client import fingerprint as F

    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "m.py").write_text("")
    (tmp_path / "real" / "target.py").write_text("")
    os.symlink(tmp_path / "real", tmp_path / "linked")
    os.symlink(tmp_path / "real" / "target.py", tmp_path / "real" / "alias.py")
    (tmp_path / "real" / "sub").mkdir()
    os.symlink("../real/sub", tmp_path / "real" / "rel")  # a relative link inside a linked folder
    cases = [tmp_path / "linked" / "m.py", tmp_path / "real" / "alias.py", tmp_path / "linked" / "alias.py",
             tmp_path / "linked" / "sub" / "n.py", tmp_path / "linked" / "rel" / "n.py",
             tmp_path / "real" / ".." / "real" / "m.py", tmp_path / "real" / "missing.py"]
    for p in cases:
        assert F._realpath(str(p)) == os.path.join(os.path.realpath(p.parent), p.name), p
    assert F._realpath(str(tmp_path / "linked" / "alias.py")) == str(tmp_path / "real" / "alias.py")
