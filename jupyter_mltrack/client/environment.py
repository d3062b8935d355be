"""Gatherers of the environment a run ran in: python, packages, git, host, hardware.

Each gatherer is a function returning a JSON-able dict; they run on the writer thread (never in the cell), each
under a time limit. A gatherer that fails or is too slow is reported in ``errors`` of the result and never breaks
the run. Register more with :func:`register_gatherer`. The result is stored as the run's ``environment`` artifact
(``environment.json``, plus ``git.patch`` when the work tree has uncommitted changes); it holds no per-run data
such as times, so identical environments are stored once.

Capture is amortised: a gatherer runs again only when its fingerprint changed (``client/fingerprint.py``: git's
HEAD, refs, index and tracked files; the local modules' files; the folders on ``sys.path``), jobs of one writer pass
share one look, and the files of an environment identical to the last one stored are not serialised, hashed or
uploaded again: each run's artifact names them. ``gather(cached=False)`` runs everything, for comparison.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import threading
import time
import weakref
from typing import Callable

GATHERER_TIMEOUT = 5.0
_CACHE_SECONDS = 300.0

_gatherers: dict[str, tuple[Callable[[], dict], bool]] = {}
_cache: dict[str, tuple[float, dict]] = {}
_cache_lock = threading.Lock()


def register_gatherer(name: str, fn: Callable[[], dict], cacheable: bool = False) -> None:
    """Add (or replace) a gatherer. ``cacheable`` ones are reused for a few minutes within a process."""
    _gatherers[name] = (fn, cacheable)


def _python() -> dict:
    import platform

    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
    }


def _platform() -> dict:
    import platform

    return {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
            "platform": platform.platform()}


def current_user() -> str:
    """Who runs this process: ``JUPYTERHUB_USER``, ``MLTRACK_USER``, else the login name."""
    for var in ("JUPYTERHUB_USER", "MLTRACK_USER"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _host() -> dict:
    import socket

    return {"hostname": socket.gethostname(), "user": current_user()}


def _distributions(path: list[str]) -> dict:
    from importlib import metadata

    pkgs = {}
    for d in metadata.distributions(path=path):
        name = d.metadata["Name"]
        if name:
            pkgs[name] = d.version
    return pkgs


#: :func:`_distributions` for a child interpreter, the path read from stdin
_LIST_PACKAGES = """import json, sys
from importlib import metadata
pkgs = {}
for d in metadata.distributions(path=json.loads(sys.stdin.read())):
    name = d.metadata["Name"]
    if name:
        pkgs[name] = d.version
