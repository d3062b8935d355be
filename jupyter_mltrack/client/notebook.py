"""Which notebook is this kernel running, and snapshots of what ran.

Identification, in order: a manual override (:func:`set_notebook` or ``MLTRACK_NOTEBOOK``), VS Code's
``__vsc_ipynb_file__``, the Jupyter server's sessions API matched on this kernel's id (right even after a rename),
and ``JPY_SESSION_NAME`` (set by jupyter_server when it starts the kernel; stale after a rename, so only used when
the file exists). When all fail, one line says so and the snapshot holds the execution history alone.

A snapshot is the run's ``notebook`` artifact with, each labelled in its metadata:
``history.ipynb`` — the cells in the order they ran in this kernel, with execution counts and text results;
``<name>.ipynb`` — the notebook file as saved on disk; ``cell.py`` — the source of the tracked cell.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_override: str | None = None
_cache: tuple[float, str | None, str] | None = None
_CACHE_SECONDS = 10.0
_warned = False


def set_notebook(path: str | os.PathLike | None) -> None:
    """Tell jupyter_mltrack which notebook file this kernel runs (``None`` to detect it again)."""
    global _override, _cache
    _override = os.path.abspath(os.fspath(path)) if path is not None else None
    _cache = None


def _kernel_id() -> str | None:
    try:
        from ipykernel.connect import get_connection_file

        name = os.path.basename(get_connection_file())
    except Exception:
        return None
    if name.startswith("kernel-") and name.endswith(".json"):
        return name[len("kernel-") : -len(".json")]
    return None


def _from_sessions_api(kernel_id: str, timeout: float = 1.0) -> str | None:
    import requests

    try:
        from jupyter_server.serverapp import list_running_servers
    except Exception:
        return None
    for info in list_running_servers():
        url = info.get("url", "")
        token = info.get("token") or os.environ.get("JUPYTERHUB_API_TOKEN") or ""
        headers = {"Authorization": f"token {token}"} if token else {}
        try:
            r = requests.get(url.rstrip("/") + "/api/sessions", headers=headers, timeout=timeout)
            if r.status_code != 200:
                continue
            for s in r.json():
                if (s.get("kernel") or {}).get("id") == kernel_id:
                    rel = s.get("path") or (s.get("notebook") or {}).get("path")
                    if not rel:
                        continue
                    root = info.get("root_dir") or info.get("notebook_dir") or ""
                    p = os.path.join(root, rel) if root else rel
                    return os.path.abspath(p)
        except Exception:
            continue
    return None


def find_notebook(use_server: bool = True) -> tuple[str | None, str]:
    """(path, how) — ``how`` names the method that worked, or lists what was tried when nothing did."""
    global _cache
    if _override:
        return _override, "set_notebook"
    env = os.environ.get("MLTRACK_NOTEBOOK")
    if env:
        return os.path.abspath(env), "MLTRACK_NOTEBOOK"
    try:
        ip = _ipython()
        vsc = ip.user_ns.get("__vsc_ipynb_file__") if ip is not None else None
    except Exception:
        vsc = None
    if vsc:
        return os.path.abspath(vsc), "vscode"
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < _CACHE_SECONDS and (_cache[1] or not use_server):
        return _cache[1], _cache[2]
    tried = ["set_notebook", "MLTRACK_NOTEBOOK", "VS Code"]
    if use_server:
        kid = _kernel_id()
        if kid:
            p = _from_sessions_api(kid)
            if p:
                _cache = (now, p, "jupyter-sessions")
                return p, "jupyter-sessions"
            tried.append("Jupyter server sessions")
    jpy = os.environ.get("JPY_SESSION_NAME")
    if jpy:
        p = jpy if os.path.isabs(jpy) else os.path.abspath(jpy)
        if p.endswith(".ipynb") and os.path.isfile(p):
            _cache = (now, p, "JPY_SESSION_NAME")
            return p, "JPY_SESSION_NAME"
        tried.append(f"JPY_SESSION_NAME ({jpy} not found)")
    else:
        tried.append("JPY_SESSION_NAME")
    how = "tried " + ", ".join(tried)
    if use_server:
        _cache = (now, None, how)
    return None, how


def current_source() -> str:
    """The run's ``source``: the notebook path when cheaply known, else the script being run."""
    if _ipython() is not None:
        p, _ = find_notebook(use_server=False)
        return p or ""
    main = sys.modules.get("__main__")
    f = getattr(main, "__file__", None)
    return os.path.abspath(f) if f else (sys.argv[0] if sys.argv and sys.argv[0] else "")


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def history_cells(ip, limit_output: int = 10_000) -> list[dict]:
    """The cells run in this kernel so far: [{source, execution_count, output}] — captured synchronously."""
    cells = []
    out_ns = ip.user_ns.get("Out", {}) if ip is not None else {}
    try:
        rows = list(ip.history_manager.get_range(session=0, start=1, stop=None, raw=True, output=False))
    except Exception:
        rows = [(0, i, src) for i, src in enumerate(ip.user_ns.get("In", [])[1:], 1)]
    for _session, line, source in rows:
        text = None
        if line in out_ns:
            try:
                text = repr(out_ns[line])
            except Exception as e:  # a broken __repr__ must not break the snapshot
                text = f"<repr failed: {e!r}>"
            if len(text) > limit_output:
                text = text[:limit_output] + "\n… (truncated)"
        cells.append({"source": source, "execution_count": line, "output": text})
    return cells


