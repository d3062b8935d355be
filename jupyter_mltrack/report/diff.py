"""Compare two runs: their params, last metric values, their tracked cells and notebook snapshots.

What is compared, first to last: params, metrics, tags; the tracked cell of each run (``cell.ipynb``: its source as
written, ``%%track_run`` line included, and its outputs — or ``cell.py``); then the notebooks: the live document, else
the saved file when it is not stale (saved after the tracked cell began), else the execution history; and, when the
notebooks compared were not the histories, the two execution histories too (``history``: what ran, in the order it
ran, with its outputs — what a saved file does not show). Two histories are aligned cell by cell on the frontend's cell ids (the latest execution of each cell; content where there is no
id), so cells run in between pair up instead of showing as added; other notebooks are compared with nbdime.
:func:`diff_text` and :func:`diff_html` render a diff for reading.

Pure functions over what the store returns; no Jupyter server needed. Used by ``mlt.diff_notebooks``, the REST
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
    """The outputs as comparable text: streams, text/plain, errors, and each other media type with a hash of its
    data (a changed image is a changed output; execution counts are left out)."""
    import hashlib

    parts = []
    for o in cell.get("outputs", []) or []:
        if o.get("output_type") == "stream":
            t = o.get("text", "")
            parts.append("".join(t) if isinstance(t, list) else t)
        elif o.get("output_type") in ("execute_result", "display_data"):
            data = o.get("data", {})
            t = data.get("text/plain", "")
            parts.append("".join(t) if isinstance(t, list) else t)
            for k in sorted(k for k in data if k != "text/plain"):
                v = data[k]
                raw = ("".join(v) if isinstance(v, list) else v) if not isinstance(v, dict) else json.dumps(v, sort_keys=True)
                parts.append(f"[{k} {hashlib.sha1(str(raw).encode()).hexdigest()[:10]}]")
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
    diff = _line_diff(sa, sb) if ca is not None and cb is not None and sa != sb else ""
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
    meta = art.get("metadata") or {}
    labels = meta.get("files", {})
    stale = set(meta.get("stale") or ())  # a saved file older than the tracked cell does not show this run
    files = [f for f in art.get("files", []) if f["path"].endswith(".ipynb") and f["path"] not in stale
             and labels.get(f["path"]) != "tracked cell with its outputs"]
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


def _tracked_cell(run: dict, read_file) -> dict | None:
    """The run's tracked cell from its newest snapshot: ``cell.ipynb`` (source and outputs), else ``cell.py``."""
    arts = [a for a in run.get("artifacts", []) if a.get("type") == "notebook"]
    if not arts:
        return None
    art = max(arts, key=lambda a: (a.get("created_at") or 0, a.get("version") or 0))
    paths = {f["path"] for f in art.get("files", [])}
    if "cell.ipynb" in paths:
        nb = json.loads(read_file(art["id"], "cell.ipynb"))
        cells = nb.get("cells") or [{}]
        return cells[0]
    if "cell.py" in paths:
        return {"cell_type": "code", "source": read_file(art["id"], "cell.py").decode("utf-8"), "outputs": None}
    return None


def _line_diff(a: str, b: str) -> str:
    # every line ends in a newline, the last one of a cell included, or '-' and '+' lines run together
    return "".join(difflib.unified_diff([line + "\n" for line in a.splitlines()],
                                        [line + "\n" for line in b.splitlines()], "a", "b", n=2))


def tracked_cell_diff(cell_a: dict | None, cell_b: dict | None) -> dict | None:
    """The two tracked cells: sources (magic line included) and outputs, each with a line diff."""
    if cell_a is None or cell_b is None:
        return None
    sa, sb = _source(cell_a), _source(cell_b)
    known = cell_a.get("outputs") is not None and cell_b.get("outputs") is not None
    oa = _outputs_text(cell_a) if known else ""
    ob = _outputs_text(cell_b) if known else ""
    return {"source_a": sa, "source_b": sb, "source_diff": _line_diff(sa, sb) if sa != sb else "",
            "outputs_known": known, "outputs_a": oa, "outputs_b": ob,
            "outputs_diff": _line_diff(oa, ob) if oa != ob else "", "outputs_changed": oa != ob}


def _history_key(cell: dict):
    cid = ((cell.get("metadata") or {}).get("mltrack") or {}).get("cell_id")
    return ("id", cid) if cid else ("source", _source(cell))


