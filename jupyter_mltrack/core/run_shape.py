"""What a run looks like when read — written once for every read path (listing, ``get_run``, REST, DataFrames):

- the **crashed rule**: a ``running`` run whose writer has sent no heartbeat for :data:`STALE_AFTER` seconds (or,
  without a heartbeat, since it started) reads as ``crashed`` — :func:`effective_status` in Python,
  :func:`status_sql` for filters and sorting; a test holds the two to the same answers;
- the **columns** every run read selects, in one order (:data:`RUN_COLUMNS`), so a row is the same tuple wherever
  it was read;
- the run object's **head** (:func:`run_head`): the members of a run in the REST API and the Python API before its
  params, tags and metrics.
"""

from __future__ import annotations

import time
from typing import Any, TypedDict

from sqlalchemy import and_, case, func

from . import schema as S
from .wire import RUN_TABLE_COLUMNS

#: A running run whose writer has sent no heartbeat for this long reads as ``crashed`` (its process died). Writers
#: beat every 10 s (``client/writer.py``'s HEARTBEAT_EVERY) even when nothing else is logged, so a crash shows
#: within 45 s and a busy moment (a long GC pause, a slow network) does not read as one.
STALE_AFTER = 45.0


def effective_status(status: str, heartbeat_at: float | None, start_time: float, now: float | None = None) -> str:
    """The status a reader sees: ``crashed`` for a running run without a recent heartbeat."""
    if status == "running" and (heartbeat_at or start_time) < (time.time() if now is None else now) - STALE_AFTER:
        return "crashed"
    return status


def status_reason(status: str, stored: str, heartbeat_at: float | None, start_time: float,
                  error: str | None) -> str | None:
    """Why a run has the status it reads as, in a sentence (None for a running or finished run)."""
    if status == "crashed" and stored == "running":
        t = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(heartbeat_at or start_time))
        return (f"the process logging it stopped: its last heartbeat was at {t}, and a running run without one "
                f"for {STALE_AFTER:.0f} s is taken to have crashed")
    if status in ("failed", "crashed", "killed"):
        first = (error or "").strip().splitlines()
        return first[-1][:500] if first else f"ended as {status}"
    return None


def status_sql(runs, now: float | None = None):
    """:func:`effective_status` as a SQL expression over the ``runs`` table (filters and sorting by status)."""
    stale = (time.time() if now is None else now) - STALE_AFTER
    return case(
        (and_(runs.c.status == "running", func.coalesce(runs.c.heartbeat_at, runs.c.start_time) < stale), "crashed"),
        else_=runs.c.status,
    )


#: The columns of a run row, in order: the first ten are the run table's ``base`` columns (see listing.py).
RUN_COLUMNS = ("id", "name", "status", "start_time", "end_time", "heartbeat_at", "project", "user", "parent_id",
               "source", "project_id", "description", "error")
BASE_COLUMNS = RUN_TABLE_COLUMNS  # the first ten, with "id" named "run_id"
(ID, NAME, STATUS, START, END, BEAT, PROJECT, USER, PARENT, SOURCE, PROJECT_ID, DESCRIPTION, ERROR) = range(13)
ROW_WIDTH = len(RUN_COLUMNS)


def run_columns_sql():
    """The SELECT list of :data:`RUN_COLUMNS` (join ``projects`` on ``runs.project_id`` to use it)."""
    c = S.runs.c
    return (c.id, c.name, c.status, c.start_time, c.end_time, c.heartbeat_at, S.projects.c.name, c.user,
            c.parent_id, c.source, c.project_id, c.description, c.error)


class RunHead(TypedDict):
    id: str
    name: str
    status: str
    project_id: int
    project: str
    parent_id: str | None
    user: str
    source: str
    start_time: float
    end_time: float | None
    description: str
    heartbeat_at: float | None
    error: str | None
    status_reason: str | None


def run_head(row: tuple, now: float, detail: bool = True) -> dict[str, Any]:
    """A run object's head from a row in :data:`RUN_COLUMNS` order. ``detail=False`` leaves out ``heartbeat_at``,
    ``error`` and ``status_reason`` (the REST list's RunSummary)."""
    head = {
        "id": row[ID], "name": row[NAME], "status": effective_status(row[STATUS], row[BEAT], row[START], now),
        "project_id": row[PROJECT_ID], "project": row[PROJECT], "parent_id": row[PARENT], "user": row[USER],
        "source": row[SOURCE], "start_time": row[START], "end_time": row[END], "description": row[DESCRIPTION],
    }
    if detail:
        head["heartbeat_at"] = row[BEAT]
        head["error"] = row[ERROR]
        head["status_reason"] = status_reason(head["status"], row[STATUS], row[BEAT], row[START], row[ERROR])
    return head


def base_rows(rows: list[tuple], now: float | None = None) -> list[tuple]:
    """The run table's ``base`` tuples: a row's first ten columns with the effective status."""
    now = time.time() if now is None else now
    return [row[:10] if row[STATUS] != "running" else
            row[:STATUS] + (effective_status(row[STATUS], row[BEAT], row[START], now),) + row[STATUS + 1:10]
            for row in rows]
