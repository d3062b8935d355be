"""Gatherers of the environment a run ran in: python, packages, git, host, hardware.

Each gatherer is a function returning a JSON-able dict; they run on the writer thread (never in the cell), each
under a time limit. A gatherer that fails or is too slow is reported in ``errors`` of the result and never breaks
the run. Register more with :func:`register_gatherer`. The result is stored as the run's ``environment`` artifact
(``environment.json``, plus ``git.patch`` when the work tree has uncommitted changes); it holds no per-run data
such as times, so identical environments are stored once.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import threading
import time
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


def _packages() -> dict:
    from importlib import metadata

    pkgs = {}
    for d in metadata.distributions():
        name = d.metadata["Name"]
        if name:
            pkgs[name] = d.version
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
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=3)
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


def _local_modules(cwd: str | None = None) -> dict:
    """Modules imported from the notebook's folder (not installed packages): their hashes, whether git knows them
    and whether they differ from the committed version. The files that differ are stored with the environment."""
    import hashlib
    import subprocess

    root = os.path.realpath(cwd or os.getcwd())
    skip = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, getattr(sys, "exec_prefix", sys.prefix))}
    found = {}
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None)
        if not f or not f.endswith(".py"):
            continue
        real = os.path.realpath(f)
        if not real.startswith(root + os.sep) or any(real.startswith(p + os.sep) for p in skip):
            continue
        if "site-packages" in real or "dist-packages" in real:
            continue
        found[os.path.relpath(real, root)] = name
    if not found:
        return {}
    status = {}
    try:
        r = subprocess.run(["git", "status", "--porcelain", "--", *sorted(found)], cwd=root, capture_output=True,
                           text=True, timeout=3)
        in_repo = r.returncode == 0
        for line in r.stdout.splitlines():
            status[line[3:].strip()] = line[:2].strip()
    except (OSError, subprocess.SubprocessError):
        in_repo = False
    modules, changed = [], {}
    for rel, name in sorted(found.items()):
        try:
            data = open(os.path.join(root, rel), "rb").read()
        except OSError:
            continue
        st = status.get(rel, "")
        entry = {"module": name, "path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                 "git": ("untracked" if st == "??" else "modified" if st else "committed") if in_repo else "no git"}
        modules.append(entry)
        if entry["git"] != "committed":
            changed[rel] = data.decode("utf-8", "replace")
    return {"modules": modules, "_files": changed}


register_gatherer("python", _python, cacheable=True)
register_gatherer("local_modules", _local_modules)
register_gatherer("platform", _platform, cacheable=True)
register_gatherer("host", _host, cacheable=True)
register_gatherer("packages", _packages, cacheable=True)
register_gatherer("hardware", _hardware, cacheable=True)
register_gatherer("git", _git)

def gather(timeout: float | None = None) -> dict:
    """Run every gatherer in parallel, each within ``timeout`` (default :data:`GATHERER_TIMEOUT`); failures and
    timeouts are listed in ``errors``. Plain daemon threads, not an executor: this also runs at interpreter exit
    (a short script's final flush), when executors refuse new work."""
    timeout = GATHERER_TIMEOUT if timeout is None else timeout
    result: dict = {}
    errors: dict[str, str] = {}
    jobs: dict[str, tuple[threading.Thread | None, dict, bool]] = {}
    now = time.monotonic()
    for name, (fn, cacheable) in list(_gatherers.items()):
        if cacheable:
            with _cache_lock:
                hit = _cache.get(name)
            if hit and now - hit[0] < _CACHE_SECONDS:
                result[name] = hit[1]
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
        jobs[name] = (th, box, cacheable)
    deadline = time.monotonic() + timeout
    for name, (th, box, cacheable) in jobs.items():
        if th is not None:
            th.join(max(0.0, deadline - time.monotonic()))
        if "value" in box:
            result[name] = box["value"]
            if cacheable:
                with _cache_lock:
                    _cache[name] = (now, box["value"])
        elif "error" in box:
            errors[name] = box["error"]
        else:
            errors[name] = f"timed out after {timeout:g} s"
    if errors:
        result["errors"] = errors
    return result


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


def environment_artifact(run_id: str, backend) -> Callable[[], dict]:
    """A deferred job for the writer: gather, store the files, return the artifact item of a batch."""

    def capture_environment() -> dict:
        env = gather()
        items = []
        for rel, data in environment_files(env):
            sha, size = backend.put_bytes(data)
            media = ("application/json" if rel.endswith(".json") else "text/x-diff" if rel.endswith(".patch")
                     else "text/x-python")
            items.append({"path": rel, "sha256": sha, "size": size, "media_type": media})
        meta = {"errors": env.get("errors", {})} if env.get("errors") else {}
        return {"artifacts": [{"run_id": run_id, "name": "environment", "type": "environment",
                               "metadata": meta, "files": items}]}

    return capture_environment
