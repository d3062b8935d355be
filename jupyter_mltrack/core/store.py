"""The store: one database plus a blob folder, behind one thin façade.

Each concept lives in its own module (see ARCHITECTURE.md); :class:`Store` holds what they share — the database
(``core/db.py``: engine, transactions, the write thread), the blob folder and the project-id cache — and delegates.
Every write is a batch (``core/batch.py``) applied in one transaction on the write thread (``core/run_writes.py``):
the façade's small writes (a project, an experiment, a run input, a model version) are one-section batches.
"""

from __future__ import annotations

import os
import time
from typing import Any, Mapping

from . import listing as L
from . import metric_store as M
from . import projects as P
from . import registry as G
from . import run_reads as RR
from .batch import Batch, NormalBatch, normalize_batch
from .blob_gc import GRACE_HOURS, GcReport, collect
from .blobs import BlobStore
from .db import Database, Location, default_home, resolve_uri
from .errors import InvalidInput, NotFound
from .run_shape import STALE_AFTER
from .run_writes import WriteResult, apply_batch, prune_applied

__all__ = ["Store", "Location", "resolve_uri", "default_home", "STALE_AFTER"]


class Store:
    """One store: a database plus a blob folder. Thread-safe; share one per process."""

    def __init__(self, uri: str | os.PathLike | None = None, *, migrate: bool = True):
        loc = resolve_uri(uri)
        if loc.kind == "http":
            raise InvalidInput(
                f"{loc.url} is a server; open it with the tracking client (mlt.set_tracking_uri), not as a Store"
            )
        self.location = loc
        self.db = Database(loc)
        self.engine = self.db.engine
        self.backend = self.db.dialect
        self.blobs = BlobStore(loc.artifacts)
        self.project_ids = P.ProjectIds()
        self._next_prune = 0.0
        if migrate:
            from .migrate import ensure_schema

            ensure_schema(self.engine, loc)

    def __repr__(self) -> str:
        return f"<Store {self.location.path or self.engine.url.render_as_string(hide_password=True)}>"

    def close(self) -> None:
        self.db.close()

    @property
    def write_executor(self):
        """The executor of the store's one write thread (the server runs its write requests on it)."""
        return self.db.writer

    # -- writes: every one a batch, on the write thread -------------------------------------------------------------

    def write_batch(self, batch: Batch | Mapping[str, Any]) -> WriteResult:
        """Write a batch (see docs/rest-api.md) in one transaction: all of it, or nothing.

        Raises :class:`InvalidInput` for malformed items, :class:`NotFound` for unknown runs and
        :class:`Conflict` when a param is logged again with another value (``Conflict.items`` lists them).
        A batch whose ``id`` was applied before is not applied again: the answer is the first one's, with
        ``duplicate: True``."""
        b = normalize_batch(batch)
        return self.db.write(lambda conn: self._apply(conn, b))

    def _apply(self, conn, b: NormalBatch) -> WriteResult:
        now = time.time()
        if now >= self._next_prune:  # forget old batch ids, at most once an hour
            self._next_prune = now + 3600
            prune_applied(conn, now)
        return apply_batch(conn, b, self.blobs, self.project_ids)

    def create_project(self, name: str, description: str = "") -> dict:
        self.write_batch({"projects": [{"name": name, "description": description}]})
        return self.project_named(name)

    def create_experiment(self, project: str, name: str, description: str = "") -> dict:
        self.write_batch({"experiments": [{"project": project, "name": name, "description": description}]})
        return self.experiment_named(project, name)

    def add_run_input(self, run_id: str, artifact_id: int, role: str = "input") -> None:
        self.write_batch({"inputs": [{"run_id": run_id, "artifact_id": artifact_id, "role": role}]})

    def register_model(self, project: str, name: str, artifact_id: int, stage: str = "",
                       description: str = "") -> dict:
        """Add a new version of the model ``name`` (in ``project``) pointing at a stored artifact."""
        done = self.write_batch({"models": [{"project": project, "name": name, "artifact_id": artifact_id,
                                             "stage": stage, "description": description}]})
        return self.model_version(done["registered"][0])

    def gc(self, grace_hours: float = GRACE_HOURS, dry_run: bool = False) -> GcReport:
        return collect(self.db, self.blobs, grace_hours, dry_run)

    gc.__doc__ = collect.__doc__

    # -- reads ----------------------------------------------------------------------------------------------------

    def revision(self) -> str:
        """Changes whenever anything is written (every write transaction bumps it); one tiny read to poll."""
        from sqlalchemy import select

        from .schema import store_meta

        with self.db.read() as conn:
            return str(conn.execute(select(store_meta.c.revision)).scalar_one_or_none() or 0)

    def project_named(self, name: str) -> dict:
        """The project called ``name`` (a name of digits is a name here, never an id)."""
        for p in self.list_projects():
            if p["name"] == name:
                return p
        raise NotFound(f"no project named {name!r}")

    def experiment_named(self, project: str, name: str) -> dict:
        """The experiment ``name`` of the project called ``project``."""
        for x in self.list_experiments(self.project_named(project)["id"]):
            if x["name"] == name:
                return x
        raise NotFound(f"no experiment {name!r} in project {project!r}")

    def get_project(self, project: int | str) -> dict:
        with self.db.read() as conn:
            return P.list_projects(conn, project)[0]

    def list_projects(self) -> list[dict]:
        with self.db.read() as conn:
            return P.list_projects(conn)

    def list_experiments(self, project: int | str | None = None) -> list[dict]:
        with self.db.read() as conn:
            return P.list_experiments(conn, project)

    def list_models(self, project: int | str | None = None) -> list[dict]:
        with self.db.read() as conn:
            return G.list_models(conn, project)

    def model_version(self, v: G.Registered) -> dict:
        """One registered model version, as :meth:`list_models` lists it."""
        for m in self.list_models(self.project_named(v["project"])["id"]):
            if m["name"] == v["name"] and m["version"] == v["version"]:
                return m
        raise NotFound(f"no version {v['version']} of model {v['name']!r}")

    def search_runs(self, project: int | str | None = None, experiment: int | str | None = None,
                    campaign: str | None = None, filter: str | None = None, order_by: str | None = None,
                    limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
        return L.search_runs(self.db, project, experiment, campaign, filter, order_by, limit, offset)

    search_runs.__doc__ = L.search_runs.__doc__

    def search_runs_json(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                         limit: int | None = 100, offset: int = 0, view: str = "full") -> tuple[str, int]:
        return L.search_runs_json(self.db, project, experiment, campaign, filter, order_by, limit, offset, view)

    search_runs_json.__doc__ = L.search_runs_json.__doc__

    def run_table(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                  limit: int | None = None, offset: int = 0) -> dict:
        return L.run_table(self.db, project, experiment, campaign, filter, order_by, limit, offset)

    run_table.__doc__ = L.run_table.__doc__

    def run_frame(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                  limit: int | None = None, offset: int = 0) -> dict:
        return L.run_frame(self.db, project, experiment, campaign, filter, order_by, limit, offset)

    run_frame.__doc__ = L.run_frame.__doc__

    def run_columns(self, project=None, experiment=None, campaign=None, filter=None) -> dict[str, list[str]]:
        return L.run_columns(self.db, project, experiment, campaign, filter)

    run_columns.__doc__ = L.run_columns.__doc__

    def get_run(self, run_id: str) -> dict:
        with self.db.read() as conn:
            return RR.get_run(conn, run_id)

    get_run.__doc__ = RR.get_run.__doc__

    def get_artifact(self, artifact_id: int) -> dict:
        with self.db.read() as conn:
            return RR.get_artifact(conn, artifact_id)

    def find_artifact(self, run_id: str, name: str, version: int | None = None) -> dict:
        with self.db.read() as conn:
            return RR.find_artifact(conn, run_id, name, version)

    def artifact_file(self, artifact_id: int, path: str) -> dict:
        """The stored file of an artifact: its row plus ``artifact`` and ``blob_path``."""
        art = self.get_artifact(artifact_id)
        f = RR.artifact_file(art, path)
        return {**f, "artifact": art, "blob_path": str(self.blobs.path(f["sha256"]))}

    def read_artifact_file(self, artifact_id: int, path: str) -> bytes:
        """The bytes of an artifact's file."""
        return self.blobs.read_bytes(self.artifact_file(artifact_id, path)["sha256"])

    def list_series(self, run_id: str) -> list[dict]:
        return self.get_run(run_id)["metrics"]

    def get_series(self, run_id: str, name: str, context: Mapping[str, Any] | str | None = None,
                   max_points: int | None = None) -> M.SeriesRead:
        return M.get_series(self.db, run_id, name, context, max_points)

    get_series.__doc__ = M.get_series.__doc__

    def get_series_many(self, run_ids: list[str], name: str, context: Mapping[str, Any] | str | None = None,
                        max_points: int | None = None, step_range: tuple[int, int] | None = None) -> list[M.SeriesRead]:
        return M.get_series_many(self.db, run_ids, name, context, max_points, step_range)

    get_series_many.__doc__ = M.get_series_many.__doc__