def history_notebook(cells: list[dict], kernel_name: str = "python3") -> bytes:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": ".".join(map(str, sys.version_info[:3]))}
    nb.metadata["mltrack"] = {"snapshot": "history",
                              "note": "cells in the order they ran in the kernel, with their execution counts"}
    for c in cells:
        cell = nbformat.v4.new_code_cell(source=c["source"], execution_count=c["execution_count"])
        if c.get("output") is not None:
            cell.outputs.append(nbformat.v4.new_output(
                "execute_result", data={"text/plain": c["output"]}, execution_count=c["execution_count"]))
        nb.cells.append(cell)
    return nbformat.writes(nb).encode("utf-8")


def capture(cell_source: str | None = None) -> dict:
    """Collect, in the cell's thread, what a snapshot needs (cheap); the writer thread builds the files."""
    global _warned
    ip = _ipython()
    path, how = find_notebook()
    saved = None
    if path:
        try:
            saved = Path(path).read_bytes()
        except OSError as e:
            how += f" (file unreadable: {e})"
            saved = None
    elif not _warned:
        _warned = True
        print(
            "jupyter_mltrack: could not identify this notebook's file (" + how + "); runs keep the execution "
            "history only — call mlt.set_notebook('name.ipynb') to name it.",
            file=sys.stderr,
        )
    kernel_name = os.environ.get("MLTRACK_KERNEL_NAME", "python3")
    return {
        "path": path, "how": how, "saved": saved,
        "history": history_cells(ip) if ip is not None else [],
        "cell": cell_source, "kernel_name": kernel_name,
    }


def snapshot_artifact(run_id: str, snap: dict[str, Any], backend):
    """A deferred writer job storing the snapshot as the run's ``notebook`` artifact."""

    def capture_notebook() -> dict:
        files, labels = [], {}
        if snap["history"]:
            files.append(("history.ipynb", history_notebook(snap["history"], snap["kernel_name"])))
            labels["history.ipynb"] = "execution history"
        if snap["saved"] is not None:
            name = os.path.basename(snap["path"])
            if name == "history.ipynb":
                name = "saved-history.ipynb"
            files.append((name, snap["saved"]))
            labels[name] = "saved file"
        if snap.get("cell"):
            files.append(("cell.py", snap["cell"].encode("utf-8")))
            labels["cell.py"] = "tracked cell"
        items = []
        for rel, data in files:
            sha, size = backend.put_bytes(data)
            mt = "application/x-ipynb+json" if rel.endswith(".ipynb") else "text/x-python"
            items.append({"path": rel, "sha256": sha, "size": size, "media_type": mt})
        if not items:
            return {}
        meta = {"notebook_path": snap["path"], "identified_by": snap["how"], "files": labels}
        return {"artifacts": [{"run_id": run_id, "name": "notebook", "type": "notebook", "metadata": meta,
                               "files": items}]}

    return capture_notebook
