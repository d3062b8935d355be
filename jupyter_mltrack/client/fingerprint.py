"""Cheap fingerprints of what the environment gatherers read: stat calls and dictionary walks (one ``git ls-files``
when the index changed, to know which files to look at).

A gatherer whose fingerprint is unchanged would return what it returned last time, so ``environment.gather`` reuses
that. Each fingerprint is ``(key, newest)``: ``key`` is a hashable summary that changes whenever the gatherer's
result may change, ``newest`` the newest modification time (seconds) among the *files* whose content the key
stands for. A file modified within :data:`RACY_SECONDS` of the look may be modified again without its stat changing
(timestamps have a coarse resolution), so such a key is not trusted: the gatherer runs again next time.

``None`` as the key means "cannot tell cheaply" (``GIT_DIR`` set, a huge repository…): the gatherer always runs.
"""

from __future__ import annotations

import operator
import os
import sys
import threading

#: A key whose files changed this recently is not trusted (see the module docstring).
RACY_SECONDS = 2.0
#: Work trees with more tracked files than this are not fingerprinted (git runs every time, as it would anyway).
MAX_TRACKED_FILES = 20_000
#: Environment variables that change what git looks at: with any of them set, git runs every time.
_GIT_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
             "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM")

_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def stat_key(path: str) -> tuple | None:
    """What identifies a file's content without reading it: (mtime_ns, size, inode, mode); None if absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)


class _Look:
    """Collects stat keys and the newest mtime of the files among them."""

    def __init__(self) -> None:
        self.keys: list = []
        self.newest = 0

    def file(self, path: str) -> tuple | None:
        k = stat_key(path)
        self.keys.append(k)
        if k is not None and k[0] > self.newest:
            self.newest = k[0]
        return k

    def directory(self, path: str) -> None:  # new or removed entries change a directory's mtime
        self.keys.append(stat_key(path))


# -- git ------------------------------------------------------------------------------------------------------------


def _find_git(start: str) -> tuple[str, str, str] | None:
    """(work tree top, git dir, common dir) of the repository ``start`` is in, by looking for ``.git`` upwards."""
    d = start
    while True:
        dot = os.path.join(d, ".git")
        if os.path.isdir(dot):
            return d, dot, dot
        if os.path.isfile(dot):  # a linked work tree or a submodule: "gitdir: <path>"
            try:
                with open(dot, encoding="utf-8") as f:
                    line = f.read().strip()
            except OSError:
                return None
            if not line.startswith("gitdir:"):
                return None
            gitdir = os.path.normpath(os.path.join(d, line[len("gitdir:"):].strip()))
            common = gitdir
            try:
                with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as f:
                    common = os.path.normpath(os.path.join(gitdir, f.read().strip()))
            except OSError:
                pass
            return d, gitdir, common
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


#: (top, index stat key) → the tracked files' paths and their folders, listed by ``git ls-files`` once per index
_tracked: dict[str, tuple[tuple | None, list[str], list[str]]] = {}


def _tracked_files(top: str, index_key: tuple | None) -> tuple[list[str], list[str]] | None:
    import subprocess

    hit = _tracked.get(top)
    if hit is not None and hit[0] == index_key and index_key is not None:
        return hit[1], hit[2]
    try:
        r = subprocess.run(["git", "--no-optional-locks", "ls-files", "-z"], cwd=top, capture_output=True,
                           timeout=3)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    names = [n for n in r.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    if len(names) > MAX_TRACKED_FILES:
        return None
    files = [os.path.join(top, n) for n in names]
    dirs = sorted({os.path.dirname(f) for f in files} | {top})
    _tracked[top] = (index_key, files, dirs)
    return files, dirs


def git_fingerprint(cwd: str | None = None) -> tuple:
    """What ``git rev-parse`` / ``status`` / ``diff HEAD`` / ``config`` answer from ``cwd`` depends on: where the
    repository is, HEAD and the ref it names, the index, the config, the excludes, and every tracked file (and the
    folders holding them, for new untracked files)."""
    if any(v in os.environ for v in _GIT_VARS):
        return None, 0
    start = os.path.realpath(cwd or os.getcwd())
    found = _find_git(start)
    if found is None:
        return ("no repository", start), 0
    top, gitdir, common = found
    look = _Look()
    look.file(os.path.join(gitdir, "HEAD"))
    try:
        with open(os.path.join(gitdir, "HEAD"), encoding="utf-8") as f:
            head = f.read().strip()
    except OSError:
        head = None
    if head and head.startswith("ref:"):
        look.file(os.path.join(common, head[4:].strip()))
    for rel in ("packed-refs", "config", os.path.join("info", "exclude")):
        look.file(os.path.join(common, rel))
    index_key = look.file(os.path.join(gitdir, "index"))
    tracked = _tracked_files(top, index_key)
    if tracked is None:
        return None, 0
    files, dirs = tracked
    for f in files:
        look.file(f)
    for d in dirs:
        look.directory(d)
    return (start, top, gitdir, head, tuple(look.keys)), look.newest / 1e9


# -- local modules --------------------------------------------------------------------------------------------------

_modules_seen: list = []  # the module objects of the last look, in sys.modules' order
_modules_files: list[tuple[str, str]] = []  # and their (name, __file__) where __file__ is a .py file
_real: dict[str, str] = {}  # __file__ → realpath (resolving symlinks is what made each run walk the disk)


_real_dirs: dict[str, str] = {}  # folder → realpath


def _realpath(f: str) -> str:
    """``f`` in its folder's real path, each folder resolved once: importing a library loads thousands of modules
    from a few hundred folders. The file itself is not resolved: a module file that is a symlink counts where it is
    imported from (a ``lstat`` per file was a third of a kernel's first environment capture, ~2,000 modules)."""
    folder, base = os.path.split(f)
    real_folder = _real_folder(folder)
    return real_folder + os.sep + base if real_folder != os.sep else os.sep + base


def _real_folder(folder: str) -> str:
    """``os.path.realpath(folder)`` from its parent's (remembered): one ``lstat`` per folder, not one per component
    of its path — a kernel's ~250 module folders share most of their ancestors."""
    hit = _real_dirs.get(folder)
    if hit is None:
        parent, name = os.path.split(folder)
        if not os.path.isabs(folder) or not name or name in (".", "..") or parent == folder:
            hit = os.path.realpath(folder)
        else:
            here = os.path.join(_real_folder(parent), name)
            hit = os.path.realpath(here) if os.path.islink(here) else here
        _real_dirs[folder] = hit
    return hit


def python_files() -> list[tuple[str, str]]:
    """(module name, path with its folder resolved) of every loaded module that comes from a ``.py`` file. The walk
    over ``sys.modules`` is redone only when its entries changed (identity of every module object)."""
    global _modules_seen, _modules_files
    with _lock:
        mods = list(sys.modules.items())
        values = [m for _, m in mods]
        if len(values) != len(_modules_seen) or not all(map(operator.is_, values, _modules_seen)):
            out = []
            for name, mod in mods:
                f = getattr(mod, "__file__", None)
                if not f or not isinstance(f, str) or not f.endswith(".py"):
                    continue
                real = _real.get(f)
                if real is None:
                    real = _real[f] = _realpath(f)
                out.append((name, real))
            _modules_seen, _modules_files = values, out
        return _modules_files


def local_files(root: str) -> list[tuple[str, str]]:
    """(module name, real path) of the loaded modules from ``.py`` files under ``root`` that are not installed
    (not under the interpreter's prefixes, not in site-packages)."""
    files = python_files()
    hit = _local_memo.get(root)
    if hit is not None and hit[0] is files:  # sys.modules unchanged since the last look from this folder
        return hit[1]
    skip = [os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, getattr(sys, "exec_prefix", sys.prefix)}]
    out = []
    for name, real in files:
        if not real.startswith(root + os.sep) or any(real.startswith(p) for p in skip):
            continue
        if "site-packages" in real or "dist-packages" in real:
            continue
        out.append((name, real))
    _local_memo.clear()
    _local_memo[root] = (files, out)
    return out


_local_memo: dict[str, tuple[list, list]] = {}


def local_modules_fingerprint(cwd: str | None = None) -> tuple:
    """The local module files (under ``cwd``, not installed) with their stats, plus the git state they are compared
    with."""
    root = os.path.realpath(cwd or os.getcwd())
    look = _Look()
    local = [(name, real, look.file(real)) for name, real in local_files(root)]
    gkey, gnewest = git_fingerprint(root) if local else (None, 0)
    if local and gkey is None:
        return None, 0
    return (root, tuple(local), gkey), max(look.newest / 1e9, gnewest)


# -- installed packages ---------------------------------------------------------------------------------------------


def packages_fingerprint() -> tuple:
    """``importlib.metadata.distributions()`` reads the folders on ``sys.path``: installing or removing a package
    adds or removes an entry (a ``.dist-info`` folder), which changes the folder's mtime."""
    look = _Look()
    path = tuple(p for p in sys.path if isinstance(p, str))
    for p in path:
        look.directory(os.path.abspath(p) if p else os.getcwd())
    return (path, os.getcwd() if "" in path else None, tuple(look.keys)), 0
