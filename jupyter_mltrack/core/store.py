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

from . import access as A
from . import datasets as DS
from . import figures as FG
from . import lineage as LN
from . import job_executions as JE
from . import jobs as J
from . import listing as L
from . import metric_store as M
from . import projects as P
from . import registry as G
from . import run_reads as RR
from . import users as U
from .batch import Batch, NormalBatch, normalize_batch
from .blob_gc import GRACE_HOURS, GcReport, collect
from .blobs import BlobStore, Blobs, MissingBlobs
from .db import Database, Location, default_home, resolve_uri
from .errors import Forbidden, InvalidInput, NotFound
from .run_shape import STALE_AFTER
from .run_writes import WriteResult, apply_batch, prune_applied
from .users import Actor

__all__ = ["Store", "open_blobs", "Actor", "Location", "resolve_uri", "default_home", "STALE_AFTER"]


def open_blobs(location: str | None, why_missing: str = "") -> Blobs:
    """The blob store at ``location``: ``s3://bucket/prefix`` (any S3-compatible endpoint; ``AWS_ENDPOINT_URL``
    and the usual AWS credentials) or a folder; None: a store without one, which says so when used."""
    if location is None:
        return MissingBlobs(why_missing)
    if location.startswith("s3://"):
        from .s3_blobs import S3Blobs  # boto3 is imported only by stores that use S3

        return S3Blobs(location)
    if "://" in location:
        raise InvalidInput(f"MLTRACK_ARTIFACTS: {location!r} is neither s3://bucket/prefix nor a folder")
    return BlobStore(location)


