"""Compare two runs: their params, last metric values and notebook snapshots (cells, via nbdime).

Pure functions over what the store returns; no Jupyter server needed. Used by ``mlt.diff_runs``, the REST
``GET diff`` route and the sidebar's diff view.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

#: Which snapshot file to compare, best first: the live document, then the saved file, then the history.
SNAPSHOT_PREFERENCE = ("live document", "saved file", "execution history")


def _strip(nb: dict) -> dict:
    """Drop what differs between any two snapshots without meaning anything: cell ids, execution metadata."""
    import nbformat

    # nbformat joins multi-line sources and texts into strings, as nbdime expects
    nb = nbformat.reads(json.dumps(nb), as_version=nbformat.NO_CONVERT)
    for cell in nb.get("cells", []):
        cell.pop("id", None)
        md = cell.get("metadata", {})
        md.pop("execution", None)
        md.pop("collapsed", None)
        md.pop("scrolled", None)
    nb["metadata"] = {}
    return nb


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _outputs_text(cell: dict) -> str:
    parts = []
    for o in cell.get("outputs", []) or []:
        if o.get("output_type") == "stream":
            t = o.get("text", "")
            parts.append("".join(t) if isinstance(t, list) else t)
        elif o.get("output_type") in ("execute_result", "display_data"):
            data = o.get("data", {})
            t = data.get("text/plain", "")
            parts.append("".join(t) if isinstance(t, list) else t)
            parts.extend(sorted(k for k in data if k != "text/plain"))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "\n".join(parts)


def notebook_diff(nb_a: dict, nb_b: dict) -> list[dict]:
    """Cell-by-cell comparison: a list of ``{change, a, b, cell_type, source_a, source_b, source_diff,
    outputs_changed}`` in document order; ``change`` is unchanged, modified, added or removed; ``a``/``b`` are the
    cell indexes in each notebook (None where the cell does not exist)."""
    from nbdime import diff_notebooks

    a, b = _strip(nb_a), _strip(nb_b)
    cells_a, cells_b = a.get("cells", []), b.get("cells", [])
    ops: dict[int, list[dict]] = {}
    for d in diff_notebooks(a, b):
        if d.get("key") == "cells" and d.get("op") == "patch":
            for op in d["diff"]:
                ops.setdefault(op["key"], []).append(op)
    out: list[dict] = []
    ib = 0

    def added(cells):
        nonlocal ib
        for c in cells:
            out.append(_entry("added", None, ib, None, c))
            ib += 1

    removed: set[int] = set()
    for key, key_ops in ops.items():
        for op in key_ops:
            if op["op"] == "removerange":
                removed.update(range(key, key + op["length"]))
            elif op["op"] == "replace":
                removed.add(key)
    for ia in range(len(cells_a) + 1):
        patched = None
        for op in ops.get(ia, []):
            if op["op"] == "addrange":
                added(op["valuelist"])
            elif op["op"] == "patch":
                patched = op
            elif op["op"] == "replace":  # a cell replaced wholesale
                added([op["value"]])
        if ia == len(cells_a):
            break
        if ia in removed:
            out.append(_entry("removed", ia, None, cells_a[ia], None))
            continue
        cb = cells_b[ib] if ib < len(cells_b) else {}
        change = "modified" if patched is not None else "unchanged"
        e = _entry(change, ia, ib, cells_a[ia], cb)
        if change == "modified" and not e["source_diff"] and not e["outputs_changed"]:
            e["change"] = "unchanged"  # only metadata moved
        out.append(e)
        ib += 1
    return out


def _entry(change: str, ia, ib, ca: dict | None, cb: dict | None) -> dict:
    sa = _source(ca) if ca else ""
    sb = _source(cb) if cb else ""
    diff = ""
    if ca is not None and cb is not None and sa != sb:
        # every line ends in a newline, the last one of a cell included, or '-' and '+' lines run together
        diff = "".join(difflib.unified_diff([line + "\n" for line in sa.splitlines()],
                                            [line + "\n" for line in sb.splitlines()], "a", "b", n=2))
    cell = ca or cb or {}
    return {
        "change": change, "a": ia, "b": ib, "cell_type": cell.get("cell_type", "code"),
        "source_a": sa if ca is not None else None, "source_b": sb if cb is not None else None,
        "source_diff": diff,
        "outputs_changed": bool(ca is not None and cb is not None and _outputs_text(ca) != _outputs_text(cb)),
    }


def pick_snapshot(run: dict) -> tuple[dict | None, dict | None]:
    """(artifact, file) of the run's best notebook snapshot (newest ``notebook`` artifact; live > saved > history)."""
    arts = [a for a in run.get("artifacts", []) if a.get("type") == "notebook"]
    if not arts:
        return None, None
    art = max(arts, key=lambda a: (a.get("created_at") or 0, a.get("version") or 0))
    labels = (art.get("metadata") or {}).get("files", {})
    files = [f for f in art.get("files", []) if f["path"].endswith(".ipynb")]
    for want in SNAPSHOT_PREFERENCE:
        for f in files:
            if labels.get(f["path"]) == want:
                return art, f
    return (art, files[0]) if files else (art, None)


def dict_diff(a: dict, b: dict) -> dict[str, dict]:
    """Keys whose values differ: ``{key: {"a": …, "b": …}}`` (a missing side is None)."""
    out = {}
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if va != vb and not (isinstance(va, float) and isinstance(vb, float) and va != va and vb != vb):
            out[k] = {"a": va, "b": vb}
    return out


def run_diff(run_a: dict, run_b: dict, read_file) -> dict:
    """Everything that differs between two runs. ``read_file(artifact_id, path) -> bytes`` reads snapshots."""
    out: dict[str, Any] = {
        "a": run_a["id"], "b": run_b["id"],
        "params": dict_diff(run_a.get("params", {}), run_b.get("params", {})),
        "metrics": dict_diff({m["key"]: m["last"] for m in run_a.get("metrics", [])},
                             {m["key"]: m["last"] for m in run_b.get("metrics", [])}),
        "tags": dict_diff(run_a.get("tags", {}), run_b.get("tags", {})),
        "notebook": None,
    }
    art_a, f_a = pick_snapshot(run_a)
    art_b, f_b = pick_snapshot(run_b)
    if f_a is None or f_b is None:
        missing = [r["id"] for r, f in ((run_a, f_a), (run_b, f_b)) if f is None]
        out["notebook_note"] = "no notebook snapshot for run " + " and ".join(missing)
        return out
    if f_a["sha256"] == f_b["sha256"]:
        nb = json.loads(read_file(art_a["id"], f_a["path"]))
        cells = [_entry("unchanged", i, i, c, c) for i, c in enumerate(nb.get("cells", []))]
    else:
        cells = notebook_diff(json.loads(read_file(art_a["id"], f_a["path"])),
                              json.loads(read_file(art_b["id"], f_b["path"])))
    labels_a = (art_a.get("metadata") or {}).get("files", {})
    labels_b = (art_b.get("metadata") or {}).get("files", {})
    out["notebook"] = {
        "a": {"artifact_id": art_a["id"], "path": f_a["path"], "label": labels_a.get(f_a["path"], "")},
        "b": {"artifact_id": art_b["id"], "path": f_b["path"], "label": labels_b.get(f_b["path"], "")},
        "cells": cells,
        "summary": {k: sum(1 for c in cells if c["change"] == k) for k in ("unchanged", "modified", "added", "removed")},
        "outputs_changed": sum(1 for c in cells if c["outputs_changed"]),
    }
    return out
