"""Which notebook is this kernel running, and snapshots of what ran.

Identification, in order: a manual override (:func:`set_notebook` or ``MLTRACK_NOTEBOOK``), VS Code's
``__vsc_ipynb_file__``, the Jupyter server's sessions API matched on this kernel's id (right even after a rename),
and ``JPY_SESSION_NAME`` (set by jupyter_server when it starts the kernel; stale after a rename, so only used when
the file exists). When all fail, one line says so and the snapshot holds the execution history alone.

A snapshot is the run's ``notebook`` artifact with, each labelled in its metadata:
``history.ipynb`` — the cells in the order they ran in this kernel, with execution counts and their outputs
(streams, results, displays and images — capped, an image shown again kept once — and errors) from IPython's output
history; ``<name>.ipynb`` — the notebook file as saved on disk (marked stale when it was saved before the tracked
cell ran); ``cell.py`` — the tracked cell as written; ``cell.ipynb`` — the tracked cell with its outputs.
"""

from __future__ import annotations

import json
import os
import sys
import time
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .streams import recorded_streams
from .cell_outputs import ARTIFACT_TAG, own_tagged_outputs, tagged_cells, tagged_outputs  # noqa: F401 (re-exported)
from .fingerprint import RACY_SECONDS, stat_key

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


def running_servers() -> list[dict]:
    """The Jupyter servers running on this machine, from their runtime files (``jpserver-<pid>.json`` whose process
    is alive) — what ``jupyter_server.serverapp.list_running_servers`` reads, without importing jupyter_server into
    the kernel (seconds of CPU taken from the user's cells on a busy machine)."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        folder = jupyter_runtime_dir()
        names = sorted(n for n in os.listdir(folder) if n.startswith("jpserver-") and n.endswith(".json"))
    except Exception:
        return []
    out = []
    for name in names:
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                info = json.load(f)
            os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out.append(info)
    return out


def _from_sessions_api(kernel_id: str, timeout: float = 1.0) -> str | None:
    servers = running_servers()
    if not servers:
        return None
    from .http import Session

    for info in servers:
        url = info.get("url", "")
        token = info.get("token") or os.environ.get("JUPYTERHUB_API_TOKEN") or ""
        headers = {"Authorization": f"token {token}"} if token else {}
        try:
            session = Session(headers)
            try:
                r = session.request("GET", url.rstrip("/") + "/api/sessions", timeout=timeout)
            finally:
                session.close()
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
    if _frontend_path:  # told by the JupyterLab extension (a path relative to the server's root)
        for candidate in (_frontend_path, os.path.join(os.getcwd(), os.path.basename(_frontend_path))):
            if os.path.isabs(candidate) and os.path.isfile(candidate):
                return os.path.abspath(candidate), "jupyterlab"
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
    """The cells run in this kernel so far: [{source, execution_count, output, outputs, error, cell_id}] — captured
    synchronously (cheap: ``outputs`` is IPython's own list of the cell's outputs, read later on the writer thread)."""
    cells = []
    out_ns = ip.user_ns.get("Out", {}) if ip is not None else {}
    hm = getattr(ip, "history_manager", None)
    recorded = getattr(hm, "outputs", None)  # IPython ≥ 9: every cell's outputs
    errors = getattr(hm, "exceptions", None) or {}
    try:
        rows = list(ip.history_manager.get_range(session=0, start=1, stop=None, raw=True, output=False))
    except Exception:
        rows = [(0, i, src) for i, src in enumerate(ip.user_ns.get("In", [])[1:], 1)]
    for _session, line, source in rows:
        cell = {"source": source, "execution_count": line, "output": None}
        if recorded is not None:
            cell["outputs"] = recorded.get(line) or []
            if line in errors:
                cell["error"] = errors[line]
        else:  # IPython 8: what the cell printed (client/streams.py), then its result
            streams = recorded_streams(line)
            if line in out_ns:
                try:
                    text = repr(out_ns[line])
                except Exception as e:  # a broken __repr__ must not break the snapshot
                    text = f"<repr failed: {e!r}>"
                if len(text) > limit_output:
                    text = text[:limit_output] + "\n… (truncated)"
                cell["output"] = text
            if streams:
                result = [] if cell["output"] is None else [
                    SimpleNamespace(output_type="execute_result", bundle={"text/plain": cell["output"]})]
                cell["outputs"] = streams + result
        if line in CELL_IDS:
            cell["cell_id"] = CELL_IDS[line]
        cells.append(cell)
    return cells


#: The frontend's cell id of each execution (``In[n]`` → id), when the frontend sent one: history cells name the
#: notebook cell they ran, so two histories can be aligned cell by cell.
CELL_IDS: dict[int, str] = {}

#: What a history snapshot keeps of one output and of one cell's outputs; more is replaced by a note.
MAX_OUTPUT_IN_HISTORY = 512_000
MAX_CELL_OUTPUTS_IN_HISTORY = 1_000_000
#: The first ``In[n]`` that showed each image (by hash): an image shown again is kept once.
_first_shown: dict[str, int] = {}
_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


def notebook_outputs(count: int, recorded, error: dict | None = None, dedupe: bool = True) -> list[dict]:
    """nbformat outputs from IPython's output history of ``In[count]`` (``HistoryOutput``s) and its error. With
    ``dedupe``, an image already shown (in this cell or an earlier one) is a note naming the first ``In[n]``."""
    import hashlib

    outs: list[dict] = []
    used = 0
    shown_here: set[str] = set()
    for o in recorded or []:
        kind, bundle = getattr(o, "output_type", ""), getattr(o, "bundle", {}) or {}
        if kind in ("out_stream", "err_stream"):
            name = "stdout" if kind == "out_stream" else "stderr"
            text = "".join(bundle.get("stream", []))
            if outs and outs[-1]["output_type"] == "stream" and outs[-1]["name"] == name:
                outs[-1]["text"] += text
                continue
            out = {"output_type": "stream", "name": name, "text": text}
        else:
            try:
                data = json.loads(json.dumps(bundle, default=str))
            except (TypeError, ValueError):
                data = {"text/plain": str(bundle.get("text/plain", ""))}
            for mime in _IMAGES if dedupe else ():
                if mime in data:
                    raw = data[mime] if isinstance(data[mime], str) else json.dumps(data[mime])
                    digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()
                    first = _first_shown.setdefault(digest, count)
                    if first != count or digest in shown_here:
                        data = {"text/plain": f"[the same image as In[{first}]]"}
                        break
                    shown_here.add(digest)
            out = {"output_type": "display_data", "data": data, "metadata": {}}
            if kind == "execute_result":
                out = {"output_type": "execute_result", "execution_count": count, "data": data, "metadata": {}}
        size = len(json.dumps(out))
        if size > MAX_OUTPUT_IN_HISTORY or used + size > MAX_CELL_OUTPUTS_IN_HISTORY:
            kinds = ", ".join(sorted(out.get("data") or {"text": 1}))
            note = f"[jupyter_mltrack: a {size / 1e3:.0f} kB output ({kinds}) was left out of this snapshot]"
            out = ({"output_type": "stream", "name": out["name"], "text": note + "\n"} if out["output_type"] == "stream"
                   else dict(out, data={"text/plain": note}))
            size = len(note)
        used += size
        outs.append(out)
    if error:
        outs.append({"output_type": "error", "ename": str(error.get("ename", "")), "evalue": str(error.get("evalue", "")),
                     "traceback": [str(t) for t in error.get("traceback") or []]})
    return outs


def history_notebook(cells: list[dict], kernel_name: str = "python3") -> bytes:
    """The history as an nbformat 4.5 notebook (``tests/client/test_notebook.py`` validates it with nbformat).

    Written as plain JSON rather than with nbformat: this runs on the kernel's writer thread, and importing nbformat
    imports jsonschema, which with ``rfc3987-syntax`` installed (a dependency of Jupyter's own event schemas)
    compiles a grammar for about 3 s of CPU — time taken from the user's cells, and enough to outlast a kernel's
    shutdown grace period."""
    parts = []
    for c in cells:
        key = (c["execution_count"], c["source"], c.get("output"), len(c.get("outputs") or ()), "error" in c,
               c.get("cell_id"), "outputs" in c)
        frag = _history_cells_json.get(key)
        if frag is None:
            frag = _indented_json(_history_cell(c), 2)
            if len(_history_cells_json) >= 20_000:
                _history_cells_json.clear()
            _history_cells_json[key] = frag
        parts.append(frag)
    # exactly json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) (keys: cells < metadata < nbformat…)
    text = ('{\n "cells": ' + ("[\n  " + ",\n  ".join(parts) + "\n ]" if parts else "[]")
            + ',\n "metadata": ' + _indented_json(_history_metadata(kernel_name), 1)
            + ',\n "nbformat": 4,\n "nbformat_minor": 5\n}\n')
    return text.encode("utf-8")


#: Each history cell's JSON by (execution_count, source, output): the history grows by a cell per tracked cell, and
#: only the new cells are encoded again.
_history_cells_json: dict[tuple, str] = {}


def _indented_json(obj, depth: int) -> str:
    """``obj`` as it appears nested ``depth`` levels deep in ``json.dumps(…, indent=1, sort_keys=True)`` (strings
    never hold a raw newline in JSON, so every newline is the encoder's own)."""
    return json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False).replace("\n", "\n" + " " * depth)


def _history_cell(c: dict) -> dict:
    outputs = []
    if "outputs" in c:
        outputs = notebook_outputs(c["execution_count"], c["outputs"], c.get("error"))
    elif c.get("output") is not None:
        outputs.append({"output_type": "execute_result", "execution_count": c["execution_count"],
                        "data": {"text/plain": c["output"]}, "metadata": {}})
    # deterministic: the same history is the same bytes, stored once
    metadata = {"mltrack": {"cell_id": c["cell_id"]}} if c.get("cell_id") else {}
    return {"cell_type": "code", "execution_count": c["execution_count"], "id": f"run-{c['execution_count']}",
            "metadata": metadata, "outputs": outputs, "source": c["source"]}


def _history_metadata(kernel_name: str) -> dict:
    return {"kernelspec": {"name": kernel_name, "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python", "version": ".".join(map(str, sys.version_info[:3]))},
            "mltrack": {"snapshot": "history", "note": "cells in the order they ran in the kernel, with their execution "
                                                       "counts"}}


def tracked_cell_notebook(snap: dict) -> bytes:
    """``cell.ipynb``: the tracked cell as written (magic line included) with its outputs, every image kept."""
    count = snap.get("cell_count")
    cell = {"cell_type": "code", "execution_count": count, "id": f"run-{count or 0}",
            "metadata": {"mltrack": {"cell_id": snap["cell_id"]}} if snap.get("cell_id") else {},
            "outputs": notebook_outputs(count or 0, snap.get("cell_outputs"), snap.get("cell_error"), dedupe=False),
            "source": snap.get("cell") or ""}
    nb = {"cells": [cell], "metadata": dict(_history_metadata(snap.get("kernel_name", "python3")),
                                            mltrack={"snapshot": "tracked cell"}),
          "nbformat": 4, "nbformat_minor": 5}
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def capture(cell_source: str | None = None, execution_count: int | None = None, started: float | None = None) -> dict:
    """Collect, in the cell's thread, what a snapshot needs (cheap); the writer thread builds the files. ``started``:
    when the tracked cell began (a saved file older than that is marked stale)."""
    global _warned
    ip = _ipython()
    path, how = find_notebook()
    saved, saved_key, reused = None, None, False
    if path:
        key = (path, stat_key(path))
        if key[1] is not None and _saved_seen.get("key") == key and time.time() - key[1][0] / 1e9 > RACY_SECONDS:
            saved_key, reused = key, True  # the file the previous snapshot read, unchanged: not read again
        else:
            try:
                saved = Path(path).read_bytes()
            except OSError as e:
                how += f" (file unreadable: {e})"
                saved = None
            else:
                if key[1] is not None and stat_key(path) == key[1]:  # not changed while it was read
                    saved_key = key
                    _saved_seen["key"] = key
    elif not _warned:
        _warned = True
        print(
            "jupyter_mltrack: could not identify this notebook's file (" + how + "); runs keep the execution "
            "history only — call mlt.set_notebook('name.ipynb') to name it.",
            file=sys.__stderr__,  # the kernel's log, not the output of the cell that happens to run now
        )
    kernel_name = os.environ.get("MLTRACK_KERNEL_NAME", "python3")
    saved_stat = stat_key(path) if path else None
    stale = bool(started is not None and saved_stat is not None and saved_stat[0] / 1e9 < started)
    history = history_cells(ip) if ip is not None else []
    this = next((c for c in history if c["execution_count"] == execution_count), {}) if execution_count else {}
    return {
        "path": path, "how": how, "saved": saved, "saved_key": saved_key, "saved_reused": reused,
        "saved_stale": stale, "history": history,
        "cell": cell_source, "kernel_name": kernel_name, "cell_count": execution_count,
        "cell_outputs": this.get("outputs"), "cell_error": this.get("error"), "cell_id": this.get("cell_id"),
    }


#: Outputs bigger than this are replaced by a note in stored snapshots (content addressing already stores an
#: unchanged notebook once; this keeps one huge image or table from being stored again with every run).
MAX_OUTPUT_BYTES = 2_000_000
#: The comm target the JupyterLab extension registers to answer "send me the live notebook".
COMM_TARGET = "jupyter_mltrack"


def slim_notebook(data: bytes) -> bytes:
    """The notebook without widget state (plotly's FigureWidget state alone carries ~5 MB of plotly.js) and with
    oversized outputs replaced by a note. Unparseable input is returned unchanged."""
    try:
        nb = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data
    changed = False
    md = nb.get("metadata") or {}
    if "widgets" in md:
        del md["widgets"]
        changed = True
    for cell in nb.get("cells", []):
        outs = cell.get("outputs")
        if not outs:
            continue
        for i, out in enumerate(outs):
            d = out.get("data")
            if not d:
                continue
            if "application/vnd.jupyter.widget-state+json" in d:
                del d["application/vnd.jupyter.widget-state+json"]
                changed = True
            size = len(json.dumps(d))
            if size > MAX_OUTPUT_BYTES:
                kinds = ", ".join(sorted(d))
                out["data"] = {"text/plain": f"[jupyter_mltrack: a {size / 1e6:.1f} MB output ({kinds}) was left out "
                                             "of this snapshot]"}
                changed = True
    if not changed:
        return data
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _media(rel: str) -> str:
    import mimetypes

    if rel.endswith(".ipynb"):
        return "application/x-ipynb+json"
    if rel.endswith(".py"):
        return "text/x-python"
    return mimetypes.guess_type(rel)[0] or "application/octet-stream"


#: {"key"}: the saved file the last snapshot read in a cell — (path, stat key)
_saved_seen: dict = {}
#: {"key", "backend", "item", "tagged", "at"}: what the writer stored for that file (its file item and its tagged
#: cells), reused while the file is unchanged
_saved_stored: dict = {}


def snapshot_artifact(run_id: str, snap: dict[str, Any], backend, live: bytes | None = None):
    """A deferred writer job storing the snapshot as a version of the run's ``notebook`` artifact (with the live
    document when the frontend sent it), plus an artifact of the run's own cell when it is tagged
    ``mltrack-artifact`` (``client/cell_outputs.py``).

    What the previous snapshot stored is reused: the saved file when its stat did not change (not read, parsed,
    slimmed or uploaded again), bytes already stored through this backend (``put_bytes_once``), and the history's
    cells already encoded."""
    from .backend import REUPLOAD_SECONDS, put_bytes_once

    def capture_notebook() -> dict:
        files, labels = [], {}
        name = os.path.basename(snap["path"]) if snap.get("path") else None
        saved, reuse = snap["saved"], None
        if snap.get("saved_reused"):
            st = _saved_stored
            if st.get("key") == snap["saved_key"] and st["backend"]() is backend and \
                    time.monotonic() - st["at"] < REUPLOAD_SECONDS:
                reuse = st
            else:  # stored through another backend, or not at all: read it now
                try:
                    saved = Path(snap["path"]).read_bytes()
                except OSError:
                    saved = None
        if live is not None:
            live_name = "live-" + (name or "notebook.ipynb")
            files.append((live_name, slim_notebook(live)))
            labels[live_name] = "live document"
        if snap["history"]:
            files.append(("history.ipynb", history_notebook(snap["history"], snap["kernel_name"])))
            labels["history.ipynb"] = "execution history"
        saved_name = None
        if saved is not None or reuse is not None:
            if name in ("history.ipynb", "cell.py", "cell.ipynb") or name.startswith("live-"):
                name = "saved-" + name
            saved_name = name
            files.append((name, None if reuse is not None else slim_notebook(saved)))
            labels[name] = "saved file"
        if snap.get("cell"):
            files.append(("cell.py", snap["cell"].encode("utf-8")))
            labels["cell.py"] = "tracked cell"
            if snap.get("cell_count") is not None:
                files.append(("cell.ipynb", tracked_cell_notebook(snap)))
                labels["cell.ipynb"] = "tracked cell with its outputs"
        if not files:
            return {}

        def store(rel_files):
            items = []
            for rel, data in rel_files:
                if data is None:  # the saved file, unchanged since the previous snapshot stored it
                    items.append(dict(reuse["item"], path=rel))
                    continue
                sha, size = put_bytes_once(backend, data)
                items.append({"path": rel, "sha256": sha, "size": size, "media_type": _media(rel)})
            return items

        meta = {"notebook_path": snap["path"], "identified_by": snap["how"], "files": labels}
        if saved_name is not None and snap.get("saved_stale"):
            meta["stale"] = [saved_name]  # saved before the tracked cell ran: it does not show this run
        items = store(files)
        arts = [{"run_id": run_id, "name": "notebook", "type": "notebook", "metadata": meta, "files": items}]
        if live is not None:
            index = tagged_cells(live)
        elif reuse is not None:
            index = reuse["tagged"]
        elif saved is not None:
            index = tagged_cells(saved)
        else:
            index = []
        # only the run's own cell, with this execution's outputs (nbclient's saved file holds older ones)
        outputs = (notebook_outputs(snap["cell_count"] or 0, snap.get("cell_outputs"), snap.get("cell_error"),
                                    dedupe=False) if snap.get("cell_outputs") is not None else None)
        tagged = [(n, store(f), m) for n, f, m in own_tagged_outputs(index, snap.get("cell_id"), snap.get("cell"),
                                                                     outputs)]
        if live is None and saved is not None and snap.get("saved_key") is not None:
            _saved_stored.clear()
            _saved_stored.update({"key": snap["saved_key"], "backend": weakref.ref(backend), "at": time.monotonic(),
                                  "item": next(i for i in items if i["path"] == saved_name), "tagged": index})
        for art_name, art_items, art_meta in tagged:
            art_meta = dict(art_meta, **{"from": "live document" if live is not None else "saved file"})
            arts.append({"run_id": run_id, "name": art_name, "type": "cell-output", "metadata": art_meta,
                         "files": [dict(i) for i in art_items]})
        return {"artifacts": arts}

    return capture_notebook


def request_live_snapshot(run_id: str, snap: dict[str, Any], backend, writer) -> bool:
    """Ask the JupyterLab frontend (the extension's comm target) for the live document — unsaved edits and the
    outputs as they are once the cell finishes. Its answer arrives when the kernel is idle again and is stored as
    a new version of the run's ``notebook`` artifact. Returns False when there is no kernel/frontend to ask."""
    global _frontend_path
    ip = _ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return False
    try:
        from comm import create_comm
    except ImportError:  # pragma: no cover - ipykernel ≥ 6.18 depends on comm
        return False
    try:
        c = create_comm(target_name=COMM_TARGET, data={"request": "snapshot", "run_id": run_id, "version": 1})
    except Exception:
        return False

    def on_msg(msg) -> None:
        global _frontend_path
        data = (msg.get("content") or {}).get("data") or {}
        try:
            if data.get("path"):
                _frontend_path = str(data["path"])
            nb = data.get("notebook")
            if nb is not None:
                live = (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
                writer.defer(snapshot_artifact(run_id, dict(snap, how=snap["how"] + "; live document from JupyterLab"),
                                               backend, live=live))
        finally:
            c.close()

    c.on_msg(on_msg)
    return True


_frontend_path: str | None = None
