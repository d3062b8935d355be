"""Cells tagged ``mltrack-artifact``: a run's own tagged cell stored as an artifact of the run (type
``cell-output``), its outputs as files (PNG/JPEG/SVG images, HTML, Markdown, text) plus ``cell.json``.

A run's own cell is its tracked cell, found in the notebook document by the cell id the frontend sent, else by its
source (nbclient and papermill send no cell id). Its outputs are those this execution produced, as the kernel
recorded them (IPython's output history) — the document's outputs only when the kernel recorded none: a saved file
executed by nbclient still holds the outputs of an earlier execution, and the other tagged cells of the notebook are
other runs' (or no run's) outputs.
"""

from __future__ import annotations

import base64
import json
from typing import Any, TypedDict

#: Cells with this tag (cell metadata ``tags``) get their outputs stored as an artifact of their run.
ARTIFACT_TAG = "mltrack-artifact"


class TaggedCell(TypedDict):
    index: int  # its position in the document
    id: str  # the nbformat cell id ('' when the document has none)
    name: str  # the artifact's name: the cell's ``mltrack_name`` metadata, else ``cell-<n>``
    source: str
    cell: dict  # the cell as the document holds it


def tagged_cells(nb_bytes: bytes) -> list[TaggedCell]:
    """The cells of a notebook document tagged :data:`ARTIFACT_TAG` (none when it is not a notebook)."""
    try:
        nb = json.loads(nb_bytes)
    except (ValueError, UnicodeDecodeError):
        return []
    out: list[TaggedCell] = []
    for index, cell in enumerate(nb.get("cells", []) if isinstance(nb, dict) else []):
        md = cell.get("metadata") or {}
        if ARTIFACT_TAG not in (md.get("tags") or []):
            continue
        src = cell.get("source", "")
        out.append({"index": index, "id": str(cell.get("id") or ""), "name": str(md.get("mltrack_name") or
                                                                             f"cell-{index + 1}"),
                    "source": "".join(src) if isinstance(src, list) else str(src), "cell": cell})
    return out


def cell_files(cell: dict) -> list[tuple[str, bytes]]:
    """A cell's outputs as files, plus the cell itself as ``cell.json``."""
    files: list[tuple[str, bytes]] = [("cell.json", json.dumps(cell, indent=1).encode("utf-8"))]
    for j, o in enumerate(cell.get("outputs", []) or []):
        data = o.get("data") or {}
        stem = f"output-{j + 1}"
        for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg")):
            if mime in data:
                raw = data[mime]
                files.append((f"{stem}.{ext}", base64.b64decode("".join(raw) if isinstance(raw, list) else raw)))
        for mime, ext in (("image/svg+xml", "svg"), ("text/html", "html"), ("text/markdown", "md")):
            if mime in data:
                raw = data[mime]
                files.append((f"{stem}.{ext}", ("".join(raw) if isinstance(raw, list) else raw).encode("utf-8")))
        text = o.get("text") if o.get("output_type") == "stream" else data.get("text/plain")
        if text and not any(f[0].startswith(stem + ".") for f in files):
            files.append((f"{stem}.txt", ("".join(text) if isinstance(text, list) else text).encode("utf-8")))
    return files


def tagged_outputs(nb_bytes: bytes) -> list[tuple[str, list[tuple[str, bytes]], dict]]:
    """Every tagged cell of a document as (name, files, metadata), with the document's outputs."""
    return [(t["name"], cell_files(t["cell"]), {"cell_index": t["index"], "source": t["source"]})
            for t in tagged_cells(nb_bytes)]


def own_tagged_outputs(tagged: list[TaggedCell], cell_id: str | None, source: str | None,
                       outputs: list[dict] | None) -> list[tuple[str, list[tuple[str, bytes]], dict]]:
    """The run's own tagged cell as (name, files, metadata): the tagged cell whose id is ``cell_id`` (when the
    frontend sent one), else whose source is the tracked cell's ``source``; with ``outputs`` (this execution's, as
    nbformat outputs) when the kernel recorded them. Nothing when the tracked cell is not tagged."""
    if cell_id:
        mine = [t for t in tagged if t["id"] == cell_id]
    elif source is not None and source.strip():
        mine = [t for t in tagged if t["source"].strip() == source.strip()][-1:]  # the same source twice: the last
    else:
        mine = []
    out = []
    for t in mine:
        cell: dict[str, Any] = dict(t["cell"])
        if outputs is not None:
            cell["outputs"] = outputs
        out.append((t["name"], cell_files(cell), {"cell_index": t["index"], "source": t["source"]}))
    return out