sys.stdout.write(json.dumps(pkgs))
"""


def _packages() -> dict:
    """The installed distributions, read by a child interpreter on this process's ``sys.path``: reading a few
    hundred distributions' metadata is ~0.25 s of CPU that would otherwise be taken from the kernel's cells (the
    child is waited for without holding the interpreter). In this process when no child can be started."""
    import subprocess

    pkgs = None
    try:
        r = subprocess.run([sys.executable, "-I", "-S", "-c", _LIST_PACKAGES], input=json.dumps(sys.path),
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            pkgs = json.loads(r.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        pkgs = None
    if pkgs is None:
        pkgs = _distributions(sys.path)
    return {"packages": dict(sorted(pkgs.items(), key=lambda kv: kv[0].lower()))}


def _hardware() -> dict:
    import platform
    import subprocess

    out: dict = {"cpu_count": os.cpu_count()}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    out["memory_bytes"] = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    out["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        out["cpu_model"] = platform.processor()
    gpus = []
    try:
        r = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=3,
        )
        if r.returncode == 0:
            for line in r.stdout.strip().splitlines():
                parts = [p.strip() for p in line.split(",")]
                gpus.append({"name": parts[0], "memory": parts[1] if len(parts) > 1 else "",
                             "driver": parts[2] if len(parts) > 2 else ""})
    except (OSError, subprocess.SubprocessError):
        pass
    out["gpus"] = gpus
    return out


def _git(cwd: str | None = None) -> dict:
    import subprocess

    cwd = cwd or os.getcwd()

    def git(*args: str) -> str:
        # no optional locks: a status never rewrites the index (the user's git, and our fingerprint, see no change)
        r = subprocess.run(["git", "--no-optional-locks", *args], cwd=cwd, capture_output=True, text=True, timeout=3)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip() or f"git {' '.join(args)} failed")
        return r.stdout

    try:
        root = git("rev-parse", "--show-toplevel").strip()
    except (RuntimeError, OSError, subprocess.SubprocessError):
        return {}  # not in a repository (or no git): nothing to say
    out = {"root": root}
    try:
        out["commit"] = git("rev-parse", "HEAD").strip()
    except RuntimeError:
        out["commit"] = None  # a repository without commits
    out["branch"] = git("rev-parse", "--abbrev-ref", "HEAD").strip() if out["commit"] else None
    status = git("status", "--porcelain")
    out["dirty"] = bool(status.strip())
    out["changed_files"] = [line[3:] for line in status.splitlines()][:200]
    try:
        out["remote"] = git("config", "--get", "remote.origin.url").strip()
    except RuntimeError:
        out["remote"] = None
    if out["dirty"] and out["commit"]:
        patch = git("diff", "HEAD")
        out["_patch"] = patch
    return out


#: (real path, stat key) → (sha256, size) of local module files: unchanged files are not read again
_file_hashes: dict[tuple[str, tuple], tuple[str, int]] = {}


def _local_modules(cwd: str | None = None) -> dict:
    """Modules imported from the notebook's folder (not installed packages): their hashes, whether git knows them
    and whether they differ from the committed version. The files that differ are stored with the environment.
    A file is read again only when its (path, mtime, size, inode, mode) changed."""
    import hashlib
    import subprocess

    from .fingerprint import RACY_SECONDS, local_files, stat_key

    root = os.path.realpath(cwd or os.getcwd())
    found = {}
    for name, real in local_files(root):
        found[os.path.relpath(real, root)] = name
    if not found:
        return {}
    status = {}
    try:
        r = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--", *sorted(found)], cwd=root,
                           capture_output=True, text=True, timeout=3)
        in_repo = r.returncode == 0
        for line in r.stdout.splitlines():
            status[line[3:].strip()] = line[:2].strip()
    except (OSError, subprocess.SubprocessError):
        in_repo = False
    modules, changed = [], {}
    for rel, name in sorted(found.items()):
        path = os.path.join(root, rel)
        st = status.get(rel, "")
        state = ("untracked" if st == "??" else "modified" if st else "committed") if in_repo else "no git"
        key = stat_key(path)
        hit = _file_hashes.get((path, key)) if key is not None else None
        data = None
        if hit is None or state != "committed":
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            hit = (hashlib.sha256(data).hexdigest(), len(data))
            # a file changed within the timestamps' resolution may change again unseen: not remembered
            if key is not None and time.time() - key[0] / 1e9 > RACY_SECONDS and stat_key(path) == key:
                _file_hashes[(path, key)] = hit
        entry = {"module": name, "path": rel, "sha256": hit[0], "size": hit[1], "git": state}
        modules.append(entry)
        if state != "committed":
            changed[rel] = data.decode("utf-8", "replace")
    return {"modules": modules, "_files": changed}


register_gatherer("python", _python, cacheable=True)
register_gatherer("local_modules", _local_modules)
register_gatherer("platform", _platform, cacheable=True)
register_gatherer("host", _host, cacheable=True)
register_gatherer("packages", _packages)  # gathered again when a folder on sys.path changes
register_gatherer("hardware", _hardware, cacheable=True)
register_gatherer("git", _git)

def _fingerprints() -> dict:
    """The builtin gatherers that can tell cheaply whether their result changed (see ``client/fingerprint.py``)."""
    from . import fingerprint as F

    return {_git: F.git_fingerprint, _local_modules: F.local_modules_fingerprint, _packages: F.packages_fingerprint}


#: name → (gatherer, fingerprint key, value): a gatherer's last result and the fingerprint taken before it ran
_memo: dict[str, tuple[Callable, object, dict]] = {}
_memo_lock = threading.RLock()


def _after_fork_in_child() -> None:
    """The writer thread may hold these locks for a whole gathering when the process forks: the child gets fresh
    ones (what is cached stays true in the child)."""
    global _memo_lock, _cache_lock
    _memo_lock, _cache_lock = threading.RLock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def gather(timeout: float | None = None, cached: bool = True) -> dict:
    """Run every gatherer in parallel, each within ``timeout`` (default :data:`GATHERER_TIMEOUT`); failures and
    timeouts are listed in ``errors``. Plain daemon threads, not an executor: this also runs at interpreter exit
    (a short script's final flush), when executors refuse new work.

    With ``cached`` (the default) a gatherer is not run again while its fingerprint is unchanged (git, local
    modules, packages: ``client/fingerprint.py``; the static ones — python, platform, host, hardware, and those
    registered ``cacheable`` — are reused for a few minutes); the result is what running them all would give."""
    timeout = GATHERER_TIMEOUT if timeout is None else timeout
    result: dict = {}
    errors: dict[str, str] = {}
    jobs: dict[str, tuple] = {}
    from .fingerprint import RACY_SECONDS

    fingerprints = _fingerprints() if cached else {}
    now = time.monotonic()
    with _memo_lock:
        for name, (fn, cacheable) in list(_gatherers.items()):
            fp = None
            if cached and cacheable:
                with _cache_lock:
                    hit = _cache.get(name)
                if hit and now - hit[0] < _CACHE_SECONDS:
                    result[name] = hit[1]
                    continue
            elif fn in fingerprints:
                try:
                    key, newest = fingerprints[fn]()
                except Exception:  # a fingerprint that fails only costs the gathering it would have saved
                    key, newest = None, 0
                # a file changed within the timestamps' resolution may change again unseen: not trusted next time
                fp = key if key is not None and time.time() - newest > RACY_SECONDS else None
                memo = _memo.get(name)
                if key is not None and memo is not None and memo[0] is fn and memo[1] == key:
                    result[name] = memo[2]
                    continue
            box: dict = {}

            def run(fn=fn, box=box):
                try:
                    box["value"] = fn()
                except BaseException as e:  # reported below, never raised into the run
                    box["error"] = f"{type(e).__name__}: {e}"

            try:
                th = threading.Thread(target=run, daemon=True, name=f"mltrack-env-{name}")
                th.start()
            except RuntimeError:  # no new threads at this point of interpreter shutdown: run it here
                th = None
                run()
            jobs[name] = (th, box, cacheable, fp, fn)
        deadline = time.monotonic() + timeout
        for name, (th, box, cacheable, fp, fn) in jobs.items():
            if th is not None:
                th.join(max(0.0, deadline - time.monotonic()))
            if "value" in box:
                result[name] = box["value"]
                if not cached:  # a look that leaves the caches as they are
                    pass
                elif cacheable:
                    with _cache_lock:
                        _cache[name] = (now, box["value"])
                elif fp is not None:
                    _memo[name] = (fn, fp, box["value"])
                else:
                    _memo.pop(name, None)
            elif "error" in box:
                errors[name] = box["error"]
            else:
                errors[name] = f"timed out after {timeout:g} s"
    if errors:
        result["errors"] = errors
    # the order of a plain run: gatherers in registration order (environment.json sorts its keys anyway)
    return {k: result[k] for k in [*_gatherers, "errors"] if k in result}


def environment_files(env: dict) -> list[tuple[str, bytes]]:
    env = json.loads(json.dumps(env, default=str))
    files = []
    patch = env.get("git", {}).pop("_patch", None) if isinstance(env.get("git"), dict) else None
    local = env.get("local_modules", {}).pop("_files", {}) if isinstance(env.get("local_modules"), dict) else {}
    files.append(("environment.json", json.dumps(env, indent=1, sort_keys=True).encode("utf-8")))
    if patch:
        files.append(("git.patch", patch.encode("utf-8", "replace")))
    for rel, text in sorted(local.items()):
        files.append(("modules/" + rel.replace(os.sep, "/"), text.encode("utf-8")))
    return files


#: A cached environment's files are uploaded again after this long (refreshing their blobs' grace period).
REUPLOAD_SECONDS = 1800.0

_last: dict = {}  # the last gathered environment: {"pass", "env", "key"}
_stored: dict = {}  # the last stored environment files: {"backend", "key", "items", "meta", "at"}


def _environment_now(pass_id) -> tuple[dict, tuple]:
    """The environment and a key that is the same exactly when every part of it is the same object as before.
    Jobs run in the same writer pass (``pass_id``) share one look: they run within milliseconds of each other."""
    with _memo_lock:
        if pass_id is not None and _last.get("pass") == pass_id:
            return _last["env"], _last["key"]
        env = gather()
        key = tuple((k, id(v)) for k, v in env.items() if k != "errors") + tuple(sorted(env.get("errors", {}).items()))
        # env holds the parts the key names by id, so none of them can be freed (and its id reused) meanwhile
        _last.update({"pass": pass_id, "env": env, "key": key})
        return env, key


def environment_artifact(run_id: str, backend, writer=None) -> Callable[[], dict]:
    """A deferred job for the writer: gather, store the files, return the artifact item of a batch.

    Gathering is amortised: the parts whose fingerprint did not change are reused (:func:`gather`), jobs of one
    writer pass share one look, and an environment identical to the one stored last is not serialised, hashed or
    uploaded again — the run's artifact names the same files (content-addressed, so this is what storing them
    again would give)."""

    def capture_environment() -> dict:
        # the pid too: a forked child's writer counts its passes from 0 again
        env, key = _environment_now((id(writer), os.getpid(), writer.passes) if writer is not None else None)
        with _memo_lock:
            hit = _stored
            if hit.get("backend") is not None and hit["backend"]() is backend and hit["key"] == key and \
                    time.monotonic() - hit["at"] < REUPLOAD_SECONDS:
                items, meta = hit["items"], hit["meta"]
            else:
                items = []
                for rel, data in environment_files(env):
                    sha, size = backend.put_bytes(data)
                    media = ("application/json" if rel.endswith(".json") else "text/x-diff" if rel.endswith(".patch")
                             else "text/x-python")
                    items.append({"path": rel, "sha256": sha, "size": size, "media_type": media})
                meta = {"errors": env.get("errors", {})} if env.get("errors") else {}
                _stored.clear()
                _stored.update({"backend": weakref.ref(backend), "key": key, "items": items, "meta": meta,
                                "at": time.monotonic()})
        return {"artifacts": [{"run_id": run_id, "name": "environment", "type": "environment",
                               "metadata": json.loads(json.dumps(meta)), "files": [dict(i) for i in items]}]}

    return capture_environment
