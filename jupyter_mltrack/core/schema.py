"""The tables of a store — the one place that names every concept.

SQLAlchemy Core only (no ORM objects): reads and writes are set-based statements. The same metadata serves SQLite
(the embedded default) and PostgreSQL. Alembic migrations in ``migrations/versions`` must produce exactly this
schema; ``tests/core/test_migrations.py`` compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    false,
    text,
)

from .validation import RUN_STATUSES  # one list, shared with the batch check

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ROLES = ("owner", "contributor", "viewer")

# Times are float seconds since the epoch (double precision keeps microseconds).

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False, server_default=""),
    Column("status", String(16), nullable=False, server_default="running"),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float),
    Column("heartbeat_at", Float),
    Column("updated_at", Float, nullable=False),
    Column("user", String(250), nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("source", Text, nullable=False, server_default=""),
    Column("parent_id", String(32), ForeignKey("runs.id", ondelete="SET NULL")),
    Column("error", Text),
    # Denormalised for the run table: the run's experiments, params, tags and last metric values as the inside of
    # a JSON object, '"experiments":[…],"params":{…},"tags":{…},"metrics":{"key": last, …}' (non-finite values as
    # the REST API's strings "NaN", "Infinity", "-Infinity"); '' until built. Listing runs reads this column (and,
    # for the full REST list, the series rows); filters use the normalised tables below.
    Column("table_row", Text, nullable=False, server_default=""),
    # The same run table for DataFrames, built with table_row (valid while it is not ''): the numeric params and
    # last metric values as little-endian 8-byte slots (``frame_nums``) named by a ``frame_layouts`` row (a JSON
    # list of "i:params.k" / "f:metrics.k" — int64 or float64 — in column order, shared by every run with the same
    # keys), and the rest as ``frame_text`` ('"experiments":[…],"params":{…non-numeric…},"tags":{…}'). Numbers then
    # reach the frame as arrays, never as one Python object each.
    Column("frame_layout", Integer),  # a frame_layouts id (layouts are never deleted)
    Column("frame_nums", LargeBinary),
    Column("frame_text", Text),
    CheckConstraint("status IN ('running', 'finished', 'failed', 'killed', 'crashed')", name="status"),
    Index(None, "project_id", "start_time"),
    Index(None, "start_time"),
    Index(None, "parent_id"),
    Index(None, "updated_at"),
)

# The key lists of the DataFrame fragments (``runs.frame_layout``): one row per distinct list, not one per run,
# found by the sha256 of its text (a list can be longer than PostgreSQL indexes a text).
frame_layouts = Table(
    "frame_layouts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("key_list", Text, nullable=False),
)

run_experiments = Table(
    "run_experiments",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "experiment_id"),
)

# A campaign's name is unique in the store (runs of several projects may share a campaign); ``project_id`` is the
# project it was created in (by ``create_campaign`` or its first run): who may describe it in team mode, where it
# is listed. NULL only when that project was deleted.
campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="SET NULL")),
    Index(None, "project_id"),
)

campaign_runs = Table(
    "campaign_runs",
    metadata,
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "run_id"),
)

# Params: the JSON text is authoritative; ``num`` / ``text`` are typed copies so the search language can compare
# numbers as numbers and strings as strings on SQLite and PostgreSQL alike.
params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Column("num", Float),
    Column("text", Text),
    # run_id last: the filters' subqueries (key = … and num/text …) read the run ids from the index alone. Each
    # param has a num or a text: each index holds only the rows where its column is set (a comparison implies it).
    Index(None, "key", "num", "run_id", sqlite_where=text("num IS NOT NULL"),
          postgresql_where=text("num IS NOT NULL")),
    Index(None, "key", "text", "run_id", sqlite_where=text("text IS NOT NULL"),
          postgresql_where=text("text IS NOT NULL")),
    # clustered by (run_id, key) on SQLite: the primary key is the table, not a second copy of every row's keys
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value", "run_id"),
    sqlite_with_rowid=False,
)

# One row per (run, name, context) with a summary kept current on every write, so tables and filters never read
# points. ``context`` is the canonical JSON of a flat dict of strings ("{}" when absent). ``last`` is NULL with
# count > 0 only when the last value is NaN (stored as NULL on every database: core/metric_store.py).
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("context", String(500), nullable=False, server_default="{}"),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("last", Float),
    Column("last_step", BigInteger),
    Column("last_time", Float),
    Column("min", Float),
    Column("max", Float),
    Column("chunks", Integer, nullable=False, server_default="0"),
    UniqueConstraint("run_id", "name", "context"),
    # the filters on a metric read run ids from it alone; an order led by a metric walks it for a page
    Index(None, "name", "context", "last", "run_id"),
)


def series_summary(name: str):
    """A summary column of ``metric_series`` as SQL. A series without chunks keeps its one point in its row
    (core/metric_store.py) and stores no ``min`` and ``max``: they are its ``last``."""
    col = metric_series.c[name]
    if name in ("min", "max"):
        return case((metric_series.c.chunks == 0, metric_series.c.last), else_=col).label(name)
    return col

# Points live in compressed chunks (see core/series.py), never a row per point.
metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("series_id", Integer, ForeignKey("metric_series.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    Column("step_min", BigInteger, nullable=False),
    Column("step_max", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    # min/max-preserving subset of a full chunk's points, in the chunk codec (series.overview); NULL otherwise
    Column("overview", LargeBinary, nullable=True),
    Column("overview_count", Integer, nullable=True),
)

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("type", String(100), nullable=False, server_default=""),
    Column("version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("meta", Text, nullable=False, server_default="{}"),
    UniqueConstraint("run_id", "name", "version"),
    Index(None, "type"),
)

artifact_files = Table(
    "artifact_files",
    metadata,
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("sha256", String(64), ForeignKey("blobs.sha256"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(200), nullable=False, server_default="application/octet-stream"),
    Index(None, "sha256"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(100), nullable=False, server_default="input"),
    Index(None, "artifact_id"),
)

# Figures and images (``core/figures.py``): each logged figure is an artifact (type "figure") holding its renderings
# and a row saying what it is — kind, name, context and step (null: a figure without steps). Rows are only added:
# a name logged again at the same step and context is read as the newest row.
figures = Table(
    "figures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("context", String(500), nullable=False, server_default="{}"),
    Column("step", BigInteger),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    CheckConstraint("kind IN ('matplotlib', 'plotly', 'image', 'confusion_matrix')", name="kind"),
    Index(None, "run_id", "name"),
    Index(None, "artifact_id"),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="RESTRICT"), nullable=False),
    Column("stage", String(50), nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    # the SHA-256 of the artifact's files (sorted paths and their hashes): the same bytes registered again are the
    # version they already are (``registry.content_key``); "" for versions registered before 0006
    Column("content", String(64), nullable=False, server_default=""),
    Index(None, "model_id", "content"),
    Index(None, "artifact_id"),
)

# An alias names one version of a model (champion, challenger, …): moving it is one update, so it always points at
# exactly one version.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Datasets: named per project, each version a stored artifact (type "dataset") identified by its content, so the
# same content logged again is the same version (``core/datasets.py``).
datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name"),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="RESTRICT"), nullable=False),
    Column("content", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # file, folder, zip, table
    Column("meta", Text, nullable=False, server_default="{}"),  # tables: schema, rows, preview
    Column("created_at", Float, nullable=False),
    UniqueConstraint("dataset_id", "content"),
    Index(None, "artifact_id"),
)

dataset_aliases = Table(
    "dataset_aliases",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("email", String(250), nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default=false()),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("label", String(250), nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
    Column("expires_at", Float),  # null: never
    Column("revoked_at", Float),  # null: valid
)

project_members = Table(
    "project_members",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(20), nullable=False),
    CheckConstraint("role IN ('owner', 'contributor', 'viewer')", name="role"),
)

# One row: a counter bumped by every write transaction (``Store.revision``), so views can poll one value to know
# whether anything changed — runs, points, artifacts, descriptions, the model registry.
store_meta = Table(
    "store_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False, server_default="0"),
)

# The batches this store has applied, by the id their client gave them (``core/run_writes.py``): a batch sent again
# — a retry after a timeout, a server restart, another server process — is recognised and not applied twice.
# Rows older than the retention window (``run_writes.APPLIED_RETENTION``) are pruned; ``result`` is what the first
# application answered, answered again to a repeat.
applied_batches = Table(
    "applied_batches",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("applied_at", Float, nullable=False, index=True),
    Column("result", Text, nullable=False, server_default=""),
)

# Jobs (``core/jobs.py``): a notebook or a script run as tracked runs — now, on a cron schedule, after other jobs.
# ``path`` is absolute; ``params`` JSON text; ``schedule`` a cron expression ('' none) read in ``timezone``;
# ``last_tick`` the last scheduled time fired (or skipped), so a tick fires once however many servers look.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("params", Text, nullable=False, server_default="{}"),
    Column("schedule", String(250), nullable=False, server_default=""),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("timeout", Float),  # seconds; null: none
    Column("retries", Integer, nullable=False, server_default="0"),
    Column("retry_delay", Float, nullable=False, server_default="10"),
    Column("max_concurrent", Integer, nullable=False, server_default="1"),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("user", String(250), nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("last_tick", Float),
    CheckConstraint("kind IN ('notebook', 'script')", name="kind"),
    Index(None, "project_id"),
)

# after=[…]: a job runs once all its upstream jobs succeeded in the same trigger (a DAG: cycles are refused).
job_upstreams = Table(
    "job_upstreams",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("upstream_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "upstream_id"),
)

# One row per job per trigger (a cron tick, a "run now"): unique, so a trigger never runs a job twice. ``run_id``
# is the tracked run of its latest attempt.
job_executions = Table(
    "job_executions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("trigger_id", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="SET NULL")),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("scheduled_for", Float),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("heartbeat_at", Float),
    Column("worker", String(250), nullable=False, server_default=""),
    UniqueConstraint("trigger_id", "job_id"),
    CheckConstraint("status IN ('pending', 'queued', 'running', 'finished', 'failed', 'killed', 'skipped')",
                    name="status"),
    Index(None, "job_id", "created_at"),
    Index(None, "status"),
)

# Leases: who leads the job scheduler among the servers sharing this store (one row per lease name).
job_leases = Table(
    "job_leases",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("holder", String(250), nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Deployments (``core/deployments.py``): model services the server extension (or an embedded ``mlt.deploy``) runs,
# each in a process of its own. The name is unique in the store (it is the URL segment of ``mltrack/serve/{name}``);
# ``spec`` is the service's JSON (``serving/spec.py``); ``status`` running/stopped/failed with the process's ``pid``
# and loopback ``port`` while it runs; ``model``/``version`` the model version it served last (kind "model").
deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("spec", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("port", Integer),
    Column("pid", Integer),
    Column("host", String(250), nullable=False, server_default=""),
    Column("model", String(250)),
    Column("version", Integer),
    Column("error", Text, nullable=False, server_default=""),
    Column("user", String(250), nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("stopped_at", Float),
    CheckConstraint("kind IN ('model', 'ab_test')", name="kind"),
    CheckConstraint("status IN ('running', 'stopped', 'failed')", name="status"),
    Index(None, "project_id"),
)