def history_diff(nb_a: dict, nb_b: dict) -> list[dict]:
    """Two execution histories compared as notebooks: each cell's latest execution, paired on the frontend's cell
    id (content where there is none), in the order they first ran. Same shape as :func:`notebook_diff`."""
    def latest(nb):  # each cell once, where it first ran (the notebook's order, near enough), as it last ran
        first: dict = {}
        last: dict = {}
        for i, c in enumerate(nb.get("cells", [])):
            key = _history_key(c)
            first.setdefault(key, i)
            last[key] = (i, c)
        return [last[k] for k in sorted(last, key=first.__getitem__)]

    la, lb = latest(nb_a), latest(nb_b)
    ka, kb = [_history_key(c) for _, c in la], [_history_key(c) for _, c in lb]
    out: list[dict] = []
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        pairs = list(zip(range(a0, a1), range(b0, b1))) if op in ("equal", "replace") else []
        for ia, ib in pairs:
            (pa, ca), (pb, cb) = la[ia], lb[ib]
            e = _entry("modified", pa, pb, ca, cb)
            if not e["source_diff"] and not e["outputs_changed"]:
                e["change"] = "unchanged"
            out.append(e)
        for ia in range(a0 + len(pairs), a1):
            out.append(_entry("removed", la[ia][0], None, la[ia][1], None))
        for ib in range(b0 + len(pairs), b1):
            out.append(_entry("added", None, lb[ib][0], None, lb[ib][1]))
    return out


def run_diff(run_a: dict, run_b: dict, read_file) -> dict:
    """Everything that differs between two runs. ``read_file(artifact_id, path) -> bytes`` reads snapshots."""
    out: dict[str, Any] = {
        "a": run_a["id"], "b": run_b["id"],
        "params": dict_diff(run_a.get("params", {}), run_b.get("params", {})),
        "metrics": dict_diff({m["key"]: m["last"] for m in run_a.get("metrics", [])},
                             {m["key"]: m["last"] for m in run_b.get("metrics", [])}),
        "tags": dict_diff(run_a.get("tags", {}), run_b.get("tags", {})),
        "cell": tracked_cell_diff(_tracked_cell(run_a, read_file), _tracked_cell(run_b, read_file)),
        "notebook": None,
    }
    out["history"] = None
    art_a, f_a = pick_snapshot(run_a)
    art_b, f_b = pick_snapshot(run_b)
    if f_a is None or f_b is None:
        missing = [r["id"] for r, f in ((run_a, f_a), (run_b, f_b)) if f is None]
        out["notebook_note"] = "no notebook snapshot for run " + " and ".join(missing)
        return out
    out["notebook"] = _compare(art_a, f_a, art_b, f_b, read_file)
    if out["notebook"]["a"]["label"] != HISTORY or out["notebook"]["b"]["label"] != HISTORY:
        h_a, h_b = _history_file(art_a), _history_file(art_b)
        if h_a is not None and h_b is not None:  # the saved or live documents were compared: the histories too
            out["history"] = _compare(art_a, h_a, art_b, h_b, read_file)
    return out


HISTORY = "execution history"


def _history_file(art: dict) -> dict | None:
    labels = (art.get("metadata") or {}).get("files", {})
    return next((f for f in art.get("files", []) if labels.get(f["path"]) == HISTORY), None)


def _compare(art_a: dict, f_a: dict, art_b: dict, f_b: dict, read_file) -> dict:
    """Two snapshot files compared cell by cell (two histories aligned on cell ids, other notebooks by nbdime)."""
    labels_a = (art_a.get("metadata") or {}).get("files", {})
    labels_b = (art_b.get("metadata") or {}).get("files", {})
    if f_a["sha256"] == f_b["sha256"]:
        nb = json.loads(read_file(art_a["id"], f_a["path"]))
        cells = [_entry("unchanged", i, i, c, c) for i, c in enumerate(nb.get("cells", []))]
    elif labels_a.get(f_a["path"]) == labels_b.get(f_b["path"]) == HISTORY:
        cells = history_diff(json.loads(read_file(art_a["id"], f_a["path"])),
                             json.loads(read_file(art_b["id"], f_b["path"])))
    else:
        cells = notebook_diff(json.loads(read_file(art_a["id"], f_a["path"])),
                              json.loads(read_file(art_b["id"], f_b["path"])))
    return {
        "a": {"artifact_id": art_a["id"], "path": f_a["path"], "label": labels_a.get(f_a["path"], "")},
        "b": {"artifact_id": art_b["id"], "path": f_b["path"], "label": labels_b.get(f_b["path"], "")},
        "cells": cells,
        "summary": {k: sum(1 for c in cells if c["change"] == k) for k in ("unchanged", "modified", "added", "removed")},
        "outputs_changed": sum(1 for c in cells if c["outputs_changed"]),
    }


# -- reading a diff --------------------------------------------------------------------------------------------------


def _value(v) -> str:
    return "—" if v is None else json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v