class Store:
    """One store: a database plus its blobs (a folder or an object store). Thread-safe; share one per process."""

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
        self.blobs: Blobs = open_blobs(loc.artifacts, f"this {self.backend} store has no artifact location")
        self.project_ids = P.ProjectIds()
        self._next_prune = 0.0
        self._key_touched: dict[int, float] = {}
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

    def write_batch(self, batch: Batch | Mapping[str, Any], actor: Actor | None = None) -> WriteResult:
        """Write a batch (see docs/rest-api.md) in one transaction: all of it, or nothing.

        Raises :class:`InvalidInput` for malformed items, :class:`NotFound` for unknown runs and
        :class:`Conflict` when a param is logged again with another value (``Conflict.items`` lists them).
        A batch whose ``id`` was applied before is not applied again: the answer is the first one's, with
        ``duplicate: True``. With an ``actor`` (team mode) the batch is checked against the actor's roles
        (:class:`Forbidden` naming the role needed), its runs are recorded as the actor's, and the projects it
        creates are the actor's to own."""
        b = normalize_batch(batch)
        if actor is not None:
            for r in b["runs"]:
                r["user"] = actor.name
        return self.db.write(lambda conn: self._apply(conn, b, actor))

    def _apply(self, conn, b: NormalBatch, actor: Actor | None = None) -> WriteResult:
        now = time.time()
        if now >= self._next_prune:  # forget old batch ids, at most once an hour
            self._next_prune = now + 3600
            prune_applied(conn, now)
        created = A.check_batch(conn, actor, b)
        out = apply_batch(conn, b, self.blobs, self.project_ids)
        A.make_owner(conn, actor, created)
        return out

    def create_project(self, name: str, description: str | None = None, actor: Actor | None = None) -> dict:
        """Create a project (or answer the existing one); a ``description`` given replaces its own."""
        item = {"name": name} if description is None else {"name": name, "description": description}
        self.write_batch({"projects": [item]}, actor)
        return self.project_named(name, actor)

    def create_experiment(self, project: str, name: str, description: str | None = None,
                          actor: Actor | None = None) -> dict:
        item = {"project": project, "name": name}
        self.write_batch({"experiments": [item if description is None else {**item, "description": description}]},
                         actor)
        return self.experiment_named(project, name, actor)

    def create_campaign(self, project: str, name: str, description: str | None = None,
                        actor: Actor | None = None) -> dict:
        """Create a campaign in ``project`` (or answer the existing one of that project); a ``description`` given
        replaces its own."""
        item = {"project": project, "name": name}
        self.write_batch({"campaigns": [item if description is None else {**item, "description": description}]},
                         actor)
        return self.campaign_named(name, actor)

    def edit_run(self, run_id: str, edit: Mapping[str, Any], actor: Actor | None = None) -> dict:
        """Change a run's ``description``, ``name`` and ``tags`` ({key: value or None to delete}) in one batch;
        answers the run."""
        from .describe import run_edit_batch

        self.write_batch(run_edit_batch(run_id, edit), actor)
        return self.get_run(run_id, actor)

    def add_run_input(self, run_id: str, artifact_id: int, role: str = "input", actor: Actor | None = None) -> None:
        self.write_batch({"inputs": [{"run_id": run_id, "artifact_id": artifact_id, "role": role}]}, actor)

    def register_model(self, project: str, name: str, artifact_id: int, stage: str = "",
                       description: str = "", actor: Actor | None = None) -> dict:
        """Add a new version of the model ``name`` (in ``project``) pointing at a stored artifact."""
        done = self.write_batch({"models": [{"project": project, "name": name, "artifact_id": artifact_id,
                                             "stage": stage, "description": description}]}, actor)
        return self.model_version(done["registered"][0], actor)

    def gc(self, grace_hours: float = GRACE_HOURS, dry_run: bool = False, actor: Actor | None = None) -> GcReport:
        A.require_admin(actor, "collecting garbage")
        return collect(self.db, self.blobs, grace_hours, dry_run)

    gc.__doc__ = collect.__doc__

    # -- reads ----------------------------------------------------------------------------------------------------

    def revision(self) -> str:
        """Changes whenever anything is written (every write transaction bumps it); one tiny read to poll."""
        from sqlalchemy import select

        from .schema import store_meta

        with self.db.read() as conn:
            return str(conn.execute(select(store_meta.c.revision)).scalar_one_or_none() or 0)

    def project_named(self, name: str, actor: Actor | None = None) -> dict:
        """The project called ``name`` (a name of digits is a name here, never an id)."""
        for p in self.list_projects(actor):
            if p["name"] == name:
                return p
        raise NotFound(f"no project named {name!r}")

    def experiment_named(self, project: str, name: str, actor: Actor | None = None) -> dict:
        """The experiment ``name`` of the project called ``project``."""
        for x in self.list_experiments(self.project_named(project, actor)["id"], actor):
            if x["name"] == name:
                return x
        raise NotFound(f"no experiment {name!r} in project {project!r}")

    def get_project(self, project: int | str, actor: Actor | None = None) -> dict:
        with self.db.read() as conn:
            p = P.list_projects(conn, project)[0]
            A.require(conn, actor, p["id"], A.VIEWER, "reading the project")
            return self._with_role(conn, [p], actor)[0]

    def list_projects(self, actor: Actor | None = None) -> list[dict]:
        """Every project (for an actor: those it is a member of, with its ``role``)."""
        with self.db.read() as conn:
            return self._with_role(conn, P.list_projects(conn), actor)

    @staticmethod
    def _with_role(conn, projects: list[dict], actor: Actor | None) -> list[dict]:
        if actor is None:
            return projects
        roles = A.project_roles(conn, actor)
        if actor.admin:
            return [{**p, "role": roles.get(p["id"], A.OWNER)} for p in projects]
        return [{**p, "role": roles[p["id"]]} for p in projects if p["id"] in roles]

    def list_experiments(self, project: int | str | None = None, actor: Actor | None = None) -> list[dict]:
        with self.db.read() as conn:
            self._require_reader(conn, project, actor, "listing experiments")
            return self._readable(conn, P.list_experiments(conn, project), actor)

    def list_campaigns(self, project: int | str | None = None, actor: Actor | None = None) -> list[dict]:
        """Campaigns created in ``project`` or holding its runs (all: every campaign the actor may read of)."""
        with self.db.read() as conn:
            self._require_reader(conn, project, actor, "listing campaigns")
            return P.list_campaigns(conn, project, A.readable_projects(conn, actor))

    def campaign_named(self, name: str, actor: Actor | None = None) -> dict:
        with self.db.read() as conn:
            rows = P.list_campaigns(conn, None, A.readable_projects(conn, actor), name=name)
            if not rows:
                raise NotFound(f"no campaign {name!r}")
            return rows[0]

    def list_models(self, project: int | str | None = None, actor: Actor | None = None,
                    name: str | None = None) -> list[dict]:
        with self.db.read() as conn:
            self._require_reader(conn, project, actor, "listing models")
            return self._readable(conn, G.list_models(conn, project, name), actor)

    def resolve_model(self, ref: str, project: int | str | None = None, actor: Actor | None = None) -> dict:
        """The model version ``ref`` names: ``name`` (its newest version), ``name@alias`` or ``name@3``."""
        with self.db.read() as conn:
            self._require_reader(conn, project, actor, "reading a model")
            return G.resolve_model(conn, ref, project, A.readable_projects(conn, actor))

    def set_alias(self, project: str, model: str, alias: str, version: int | None,
                  actor: Actor | None = None) -> dict | None:
        """Point ``model@alias`` at ``version`` (moving it from any other version, atomically); None removes it."""
        self.write_batch({"aliases": [{"project": project, "model": model, "alias": alias, "version": version}]},
                         actor)
        return None if version is None else self.resolve_model(f"{model}@{alias}", project, actor)

    def set_stage(self, project: str, model: str, version: int, stage: str, actor: Actor | None = None) -> dict:
        self.write_batch({"stages": [{"project": project, "model": model, "version": version, "stage": stage}]},
                         actor)
        return self.resolve_model(f"{model}@{version}", project, actor)

    def list_datasets(self, project: int | str | None = None, name: str | None = None,
                      actor: Actor | None = None) -> list[dict]:
        with self.db.read() as conn:
            self._require_reader(conn, project, actor, "listing datasets")
            return self._readable(conn, DS.list_datasets(conn, project, name), actor)

    def resolve_dataset(self, name: str, version: int | None = None, alias: str | None = None,
                        project: int | str | None = None, actor: Actor | None = None) -> dict:
        with self.db.read() as conn:
            self._require_reader(conn, project, actor, "reading a dataset")
            return DS.resolve_dataset(conn, name, version, alias, project, A.readable_projects(conn, actor))

    def diff_datasets(self, name: str, a: int | str, b: int | str, project: int | str | None = None,
                      rows: bool = True, actor: Actor | None = None) -> dict:
        """What differs between two versions (numbers or aliases) of a dataset: files; for tables schema and rows
        (``rows``: also the rows added and removed, reading both tables)."""
        va, vb = (self.resolve_dataset(name, *((v, None) if isinstance(v, int) else (None, v)), project, actor)
                  for v in (a, b))
        return DS.diff_versions(va, vb, self.blobs.read_bytes if rows else None)

    def lineage(self, run_id: str | None = None, direction: str = "up", depth: int | None = None,
                artifact_id: int | None = None, actor: Actor | None = None) -> LN.Lineage:
        """The lineage of a run (or an artifact): see :func:`core.lineage.walk`."""
        root = ("run", run_id) if artifact_id is None else ("artifact", int(artifact_id))
        with self.db.read() as conn:
            if artifact_id is None:
                A.require_runs(conn, actor, [run_id], A.VIEWER, "reading a run's lineage")
            else:
                A.require_artifact(conn, actor, artifact_id, A.VIEWER, "reading an artifact's lineage")
            return LN.walk(conn, root, direction, depth, A.readable_projects(conn, actor))

    @staticmethod
    def _require_reader(conn, project: int | str | None, actor: Actor | None, what: str) -> None:
        """A list of one project the actor may not read is refused (403 naming the role), as ``runs`` is."""
        if actor is not None and project not in (None, ""):
            A.require(conn, actor, P.project_id(conn, project), A.VIEWER, what)

    @staticmethod
    def _readable(conn, rows: list[dict], actor: Actor | None) -> list[dict]:
        """The rows (each with a ``project`` name) of projects ``actor`` may read."""
        allowed = A.readable_projects(conn, actor)
        if allowed is None:
            return rows
        names = set(P.project_names(conn, allowed))
        return [r for r in rows if r["project"] in names]

    def model_version(self, v: G.Registered, actor: Actor | None = None) -> dict:
        """One registered model version, as :meth:`list_models` lists it."""
        for m in self.list_models(self.project_named(v["project"], actor)["id"], actor):
            if m["name"] == v["name"] and m["version"] == v["version"]:
                return m
        raise NotFound(f"no version {v['version']} of model {v['name']!r}")

    def search_runs(self, project: int | str | None = None, experiment: int | str | None = None,
                    campaign: str | None = None, filter: str | None = None, order_by: str | None = None,
                    limit: int | None = None, offset: int = 0, actor: Actor | None = None) -> tuple[list[dict], int]:
        return L.search_runs(self.db, project, experiment, campaign, filter, order_by, limit, offset, actor)

    search_runs.__doc__ = L.search_runs.__doc__

    def search_runs_json(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                         limit: int | None = 100, offset: int = 0, view: str = "full",
                         actor: Actor | None = None) -> tuple[str, int]:
        return L.search_runs_json(self.db, project, experiment, campaign, filter, order_by, limit, offset, view,
                                  actor)

    search_runs_json.__doc__ = L.search_runs_json.__doc__

    def run_table(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                  limit: int | None = None, offset: int = 0, actor: Actor | None = None) -> dict:
        return L.run_table(self.db, project, experiment, campaign, filter, order_by, limit, offset, actor)

    run_table.__doc__ = L.run_table.__doc__

    def run_frame(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                  limit: int | None = None, offset: int = 0, actor: Actor | None = None) -> dict:
        return L.run_frame(self.db, project, experiment, campaign, filter, order_by, limit, offset, actor)

    run_frame.__doc__ = L.run_frame.__doc__

    def run_columns(self, project=None, experiment=None, campaign=None, filter=None,
                    actor: Actor | None = None) -> dict[str, list[str]]:
        return L.run_columns(self.db, project, experiment, campaign, filter, actor)

    run_columns.__doc__ = L.run_columns.__doc__

    def get_run(self, run_id: str, actor: Actor | None = None) -> dict:
        with self.db.read() as conn:
            A.require_runs(conn, actor, [run_id], A.VIEWER, "reading a run")
            return RR.get_run(conn, run_id)

    get_run.__doc__ = RR.get_run.__doc__

    def get_artifact(self, artifact_id: int, actor: Actor | None = None) -> dict:
        with self.db.read() as conn:
            A.require_artifact(conn, actor, artifact_id, A.VIEWER, "reading an artifact")
            return RR.get_artifact(conn, artifact_id)

    def find_artifact(self, run_id: str, name: str, version: int | None = None, actor: Actor | None = None) -> dict:
        with self.db.read() as conn:
            A.require_runs(conn, actor, [run_id], A.VIEWER, "reading an artifact")
            return RR.find_artifact(conn, run_id, name, version)

    def artifact_file(self, artifact_id: int, path: str, actor: Actor | None = None) -> dict:
        """The stored file of an artifact: its row (``sha256`` names its bytes in :attr:`blobs`) plus ``artifact``."""
        art = self.get_artifact(artifact_id, actor)
        return {**RR.artifact_file(art, path), "artifact": art}

    def read_artifact_file(self, artifact_id: int, path: str, actor: Actor | None = None) -> bytes:
        """The bytes of an artifact's file."""
        return self.blobs.read_bytes(self.artifact_file(artifact_id, path, actor)["sha256"])

    def list_figures(self, run_id: str, actor: Actor | None = None) -> list[FG.Figure]:
        """The run's figures and images (``core/figures.py``); NotFound for an unknown run."""
        with self.db.read() as conn:
            A.require_runs(conn, actor, [run_id], A.VIEWER, "reading figures")
            RR.require_run(conn, run_id)
            return FG.list_figures(conn, run_id)

    def list_series(self, run_id: str, actor: Actor | None = None) -> list[dict]:
        return self.get_run(run_id, actor)["metrics"]

    def get_series(self, run_id: str, name: str, context: Mapping[str, Any] | str | None = None,
                   max_points: int | None = None, actor: Actor | None = None) -> M.SeriesRead:
        return M.get_series(self.db, run_id, name, context, max_points, actor)

    get_series.__doc__ = M.get_series.__doc__

    def get_series_many(self, run_ids: list[str], name: str, context: Mapping[str, Any] | str | None = None,
                        max_points: int | None = None, step_range: tuple[int, int] | None = None,
                        actor: Actor | None = None) -> list[M.SeriesRead]:
        return M.get_series_many(self.db, run_ids, name, context, max_points, step_range, actor)

    get_series_many.__doc__ = M.get_series_many.__doc__


    # -- team mode: users, API keys, members (administrative writes, on the write thread too) ------------------------

    def add_user(self, name: str, admin: bool = False, email: str = "", actor: Actor | None = None,
                 exist_ok: bool = False) -> dict:
        A.require_admin(actor, "adding a user")
        return self.db.write(lambda conn: U.add_user(conn, name, admin, email, exist_ok))

    def set_admin(self, name: str, admin: bool, actor: Actor | None = None) -> dict:
        A.require_admin(actor, "changing who is an admin")
        return self.db.write(lambda conn: U.set_admin(conn, name, admin))

    def list_users(self, actor: Actor | None = None) -> list[dict]:
        A.require_admin(actor, "listing users")
        with self.db.read() as conn:
            return U.list_users(conn)

    def actor(self, name: str, create: bool = True) -> Actor:
        """The user ``name`` as an :class:`Actor` — created on first sight when ``create`` (a name Jupyter's
        identity provider vouched for), else :class:`NotFound`."""
        with self.db.read() as conn:
            user = U.find_user(conn, name)
        if user is None:
            if not create:
                raise NotFound(f"no user {name!r}")
            user = self.db.write(lambda conn: U.add_user(conn, name, exist_ok=True))
        return U.actor_of(user)

    def _own_or_admin(self, user: str, actor: Actor | None, what: str) -> None:
        if actor is not None and not actor.admin and actor.name != user:
            raise Forbidden(f"{what} of another user needs an admin; {actor.name} is not one")

    def create_key(self, user: str, label: str = "", expires_days: float | None = None,
                   actor: Actor | None = None) -> dict:
        """A new API key for ``user`` (``key`` holds the secret: shown this once)."""
        self._own_or_admin(user, actor, "creating the API keys")
        return self.db.write(lambda conn: U.create_key(conn, user, label, expires_days))

    def list_keys(self, user: str, actor: Actor | None = None) -> list[dict]:
        self._own_or_admin(user, actor, "listing the API keys")
        with self.db.read() as conn:
            return U.list_keys(conn, user)

    def revoke_key(self, key_id: int, actor: Actor | None = None) -> dict:
        def work(conn):
            self._own_or_admin(U.get_key(conn, key_id)["user"], actor, "revoking the API keys")
            return U.revoke_key(conn, key_id)

        return self.db.write(work)

    def verify_key(self, token: str) -> Actor | None:
        """The user an API key token acts as, or None (unknown, revoked, expired). Records when the key was last
        used, at most once a minute, on the write thread."""
        with self.db.read() as conn:
            found = U.verify_key(conn, token)
        if found is None:
            return None
        actor, key_id = found
        now = time.time()
        if self._key_touched.get(key_id, 0.0) < now - 60:
            self._key_touched[key_id] = now
            self.db.write_soon(lambda conn: U.touch_key(conn, key_id, now))
        return actor

    def list_members(self, project: int | str, actor: Actor | None = None) -> list[dict]:
        with self.db.read() as conn:
            return A.list_members(conn, actor, project)

    def set_member(self, project: int | str, user: str, role: str, actor: Actor | None = None) -> dict:
        return self.db.write(lambda conn: A.set_member(conn, actor, project, user, role))

    def remove_member(self, project: int | str, user: str, actor: Actor | None = None) -> None:
        self.db.write(lambda conn: A.remove_member(conn, actor, project, user))

    # -- jobs (core/jobs.py, core/job_executions.py): administrative writes on the write thread ----------------------

    def create_job(self, spec: Mapping[str, Any], base: str | os.PathLike | None = None,
                   actor: Actor | None = None) -> dict:
        """Define a job, or redefine the job of that name (see :data:`jobs.JOB_FIELDS`); a relative notebook or
        script path is read from ``base`` (default: the current folder). Checked before anything is stored."""
        job = J.check_job(spec, base)
        return self.db.write(lambda conn: J.define_job(conn, self.project_ids, job, actor))

    def list_jobs(self, project: int | str | None = None, actor: Actor | None = None) -> list[dict]:
        with self.db.read() as conn:
            return J.list_jobs(conn, actor, project)

    def get_job(self, name: str, actor: Actor | None = None) -> dict:
        with self.db.read() as conn:
            return J.get_job(conn, actor, name)

    def pause_job(self, name: str, paused: bool = True, actor: Actor | None = None) -> dict:
        return self.db.write(lambda conn: J.set_paused(conn, actor, name, paused))

    def delete_job(self, name: str, actor: Actor | None = None) -> None:
        def work(conn):
            J.find_job(conn, actor, name, A.CONTRIBUTOR, "deleting a job")
            JE.refuse_running(conn, name)
            J.delete_job(conn, actor, name)

        self.db.write(work)

    def run_job(self, name: str, actor: Actor | None = None) -> list[dict]:
        """Trigger the job now (and the jobs after it): its new executions, queued for whoever runs jobs."""
        import secrets

        trigger_id = f"manual:{time.time():.0f}:{secrets.token_hex(4)}"
        return self.db.write(lambda conn: JE.run_now(conn, actor, name, trigger_id))

    def job_executions(self, name: str, limit: int = 50, actor: Actor | None = None) -> list[dict]:
        with self.db.read() as conn:
            return J.list_executions(conn, actor, name, limit)

    def job_log(self, name: str, execution_id: int | None = None, actor: Actor | None = None) -> tuple[dict, bytes]:
        """The newest execution of a job that has a run (or the given one) and its log so far (b"" before any)."""
        with self.db.read() as conn:
            execs = J.list_executions(conn, actor, name, 1000)
            chosen = [e for e in execs if e["run_id"] and (execution_id is None or e["id"] == execution_id)]
            if not chosen:
                raise NotFound(f"job {name!r} has no execution with a run" + (
                    f" of id {execution_id}" if execution_id is not None else " yet"))
            ex = chosen[0]
            try:
                art = RR.find_artifact(conn, ex["run_id"], "log")
            except NotFound:
                return ex, b""
        return ex, self.blobs.read_bytes(art["files"][0]["sha256"]) if art["files"] else b""

    # the runners' and the scheduler's side (jupyter_mltrack/jobs/)

    def claim_execution(self, worker: str, limit: int, execution_id: int | None = None) -> dict | None:
        return self.db.write(lambda conn: JE.claim(conn, worker, limit, execution_id=execution_id))

    def execution_attempt(self, execution_id: int, run_id: str, attempt: int) -> None:
        self.db.write(lambda conn: JE.start_attempt(conn, execution_id, run_id, attempt))

    def beat_executions(self, execution_ids: list[int]) -> None:
        self.db.write(lambda conn: JE.beat(conn, execution_ids))

    def finish_execution(self, execution_id: int, status: str, reason: str = "") -> None:
        self.db.write(lambda conn: JE.finish(conn, execution_id, status, reason))

    def fire_tick(self, job_ids: list[int], tick: float) -> list[int]:
        return self.db.write(lambda conn: JE.fire_tick(conn, job_ids, tick))

    def skip_tick(self, job_id: int, tick: float) -> bool:
        return self.db.write(lambda conn: JE.skip_tick(conn, job_id, tick))

    def scheduled_jobs(self) -> list[dict]:
        with self.db.read() as conn:
            return JE.scheduled_jobs(conn)

    def pending_work(self) -> tuple[int, int]:
        with self.db.read() as conn:
            return JE.pending_work(conn)

    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew a lease (a write no view shows: the store's revision stays)."""
        return self.db.write(lambda conn: JE.acquire_lease(conn, name, holder, ttl), bump=False)

    def release_lease(self, name: str, holder: str) -> None:
        self.db.write(lambda conn: JE.release_lease(conn, name, holder), bump=False)

    def reap_executions(self) -> int:
        return self.db.write(JE.reap)
