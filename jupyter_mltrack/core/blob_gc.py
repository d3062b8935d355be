"""Reclaiming space: blobs no artifact references, and temporary upload files nothing will finish.

A blob (``core/blobs.py``) is uploaded *before* the batch that names it in an artifact, so a client that dies in
between — a kernel killed while logging an artifact, an upload whose batch was refused — leaves a blob that nothing
references; an upload killed mid-copy leaves a ``.incoming-`` temporary file. Nothing else ever removes them.

The rules (:func:`collect`):

- **Garbage**: a blob file that no ``artifact_files`` row references and that is older than the grace period
  (default one hour) by its modification time. Younger ones may belong to a writer that uploaded them and has not
  committed its batch yet; they are kept (and counted). An upload of bytes already stored refreshes the blob's
  modification time, so re-uploading before naming a blob in a batch (what the client does) restarts its grace.
- **The decisive check runs under the write lock**: the blobs that looked unreferenced in a read are checked again
  inside a write transaction (``Database.write``: the store's one write thread, ``BEGIN IMMEDIATE``), and removed
  in that same transaction. A batch's artifacts check that their blobs exist inside their own write transaction, so
  either the batch committed first (its reference is seen, the blob kept) or it runs after the removal and is
  refused as "not uploaded" — never an artifact whose file is gone. Each blob is renamed aside and judged by its
  modification time once more (``BlobStore.remove_if_older``), so an upload that refreshed it a moment ago wins.
- **``blobs`` rows**: a row exists to back the ``artifact_files`` foreign key and is written in the same transaction
  as the reference, so an unreferenced row (its artifacts deleted) is removed at once, whatever its file's age.
- **Temporary files** (``.incoming-…``, ``.removing-…`` in the blob folder) older than the grace period are
  removed; a live upload keeps writing to (and so refreshing) its own.
- ``dry_run`` reports the same numbers from a read and removes nothing.

On PostgreSQL write transactions of different processes are not serialised the way SQLite's ``BEGIN IMMEDIATE``
serialises them; there the grace period is the protection for writers in other processes.
"""

from __future__ import annotations

import math
import time
from typing import TypedDict

from sqlalchemy import delete, exists, func, select
from sqlalchemy.engine import Connection

from . import schema as S
from .blobs import Blobs
from .db import Database, chunked
from .errors import InvalidInput

GRACE_HOURS = 1.0
_CHUNK = 500  # blobs re-checked and removed per write transaction (keeps the write lock short)


class GcReport(TypedDict):
    """What a collection removed (or, with ``dry_run``, would remove)."""

    blobs_removed: int  # unreferenced blob files older than the grace period
    bytes_freed: int  # their size
    temp_files_removed: int  # temporary upload files older than the grace period
    temp_bytes_freed: int  # their size
    blobs_kept_young: int  # unreferenced blob files kept because they are younger than the grace period
    blob_rows_removed: int  # ``blobs`` rows no artifact file references
    dry_run: bool


def check_grace_hours(grace_hours: float) -> float:
    """``grace_hours`` as a float, or :class:`InvalidInput` naming it."""
    if isinstance(grace_hours, bool) or not isinstance(grace_hours, (int, float)) or not math.isfinite(grace_hours) \
            or grace_hours < 0:
        raise InvalidInput(f"grace_hours must be a finite number of hours ≥ 0, not {grace_hours!r}")
    return float(grace_hours)


def collect(db: Database, blobs: Blobs, grace_hours: float = GRACE_HOURS, dry_run: bool = False) -> GcReport:
    """Remove the blobs no artifact references and the temporary upload files, both once older than
    ``grace_hours``, and the ``blobs`` rows no artifact file references; with ``dry_run``, only count them.

    Safe while other threads and processes write: see the module's docstring."""
    cutoff = time.time() - check_grace_hours(grace_hours) * 3600.0
    report = GcReport(blobs_removed=0, bytes_freed=0, temp_files_removed=0, temp_bytes_freed=0, blobs_kept_young=0,
                      blob_rows_removed=0, dry_run=bool(dry_run))

    stale_temp = [(p, st.st_size) for p, st in blobs.list_temp_files() if st.st_mtime <= cutoff]
    found = {sha: st for sha, st in blobs.list_blobs()}
    with db.read() as conn:
        referenced = {sha for (sha,) in conn.execute(select(S.artifact_files.c.sha256).distinct())}
        rows = conn.execute(select(func.count()).select_from(S.blobs).where(_unreferenced_row())).scalar_one()
    orphans = {sha: st for sha, st in found.items() if sha not in referenced}
    old = sorted(sha for sha, st in orphans.items() if st.st_mtime <= cutoff)
    report["blobs_kept_young"] = len(orphans) - len(old)

    if dry_run:
        report["temp_files_removed"] = len(stale_temp)
        report["temp_bytes_freed"] = sum(size for _, size in stale_temp)
        report["blobs_removed"] = len(old)
        report["bytes_freed"] = sum(orphans[sha].st_size for sha in old)
        report["blob_rows_removed"] = rows
        return report

    # temporary files and rows first, in one transaction (two collectors never race over a ``.removing-`` file)
    def sweep(conn: Connection) -> tuple[int, int, int]:
        n = freed = 0
        for name, _ in stale_temp:
            size = blobs.remove_temp(name, cutoff)  # None: still being written, finished, or removed meanwhile
            if size is not None:
                n, freed = n + 1, freed + size
        return n, freed, conn.execute(delete(S.blobs).where(_unreferenced_row())).rowcount or 0

    if stale_temp or rows:
        n, freed, report["blob_rows_removed"] = db.write(sweep)
        report["temp_files_removed"], report["temp_bytes_freed"] = n, freed

    for shas in chunked(old, _CHUNK):
        removed, freed, kept = db.write(lambda conn, shas=shas: remove_unreferenced(conn, blobs, shas, cutoff))
        report["blobs_removed"] += removed
        report["bytes_freed"] += freed
        report["blobs_kept_young"] += kept
    return report


def remove_unreferenced(conn: Connection, blobs: Blobs, shas: list[str], cutoff: float) -> tuple[int, int, int]:
    """Inside a write transaction: remove those of ``shas`` that no artifact file references (checked now, under
    the write lock) and that were last written before ``cutoff``. Returns (removed, bytes freed, kept as young)."""
    af = S.artifact_files
    referenced = {sha for (sha,) in conn.execute(select(af.c.sha256).where(af.c.sha256.in_(shas)).distinct())}
    removed = freed = kept = 0
    for sha in shas:
        if sha in referenced:  # a batch named it since the read
            continue
        size = blobs.remove_if_older(sha, cutoff)
        if size is None:
            kept += blobs.exists(sha)  # uploaded again meanwhile (else removed by someone else)
            continue
        removed, freed = removed + 1, freed + size
    return removed, freed, kept


def _unreferenced_row():
    af = S.artifact_files
    return ~exists(select(af.c.sha256).where(af.c.sha256 == S.blobs.c.sha256))
