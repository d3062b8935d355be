"""Figures and images of a run: matplotlib and plotly figures, images (series over steps), confusion matrices.

A logged figure is two things written in one batch item (the batch's ``figures`` section): an artifact of type
``figure`` holding its renderings (content-addressed like every artifact file) and a ``figures`` row saying what
it is — ``kind`` (:data:`~jupyter_mltrack.core.validation.FIGURE_KINDS`), ``name``, ``context`` and ``step``.
Rows are only added; a name logged again at the same context and step is read as the newest one. Figure
artifacts are listed here (:func:`list_figures`, ``GET runs/{id}/figures``), not among the run's artifacts, so an
image series of a thousand steps does not fill the run's artifact list.

The files of each kind (what the client writes, what views and reports read):

=================== =========================================================================================
``matplotlib``      ``figure.png``, ``figure.svg``
``plotly``          ``figure.json`` (the plotly figure's JSON), ``figure.png`` when kaleido could render it
``image``           ``image.png``
``confusion_matrix`` ``matrix.json`` (:class:`ConfusionMatrix`), ``figure.png`` when matplotlib is installed
=================== =========================================================================================
"""

from __future__ import annotations

import json
import time
from typing import Callable, TypedDict

from sqlalchemy import select
from sqlalchemy.engine import Connection

from . import schema as S
from .batch import ArtifactItem, FigureItem
from .db import chunked
from .validation import series_key

#: The artifact type of a figure's renderings.
FIGURE_ARTIFACT_TYPE = "figure"
#: The file names of each kind's renderings, in the order a static view prefers them.
STATIC_FILES = ("figure.svg", "figure.png", "image.png")


class ConfusionMatrix(TypedDict):
    """``matrix.json`` of a confusion matrix: ``counts[i][j]`` is how many samples of true label ``labels[i]`` were
    predicted ``labels[j]``; ``normalize`` is what the logging call asked for its PNG (None, true, pred or all) —
    the counts are always counts."""

    labels: list
    counts: list[list[int]]
    normalize: str | None


class FigureFile(TypedDict):
    path: str
    media_type: str
    size: int
    url: str  # relative to mltrack/api/: artifacts/{artifact_id}/files/{path}


class FigureStep(TypedDict):
    step: int | None
    artifact_id: int
    created_at: float
    files: list[FigureFile]


class Figure(TypedDict):
    """One figure of a run (``GET runs/{id}/figures``): a name in one context, of one kind, with its steps (one
    entry, step None, for a figure logged without steps), ordered by step."""

    name: str
    kind: str
    context: dict
    key: str  # name[k=v] as for metric series
    steps: list[FigureStep]


def write_figures(conn: Connection, items: list[FigureItem], add_artifact: Callable[[ArtifactItem], int]) -> int:
    """Store each figure: its artifact (through ``add_artifact``) and its row."""
    now = time.time()
    for f in items:
        context = f.get("context") or "{}"
        aid = add_artifact({"run_id": f["run_id"], "name": f["name"], "type": FIGURE_ARTIFACT_TYPE, "files": f["files"],
                            "metadata": {"figure": f["kind"], "step": f.get("step"), "context": json.loads(context)}})
        conn.execute(S.figures.insert().values(run_id=f["run_id"], name=f["name"], kind=f["kind"], context=context,
                                               step=f.get("step"), artifact_id=aid, created_at=now))
    return len(items)


def list_figures(conn: Connection, run_id: str) -> list[Figure]:
    """The run's figures by name and context, each with its steps (the newest row of each step)."""
    fg, af = S.figures, S.artifact_files
    rows = conn.execute(select(fg.c.name, fg.c.kind, fg.c.context, fg.c.step, fg.c.artifact_id, fg.c.created_at)
                        .where(fg.c.run_id == run_id).order_by(fg.c.id)).all()
    if not rows:
        return []
    files: dict[int, list[FigureFile]] = {}
    for part in chunked(sorted({r.artifact_id for r in rows})):
        for aid, path, size, media in conn.execute(
                select(af.c.artifact_id, af.c.path, af.c.size, af.c.media_type)
                .where(af.c.artifact_id.in_(part)).order_by(af.c.path)):
            files.setdefault(aid, []).append({"path": path, "media_type": media, "size": size,
                                              "url": f"artifacts/{aid}/files/{path}"})
    groups: dict[tuple[str, str], Figure] = {}
    steps: dict[tuple[str, str], dict[int | None, FigureStep]] = {}
    for r in rows:  # oldest first: a step logged again is replaced by its newest row
        k = (r.name, r.context)
        if k not in groups:
            groups[k] = {"name": r.name, "kind": r.kind, "context": json.loads(r.context),
                         "key": series_key(r.name, r.context), "steps": []}
            steps[k] = {}
        groups[k]["kind"] = r.kind
        steps[k][r.step] = {"step": r.step, "artifact_id": r.artifact_id, "created_at": r.created_at,
                            "files": files.get(r.artifact_id, [])}
    out = []
    for k in sorted(groups, key=lambda k: (k[0], k[1] != "{}", k[1])):  # by name, the one without context first
        g = groups[k]
        g["steps"] = sorted(steps[k].values(), key=lambda s: (s["step"] is not None, s["step"] or 0))
        out.append(g)
    return out