def diff_text(d: dict, unchanged: bool = False) -> str:
    """A diff as text for reading: changed params, metrics and tags (``a → b``), the tracked cell's source and
    outputs as line diffs, then the notebook's changed cells (all cells with ``unchanged=True``)."""
    lines = [f"Runs {d['a']} → {d['b']}"]
    for title, key in (("Params", "params"), ("Metrics (last values)", "metrics"), ("Tags", "tags")):
        items = d.get(key) or {}
        lines.append(f"{title}: " + ("no difference" if not items else ""))
        lines += [f"  {k}: {_value(v['a'])} → {_value(v['b'])}" for k, v in items.items()]
    cell = d.get("cell")
    if cell is None:
        lines.append("Tracked cell: not in both snapshots")
    else:
        lines.append("Tracked cell: " + ("source unchanged" if not cell["source_diff"] else "source changed"))
        lines += ["  " + line for line in cell["source_diff"].splitlines()]
        if cell["outputs_known"]:
            lines.append("  outputs " + ("changed" if cell["outputs_changed"] else "unchanged"))
            lines += ["  " + line for line in cell["outputs_diff"].splitlines()]
    nb = d.get("notebook")
    if nb is None:
        lines.append(f"Notebook: {d.get('notebook_note', 'no snapshot')}")
    for title, nb in (("Notebook", nb), ("Execution history", d.get("history"))):
        if nb is None:
            continue
        s = nb["summary"]
        lines.append(f"{title} ({nb['a']['label'] or nb['a']['path']} / {nb['b']['label'] or nb['b']['path']}): "
                     f"{s['modified']} modified, {s['added']} added, {s['removed']} removed, {s['unchanged']} unchanged;"
                     f" outputs changed in {nb['outputs_changed']}")
        for c in nb["cells"]:
            if c["change"] == "unchanged" and not c["outputs_changed"] and not unchanged:
                continue
            where = f"a[{c['a']}]" if c["b"] is None else f"b[{c['b']}]" if c["a"] is None else f"a[{c['a']}] b[{c['b']}]"
            lines.append(f"  {c['change']} cell {where}" + (" — outputs changed" if c["outputs_changed"] else ""))
            body = c["source_diff"] or (c["source_b"] if c["change"] == "added" else c["source_a"]) or ""
            if c["change"] != "unchanged" or c["source_diff"]:
                lines += ["    " + line for line in body.splitlines()]
    return "\n".join(lines) + "\n"


def _diff_pre(text: str) -> str:
    import html

    rows = []
    for line in text.splitlines():
        cls = ("add" if line.startswith("+") and not line.startswith("+++") else
               "del" if line.startswith("-") and not line.startswith("---") else
               "hunk" if line.startswith("@@") else "")
        rows.append(f'<span class="mltrack-diff-{cls}">{html.escape(line)}</span>' if cls else html.escape(line))
    return '<pre class="mltrack-diff">' + "\n".join(rows) + "</pre>"


_STYLE = ("<style>.mltrack-diff{font-size:12px;background:#fafafa;padding:4px}.mltrack-diff-add{color:#116329;"
          "background:#e6ffec}.mltrack-diff-del{color:#82071e;background:#ffebe9}.mltrack-diff-hunk{color:#0550ae}"
          "</style>")


def diff_html(d: dict) -> str:
    """The same as :func:`diff_text`, as HTML: tables for params, metrics and tags, line diffs coloured."""
    import html

    esc = html.escape
    parts = [_STYLE, f"<h4>Runs {esc(d['a'])} → {esc(d['b'])}</h4>"]
    for title, key in (("Params", "params"), ("Metrics (last values)", "metrics"), ("Tags", "tags")):
        items = d.get(key) or {}
        if not items:
            parts.append(f"<p><b>{title}</b>: no difference</p>")
            continue
        rows = "".join(f"<tr><td>{esc(str(k))}</td><td>{esc(_value(v['a']))}</td><td>{esc(_value(v['b']))}</td></tr>"
                       for k, v in items.items())
        parts.append(f"<p><b>{title}</b></p><table><tr><th></th><th>{esc(d['a'])}</th><th>{esc(d['b'])}</th></tr>"
                     f"{rows}</table>")
    cell = d.get("cell")
    if cell is None:
        parts.append("<p><b>Tracked cell</b>: not in both snapshots</p>")
    else:
        parts.append("<p><b>Tracked cell</b>: " + ("source unchanged" if not cell["source_diff"] else "source changed")
                     + ("" if not cell["outputs_known"] else
                        "; outputs changed" if cell["outputs_changed"] else "; outputs unchanged") + "</p>")
        if cell["source_diff"]:
            parts.append(_diff_pre(cell["source_diff"]))
        if cell["outputs_diff"]:
            parts.append(_diff_pre(cell["outputs_diff"]))
    nb = d.get("notebook")
    if nb is None:
        parts.append(f"<p><b>Notebook</b>: {esc(d.get('notebook_note', 'no snapshot'))}</p>")
    for title, nb in (("Notebook", nb), ("Execution history", d.get("history"))):
        if nb is None:
            continue
        s = nb["summary"]
        parts.append(f"<p><b>{title}</b> ({esc(nb['a']['label'] or nb['a']['path'])}): {s['modified']} modified, "
                     f"{s['added']} added, {s['removed']} removed, {s['unchanged']} unchanged cells; outputs changed "
                     f"in {nb['outputs_changed']}</p>")
        for c in nb["cells"]:
            if c["change"] == "unchanged" and not c["outputs_changed"]:
                continue
            body = c["source_diff"] or (c["source_b"] if c["change"] == "added" else c["source_a"]) or ""
            parts.append(f"<p>{esc(c['change'])} cell (a: {c['a']}, b: {c['b']})"
                         f"{' — outputs changed' if c['outputs_changed'] else ''}</p>" + _diff_pre(body))
    return '<div class="mltrack-run-diff">' + "".join(parts) + "</div>"
