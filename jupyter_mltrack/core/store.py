"""Open a store from a URI; read it; write it in whole batches, one transaction each.

SQLite (WAL) is the embedded default; any SQLAlchemy URL — PostgreSQL for teams — goes through the same code.
Concurrency on SQLite: every write transaction starts with ``BEGIN IMMEDIATE`` (it takes the write lock up front,
so two writers never deadlock upgrading a read lock), waits on a busy timeout, and is retried on ``database is
locked`` until a generous deadline, so the error never reaches a user. Readers never block writers in WAL mode.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import struct
import threading
import time
from collections import defaultdict, namedtuple
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple, TypeVar

import numpy as np
from sqlalchemy import and_, bindparam, case, create_engine, delete, event, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from . import schema as S
from . import search as Q
from . import series as SER
from .blobs import BlobStore
from .errors import Conflict, InvalidInput, NotFound
from .validation import check_key, context_json, param_columns, param_json, series_key, tag_value

T = TypeVar("T")

DEFAULT_HOME = "~/.mltrack"
DEFAULT_PROJECT = "Default"
STALE_AFTER = S.STALE_AFTER
_WRITE_DEADLINE = 300.0


# ----------------------------------------------------------------------------------------------------------------
# URIs


@dataclass(frozen=True)
class Location:
    kind: str  # "sqlite" | "sql" | "http"
    url: str  # SQLAlchemy URL, or the server's base URL for http
    artifacts: str | None  # blob root
    path: str | None = None  # the SQLite file


def default_home() -> Path:
    return Path(os.environ.get("MLTRACK_HOME") or DEFAULT_HOME).expanduser()


def resolve_uri(uri: str | os.PathLike | None = None) -> Location:
    """Where a store lives: the argument, else ``MLTRACK_URI``, else ``~/.mltrack/mltrack.db``.

    Accepted: a path to a ``.db`` file or to a folder (``<folder>/mltrack.db``), ``sqlite:///…``, any SQLAlchemy
    URL such as ``postgresql+psycopg://…``, or ``http(s)://host/base/`` (a Jupyter server running the extension;
    clients only). Blobs live in ``artifacts/`` beside a SQLite file, else in ``MLTRACK_ARTIFACTS`` or
    ``~/.mltrack/artifacts``."""
    raw = os.fspath(uri) if uri is not None else (os.environ.get("MLTRACK_URI") or "")
    artifacts_env = os.environ.get("MLTRACK_ARTIFACTS")
    if not raw:
        home = default_home()
        p = home / "mltrack.db"
        return Location("sqlite", f"sqlite:///{p}", artifacts_env or str(home / "artifacts"), str(p))
    if raw.startswith(("http://", "https://")):
        return Location("http", raw, None)
    if raw.startswith("sqlite:"):
        path = raw.split(":///", 1)[1] if ":///" in raw else ""
        if not path or path == ":memory:":
            raise InvalidInput("an in-memory SQLite store cannot be shared; give a file path")
        p = Path(path.split("?", 1)[0]).expanduser()
        return Location("sqlite", f"sqlite:///{p}", artifacts_env or str(p.parent / "artifacts"), str(p))
    if "://" in raw:
        home = default_home()
        return Location("sql", raw, artifacts_env or str(home / "artifacts"))
    p = Path(raw).expanduser()
    if p.is_dir() or raw.endswith(("/", os.sep)) or (not p.suffix and not p.exists()):
        p = p / "mltrack.db"
    p = p.absolute()
    return Location("sqlite", f"sqlite:///{p}", artifacts_env or str(p.parent / "artifacts"), str(p))


# ----------------------------------------------------------------------------------------------------------------
# engine


def _is_locked(e: BaseException) -> bool:
    msg = str(getattr(e, "orig", e)).lower()
    return "database is locked" in msg or "database table is locked" in msg or "busy" in msg


def _make_engine(loc: Location) -> Engine:
    if loc.kind == "sqlite":
        Path(loc.path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            loc.url,
            connect_args={"timeout": 60, "check_same_thread": False},
            pool_size=8,
            max_overflow=16,
            pool_pre_ping=False,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout = 60000")
            try:
                cur.execute("PRAGMA journal_mode = WAL")
            except Exception:  # another process holds a lock while switching; it is persistent anyway
                pass
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA case_sensitive_like = ON")  # 'like' is case-sensitive, as on PostgreSQL
            cur.execute("PRAGMA cache_size = -32000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            if conn.get_execution_options().get("mltrack_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    try:
        return create_engine(loc.url, pool_size=8, max_overflow=16, pool_pre_ping=True)
    except Exception as e:  # bad URL, missing driver
        raise InvalidInput(f"cannot open store {loc.url!r}: {e}") from None


def _insert(conn: Connection):
    """The dialect's INSERT (with ON CONFLICT support)."""
    return _dialect_insert(conn.dialect.name)


def _same_value(a: Any, b: Any) -> bool:
    """JSON equality where true is not 1 and false is not 0 (Python's == says they are)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    return a == b


def _parents_first(rows: list[dict]) -> list[dict]:
    """Order new runs so that a parent created in the same batch is inserted before its children."""
    ids = {r["id"] for r in rows}
    done: set[str] = set()
    out: list[dict] = []
    pending = rows
    while pending:
        nxt = []
        for r in pending:
            p = r["parent_id"]
            if p is None or p not in ids or p in done or p == r["id"]:
                out.append(r)
                done.add(r["id"])
            else:
                nxt.append(r)
        if len(nxt) == len(pending):  # a cycle: let the database refuse it
            out.extend(nxt)
            break
        pending = nxt
    return out


def _chunks(seq: list, n: int = 500) -> Iterable[list]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]




_PERSIST_STALE = 100
_EMPTY_TABLE = '"experiments":[],"params":{},"tags":{},"metrics":{}'
_SPECIAL = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_INF = float("inf")


def _fetch_raw(conn: Connection, stmt) -> list[tuple]:
    """Execute a SELECT on the DBAPI cursor directly: plain tuples, none of SQLAlchemy's per-row work (the run
    table reads 10k rows; that work was a third of the time). Values are bound as parameters as usual."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(str(compiled), params)
        return cur.fetchall()
    finally:
        cur.close()


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a bulk read builds many containers at once (10k runs make ~100k
    dicts and lists): it would otherwise rescan the growing heap again and again — a third of the time of a big
    run table. Nothing cyclic is made meanwhile; the collector resumes as it was."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def encode_json(obj: Any) -> bytes:
    """JSON bytes of an object free of non-finite floats, encoded in C (msgspec: about 15× faster than the
    standard library for number arrays, the same shortest round-trip float text). Imported on first use."""
    global _ENCODER
    if _ENCODER is None:
        import msgspec

        _ENCODER = msgspec.json.Encoder()
    return _ENCODER.encode(obj)


_ENCODER = None


class _Raw:
    """A statement compiled once per dialect (and per size of its IN list, rounded up to a power of two) and run on
    the DBAPI cursor. SQLAlchemy builds, keys and binds a statement anew on every call, which was most of the time of
    a small write (a one-point batch runs seven statements); the write path's frequent statements skip that. DBAPI
    errors are raised as SQLAlchemy's, so :meth:`Store.write` retries and reports them as usual.

    ``build(n)`` returns the statement; an IN list of ``n`` values binds ``i0`` … ``i{n-1}`` (see :func:`_in`).
    With ``by_dialect``, ``build(n, dialect_name)``: for dialect-specific constructs such as ON CONFLICT."""

    __slots__ = ("_build", "_cache", "_by_dialect")

    def __init__(self, build: Callable[..., Any], by_dialect: bool = False):
        self._build = build
        self._by_dialect = by_dialect
        self._cache: dict = {}

    def _compiled(self, dialect, n: int):
        hit = self._cache.get((dialect.name, n))
        if hit is None:
            stmt = self._build(n, dialect.name) if self._by_dialect else self._build(n)
            c = stmt.compile(dialect=dialect)
            consts = {k: v for k, v in c.params.items() if v is not None}  # values written into the statement
            order = None  # a mapping's values in statement order, for positional paramstyles
            if c.positional:
                names = tuple(c.positiontup)
                if not names:
                    order = _no_params
                elif len(names) == 1:
                    order = (lambda p, k=names[0]: (p[k],))
                else:
                    order = itemgetter(*names)
            hit = self._cache[(dialect.name, n)] = (str(c), order, consts, tuple(f"i{k}" for k in range(n)))
        return hit

    def run(self, conn: Connection, params: Mapping | None = None, ids: list | None = None,
            many: list[Mapping] | None = None) -> list[tuple]:
        """Execute with ``params`` (plus ``ids`` for the IN list), or once per mapping of ``many``; the rows of a
        SELECT."""
        n = 1 << (len(ids) - 1).bit_length() if ids else 0
        sql, order, consts, in_names = self._compiled(conn.dialect, n)
        if ids:
            if len(ids) < n:  # padded with the last id: a repeated value changes no IN
                ids = [*ids, *[ids[-1]] * (n - len(ids))]
            params = {**params, **dict(zip(in_names, ids))} if params else dict(zip(in_names, ids))
        if consts:
            params = {**consts, **params} if params else consts
            if many is not None:
                many = [{**consts, **p} for p in many]
        cur = conn.connection.driver_connection.cursor()
        dbapi = conn.dialect.loaded_dbapi
        try:
            if many is not None:
                cur.executemany(sql, map(order, many) if order is not None else many)
                return []
            cur.execute(sql, (order(params) if order is not None else params) if params else ())
            return cur.fetchall() if cur.description else []
        except dbapi.Error as e:
            raise DBAPIError.instance(sql, params, e, dbapi.Error, dialect=conn.dialect) from None
        finally:
            cur.close()


def _no_params(_params) -> tuple:
    return ()


def _in(n: int) -> list:
    """The bind parameters of an IN list of ``n`` values, for :class:`_Raw` statements."""
    return [bindparam(f"i{k}") for k in range(n)]


_KNOWN_RUNS = _Raw(lambda n: select(S.runs.c.id).where(S.runs.c.id.in_(_in(n))))
_BUMP_REVISION = _Raw(lambda n: update(S.store_meta).values(revision=S.store_meta.c.revision + 1))
_TOUCH_RUNS = {
    (beat, clear): _Raw(lambda n, beat=beat, clear=clear: update(S.runs).where(S.runs.c.id.in_(_in(n))).values(
        updated_at=bindparam("now"), **({"heartbeat_at": bindparam("now")} if beat else {}),
        **({"table_row": ""} if clear else {})))
    for beat in (False, True) for clear in (False, True)
}


def _dialect_insert(dialect_name: str):
    """The INSERT (with ON CONFLICT support) of a dialect, by name."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


# the statements of Store._write_points; a series row as _LOAD_SERIES selects it
_SeriesRow = namedtuple("_SeriesRow", "id run_id name context count last last_step last_time min max chunks")
_LOAD_SERIES = _Raw(lambda n: select(*(S.metric_series.c[f] for f in _SeriesRow._fields))
                    .where(S.metric_series.c.run_id.in_(_in(n))).with_for_update())
_NEW_SERIES = _Raw(lambda n, dialect: _dialect_insert(dialect)(S.metric_series).values(
    run_id=bindparam("b_run"), name=bindparam("b_name"), context=bindparam("b_ctx"), count=0, chunks=0,
).inline().on_conflict_do_nothing(index_elements=["run_id", "name", "context"]), by_dialect=True)
_PARTIAL_CHUNKS = _Raw(lambda n: (  # (series_id, count, data) of each series' last chunk when it is not full
    select(S.metric_chunks.c.series_id, S.metric_chunks.c.count, S.metric_chunks.c.data)
    .join(S.metric_series, S.metric_series.c.id == S.metric_chunks.c.series_id)
    .where(S.metric_chunks.c.series_id.in_(_in(n)), S.metric_chunks.c.seq == S.metric_series.c.chunks - 1,
           S.metric_chunks.c.count < SER.CHUNK_POINTS)))
_CHUNK_VALUES = dict(count=bindparam("b_count"), step_min=bindparam("b_smin"), step_max=bindparam("b_smax"),
                     data=bindparam("b_data"), overview=bindparam("b_ov"), overview_count=bindparam("b_ovn"))
_UPDATE_CHUNK = _Raw(lambda n: update(S.metric_chunks).where(
    S.metric_chunks.c.series_id == bindparam("b_sid"), S.metric_chunks.c.seq == bindparam("b_seq"),
).values(**_CHUNK_VALUES))
_INSERT_CHUNK = _Raw(lambda n: S.metric_chunks.insert().values(
    series_id=bindparam("b_sid"), seq=bindparam("b_seq"), **_CHUNK_VALUES))
_UPDATE_SERIES = _Raw(lambda n: update(S.metric_series).where(S.metric_series.c.id == bindparam("b_id")).values(
    count=bindparam("b_count"), last=bindparam("b_last"), last_step=bindparam("b_last_step"),
    last_time=bindparam("b_last_time"), min=bindparam("b_min"), max=bindparam("b_max"),
    chunks=bindparam("b_chunks")))


def _decode_json(text_: str):
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec is a dependency; plain json is the slow fallback
        return json.loads(text_)
    return msgspec.json.decode(text_)


class _Fragments(NamedTuple):
    """A run's stored listing fragments: ``runs.table_row``, ``run_summaries.metrics`` and the DataFrame's
    ``runs.frame_keys``, ``frame_nums``, ``frame_text`` (see core/schema.py)."""

    table_row: str
    metrics: str
    frame_keys: str
    frame_nums: bytes
    frame_text: str


_INT_TEXT = re.compile(r"-?[0-9]+")
_NAN = float("nan")
_EMPTY_FRAME = '"experiments":[],"params":{},"tags":{}'


def _frame_columns(groups: dict[str, list[int]], blobs: list, n: int) -> dict[str, np.ndarray]:
    """Numeric DataFrame columns from the runs' ``frame_nums`` (``blobs``, in row order) grouped by their
    ``frame_keys`` text (``groups``: keys → row positions): one array per group, sliced into columns; a column that
    is int64 in every row stays int64, anything else (floats, missing rows) is float64 with NaN for missing."""
    parts: dict[str, list[tuple[list[int] | None, np.ndarray, str]]] = defaultdict(list)
    for keys_text, rows in groups.items():
        keys = json.loads(keys_text) if keys_text else []
        if not keys:
            continue
        data = b"".join([blobs[i] for i in rows])
        floats = np.frombuffer(data, dtype="<f8").reshape(len(rows), len(keys))
        ints = floats.view("<i8")
        whole = len(rows) == n
        for j, typed in enumerate(keys):
            kind = typed[0]
            parts[typed[2:]].append((None if whole else rows, (ints if kind == "i" else floats)[:, j], kind))
    out = {}
    for name, pieces in parts.items():
        if len(pieces) == 1 and pieces[0][0] is None:
            out[name] = np.array(pieces[0][1], dtype=np.int64 if pieces[0][2] == "i" else np.float64)
            continue
        every = sum(n if rows is None else len(rows) for rows, _v, _k in pieces) == n
        ints = every and all(kind == "i" for _r, _v, kind in pieces)
        col = np.empty(n, np.int64) if ints else np.full(n, np.nan)
        for rows, values, _kind in pieces:
            col[rows if rows is not None else slice(None)] = values
        out[name] = col
    return out


def _decode_members(fragments: list[str | None], empty: str) -> list[dict]:
    """Decode fragments holding the inside of a JSON object each, as one text ("[{" a "},{" b … "}]": no string
    per row); a missing fragment reads as ``empty``."""
    if not fragments:
        return []
    return _decode_json("[{" + "},{".join([f or empty for f in fragments]) + "}]")


def _split_details(details: list[dict], keys: tuple[str, ...]) -> dict[str, list]:
    """{key: [each decoded fragment's member]} for the columnar run tables."""
    return {k: [d[k] for d in details] for k in keys}


def _full_fragment(table_row: str, metrics: str | None) -> str:
    """A run's REST object members as ``{…}``: its table_row with the metric summaries in place of the last values
    (the table_row's last member is "metrics"; no key or value can contain that member's opening text unescaped)."""
    table_row = table_row or _EMPTY_TABLE
    return "{" + table_row[:table_row.rindex('"metrics":')] + '"metrics":' + (metrics or "[]") + "}"


def _num_text(v) -> str:
    """A number as JSON text; None → null, non-finite → the REST API's strings."""
    if v is None:
        return "null"
    if v != v:
        return '"NaN"'
    if v in (_INF, -_INF):
        return '"Infinity"' if v > 0 else '"-Infinity"'
    return repr(float(v))




def _float_or_nan(v, count):
    # SQLite keeps NaN as NULL; a series with points whose last is NULL ended on NaN
    if v is None and count:
        return float("nan")
    return v


# ----------------------------------------------------------------------------------------------------------------
# the store


class Store:
    """One store: a database plus a blob folder. Thread-safe; share one per process."""

    def __init__(self, uri: str | os.PathLike | None = None, *, migrate: bool = True):
        loc = resolve_uri(uri)
        if loc.kind == "http":
            raise InvalidInput(
                f"{loc.url} is a server; open it with the tracking client (mlt.set_tracking_uri), not as a Store"
            )
        self.location = loc
        self.engine = _make_engine(loc)
        self.backend = "sqlite" if loc.kind == "sqlite" else self.engine.dialect.name
        self.blobs = BlobStore(loc.artifacts)
        self._project_ids: dict[str, int] = {}
        self._lock = threading.Lock()
        if migrate:
            from .migrate import ensure_schema

            ensure_schema(self.engine, loc)

    def __repr__(self) -> str:
        return f"<Store {self.location.path or self.engine.url.render_as_string(hide_password=True)}>"

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions -------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self):
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in one write transaction, retrying while the database is busy."""
        deadline = time.monotonic() + _WRITE_DEADLINE
        delay = 0.005
        while True:
            try:
                with self.engine.connect().execution_options(mltrack_write=True) as conn:
                    conn.info.pop("mltrack_new_ids", None)
                    with conn.begin():
                        result = fn(conn)
                        _BUMP_REVISION.run(conn)
                    ids = conn.info.pop("mltrack_new_ids", None)
                    if ids and len(self._project_ids) < 10_000:
                        self._project_ids.update(ids)
                    return result
            except IntegrityError as e:  # a constraint the validation did not foresee: refused for good, not retried
                raise InvalidInput(f"the store refused the write: {getattr(e, 'orig', e)}") from None
            except OperationalError as e:
                if not _is_locked(e) or time.monotonic() > deadline:
                    raise
            except DBAPIError as e:  # PostgreSQL serialization failures / deadlocks are retried too
                code = getattr(getattr(e, "orig", None), "sqlstate", None) or getattr(getattr(e, "orig", None), "pgcode", None)
                if code not in ("40001", "40P01") or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    # -- projects & experiments ---------------------------------------------------------------------------------

    def _ensure_project(self, conn: Connection, name: str) -> int:
        name = check_key("project", name or DEFAULT_PROJECT)
        pid = self._project_ids.get(name)
        if pid is not None:
            return pid
        row = conn.execute(select(S.projects.c.id).where(S.projects.c.name == name)).first()
        if row is None:
            ins = _insert(conn)(S.projects).values(name=name, description="", created_at=time.time())
            conn.execute(ins.on_conflict_do_nothing(index_elements=["name"]))
            row = conn.execute(select(S.projects.c.id).where(S.projects.c.name == name)).first()
        # remembered only once this transaction commits (see write()), never an id a rollback may undo
        conn.info.setdefault("mltrack_new_ids", {})[name] = row[0]
        return row[0]

    def _ensure_experiment(self, conn: Connection, project_id: int, name: str) -> int:
        name = check_key("experiment", name)
        e = S.experiments
        q = select(e.c.id).where(e.c.project_id == project_id, e.c.name == name)
        row = conn.execute(q).first()
        if row is None:
            ins = _insert(conn)(e).values(project_id=project_id, name=name, description="", created_at=time.time())
            conn.execute(ins.on_conflict_do_nothing(index_elements=["project_id", "name"]))
            row = conn.execute(q).first()
        return row[0]

    def create_project(self, name: str, description: str = "") -> dict:
        def fn(conn):
            pid = self._ensure_project(conn, name)
            if description:
                conn.execute(update(S.projects).where(S.projects.c.id == pid).values(description=description))
            return pid

        pid = self.write(fn)
        return self.get_project(pid)

    def create_experiment(self, project: str, name: str, description: str = "") -> dict:
        def fn(conn):
            pid = self._ensure_project(conn, project)
            eid = self._ensure_experiment(conn, pid, name)
            if description:
                conn.execute(update(S.experiments).where(S.experiments.c.id == eid).values(description=description))
            return eid

        eid = self.write(fn)
        return next(x for x in self.list_experiments() if x["id"] == eid)

    def _project_id(self, conn: Connection, project: int | str | None) -> int | None:
        if project is None or project == "":
            return None
        if isinstance(project, int) or (isinstance(project, str) and project.isdigit()):
            row = conn.execute(select(S.projects.c.id).where(S.projects.c.id == int(project))).first()
            if row is None and isinstance(project, str):
                row = conn.execute(select(S.projects.c.id).where(S.projects.c.name == project)).first()
        else:
            row = conn.execute(select(S.projects.c.id).where(S.projects.c.name == project)).first()
        if row is None:
            raise NotFound(f"no project {project!r}")
        return row[0]

    def get_project(self, project: int | str) -> dict:
        with self.read() as conn:
            pid = self._project_id(conn, project)
            return self._projects(conn, S.projects.c.id == pid)[0]

    def list_projects(self) -> list[dict]:
        with self.read() as conn:
            return self._projects(conn, None)

    def _projects(self, conn, where) -> list[dict]:
        p, r, e = S.projects, S.runs, S.experiments
        run_count = select(func.count()).where(r.c.project_id == p.c.id).scalar_subquery()
        exp_count = select(func.count()).where(e.c.project_id == p.c.id).scalar_subquery()
        q = select(p, run_count.label("run_count"), exp_count.label("experiment_count")).order_by(p.c.name)
        if where is not None:
            q = q.where(where)
        return [dict(row._mapping) for row in conn.execute(q)]

    def list_experiments(self, project: int | str | None = None) -> list[dict]:
        e, p, link = S.experiments, S.projects, S.run_experiments
        run_count = select(func.count()).where(link.c.experiment_id == e.c.id).scalar_subquery()
        q = (
            select(e, p.c.name.label("project"), run_count.label("run_count"))
            .join(p, p.c.id == e.c.project_id)
            .order_by(p.c.name, e.c.name)
        )
        with self.read() as conn:
            pid = self._project_id(conn, project)
            if pid is not None:
                q = q.where(e.c.project_id == pid)
            return [dict(row._mapping) for row in conn.execute(q)]

    # -- writes ---------------------------------------------------------------------------------------------------

    def write_batch(self, batch: Mapping[str, Any]) -> dict:
        """Write a batch (see docs/rest-api.md) in one transaction: all of it, or nothing.

        Raises :class:`InvalidInput` for malformed items, :class:`NotFound` for unknown runs and
        :class:`Conflict` when a param is logged again with another value (``Conflict.items`` lists them)."""
        b = normalize_batch(batch)
        return self.write(lambda conn: self._write_batch(conn, b))

    def _write_batch(self, conn: Connection, b: dict) -> dict:
        now = time.time()
        counts = {"runs": 0, "params": 0, "tags": 0, "points": 0, "updates": 0, "artifacts": 0}
        touched: set[str] = set()
        created: set[str] = set()

        # runs (set-based: one look-up, one multi-row insert)
        preexisting: set[str] = set()
        if b["runs"]:
            ids = sorted({r["id"] for r in b["runs"]} | {r["parent_id"] for r in b["runs"] if r.get("parent_id")})
            for part in _chunks(ids):
                preexisting |= {r[0] for r in conn.execute(select(S.runs.c.id).where(S.runs.c.id.in_(part)))}
            in_batch = {r["id"] for r in b["runs"]}
            orphans = sorted({r["parent_id"] for r in b["runs"] if r.get("parent_id")} - in_batch - preexisting)
            if orphans:
                raise NotFound(f"unknown parent run{'s' if len(orphans) > 1 else ''}: {', '.join(orphans[:10])}")
            rows, links, camp_links = {}, [], []
            exp_ids: dict[tuple[int, str], int] = {}
            camp_ids: dict[str, int] = {}
            for run in b["runs"]:
                pid = self._ensure_project(conn, run.get("project") or DEFAULT_PROJECT)
                rid = run["id"]
                if rid not in preexisting and rid not in rows:
                    rows[rid] = dict(
                        id=rid, project_id=pid, name=run.get("name") or "", status=run.get("status") or "running",
                        start_time=float(run.get("start_time") or now), end_time=None, heartbeat_at=now,
                        updated_at=now, user=run.get("user") or "", description=run.get("description") or "",
                        source=run.get("source") or "", parent_id=run.get("parent_id"), error=None,
                    )
                for exp in run.get("experiments") or []:
                    eid = exp_ids.get((pid, exp))
                    if eid is None:
                        eid = exp_ids[(pid, exp)] = self._ensure_experiment(conn, pid, exp)
                    links.append({"run_id": rid, "experiment_id": eid})
                for camp in run.get("campaigns") or []:
                    cid = camp_ids.get(camp)
                    if cid is None:
                        cid = camp_ids[camp] = self._ensure_campaign(conn, camp)
                    camp_links.append({"run_id": rid, "campaign_id": cid})
                created.add(rid)
                touched.add(rid)
            if rows:
                conn.execute(
                    _insert(conn)(S.runs).on_conflict_do_nothing(index_elements=["id"]), _parents_first(list(rows.values()))
                )
                counts["runs"] = len(rows)
            if links:
                conn.execute(_insert(conn)(S.run_experiments).on_conflict_do_nothing(), links)
            if camp_links:
                conn.execute(_insert(conn)(S.campaign_runs).on_conflict_do_nothing(), camp_links)
        new_runs = created - preexisting

        referenced = {x["run_id"] for k in ("params", "tags", "metrics", "updates", "artifacts", "inputs") for x in b[k]}
        referenced |= set(b["heartbeat"])
        referenced |= {r["parent_id"] for r in b["runs"] if r.get("parent_id")}
        unknown = referenced - created
        if unknown:
            known = set()
            for part in _chunks(sorted(unknown)):
                known |= {r[0] for r in _KNOWN_RUNS.run(conn, ids=part)}
            missing = unknown - known
            if missing:
                raise NotFound(f"unknown run{'s' if len(missing) > 1 else ''}: {', '.join(sorted(missing)[:10])}")

        # params: immutable
        if b["params"]:
            want: dict[tuple[str, str], str] = {}
            conflicts = []
            for p in b["params"]:
                k = (p["run_id"], p["key"])
                if k in want and want[k] != p["value"]:
                    conflicts.append({"run_id": k[0], "key": k[1], "stored": want[k], "value": p["value"]})
                want[k] = p["value"]
            existing: dict[tuple[str, str], str] = {}
            old_runs = sorted({rid for rid, _ in want} - new_runs)
            for part in _chunks(old_runs):
                q = select(S.params.c.run_id, S.params.c.key, S.params.c.value).where(S.params.c.run_id.in_(part))
                for rid, key, value in conn.execute(q):
                    if (rid, key) in want:
                        existing[(rid, key)] = value
            rows = []
            for k, v in want.items():
                old = existing.get(k)
                if old is None:
                    num, txt = param_columns(v)
                    rows.append({"run_id": k[0], "key": k[1], "value": v, "num": num, "text": txt})
                elif old != v and not _same_value(json.loads(old), json.loads(v)):
                    conflicts.append({"run_id": k[0], "key": k[1], "stored": old, "value": v})
            if conflicts:
                c = conflicts[0]
                err = Conflict(
                    f"param {c['key']!r} of run {c['run_id']} is already {c['stored']}; params are immutable, "
                    f"cannot set it to {c['value']}"
                    + (f" (and {len(conflicts) - 1} more conflicts)" if len(conflicts) > 1 else "")
                )
                err.items = conflicts
                raise err
            if rows:
                conn.execute(S.params.insert(), rows)
            counts["params"] = len(rows)
            touched |= {k[0] for k in want}

        # tags: mutable
        for t in b["tags"]:
            if t["value"] is None:
                conn.execute(delete(S.tags).where(S.tags.c.run_id == t["run_id"], S.tags.c.key == t["key"]))
            else:
                ins = _insert(conn)(S.tags).values(run_id=t["run_id"], key=t["key"], value=t["value"])
                conn.execute(
                    ins.on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": ins.excluded.value})
                )
            counts["tags"] += 1
            touched.add(t["run_id"])

        # metrics
        if b["metrics"]:
            counts["points"] = self._write_points(conn, b["metrics"], new_runs)
            touched |= {m["run_id"] for m in b["metrics"]}

        # artifacts
        for a in b["artifacts"]:
            self._write_artifact(conn, a, now)
            counts["artifacts"] += 1
            touched.add(a["run_id"])

        for i in b["inputs"]:
            if conn.execute(select(S.artifacts.c.id).where(S.artifacts.c.id == i["artifact_id"])).first() is None:
                raise NotFound(f"no artifact {i['artifact_id']} (run input of {i['run_id']})")
            conn.execute(_insert(conn)(S.run_inputs).values(**i).on_conflict_do_nothing())
            touched.add(i["run_id"])

        # run updates (after everything else of the batch: a run may be created, logged and ended in one batch)
        for u in b["updates"]:
            vals = {k: u[k] for k in ("status", "end_time", "error", "description", "name") if k in u}
            if vals:
                conn.execute(update(S.runs).where(S.runs.c.id == u["run_id"]).values(**vals))
                counts["updates"] += 1
            touched.add(u["run_id"])

        # Run-table fragments: rebuilt now for runs that reach a final state in this batch (they will not change
        # again); for runs still logging they are only invalidated here and rebuilt by readers, so a flush of a few
        # points costs no extra queries.
        changed = created | {p["run_id"] for p in b["params"]} | {t["run_id"] for t in b["tags"]}
        changed |= {m["run_id"] for m in b["metrics"]}
        final = {u["run_id"] for u in b["updates"] if u.get("status") not in (None, "running")}
        final |= {r["id"] for r in b["runs"] if r.get("status") not in (None, "running")}
        stale = changed - final
        if len(stale) >= _PERSIST_STALE:  # a bulk import of runs still "running": build their fragments now
            final |= stale
            stale = set()
        ended = final - changed  # ended without other writes in this batch: built now if cleared by an earlier one
        refresh = changed & final
        for part in _chunks(sorted(ended)):
            refresh |= {x[0] for x in _fetch_raw(conn, select(S.runs.c.id).where(S.runs.c.id.in_(part),
                                                                                  S.runs.c.table_row == ""))}
        if refresh:
            self._refresh_table_rows(conn, refresh)

        # every run written is marked updated; heartbeats; fragments of runs still logging cleared
        hb = set(b["heartbeat"])
        for ids_, beat, clear in ((hb & stale, True, True), (hb - stale, True, False), (stale - hb, False, True),
                                  (touched - hb - stale, False, False)):
            for part in _chunks(sorted(ids_)):
                _TOUCH_RUNS[(beat, clear)].run(conn, {"now": now}, ids=part)
        return counts

    def _refresh_table_rows(self, conn: Connection, run_ids: Iterable[str]) -> None:
        """Rebuild and store the run-table fragments of these runs (``runs.table_row``, ``run_summaries``)."""
        built = self._build_table_rows(conn, run_ids)
        if built:
            self._store_table_rows(conn, built)

    def _store_table_rows(self, conn: Connection, built: dict[str, "_Fragments"], read_at: float | None = None):
        """Store fragments; with ``read_at``, only for runs not written since then (a reader's fragments)."""
        r, rs = S.runs, S.run_summaries
        upd = update(r).where(r.c.id == bindparam("b_id")).values(
            table_row=bindparam("b_table"), frame_keys=bindparam("b_fkeys"), frame_nums=bindparam("b_fnums"),
            frame_text=bindparam("b_ftext"))
        if read_at is not None:
            upd = upd.where(r.c.table_row == "", r.c.updated_at < read_at)
        conn.execute(upd, [{"b_id": rid, "b_table": f.table_row, "b_fkeys": f.frame_keys, "b_fnums": f.frame_nums,
                            "b_ftext": f.frame_text} for rid, f in built.items()])
        # a summary row counts only while its run's table_row is set: a stale one left beside '' is never read
        ins = _insert(conn)(rs)
        conn.execute(ins.on_conflict_do_update(index_elements=["run_id"], set_={"metrics": ins.excluded.metrics}),
                     [{"run_id": rid, "metrics": f.metrics} for rid, f in built.items()])

    def _build_table_rows(self, conn: Connection, run_ids: Iterable[str]) -> dict[str, "_Fragments"]:
        """The run-table fragments of these runs from the normalised tables (see :class:`_Fragments`). JSON is put
        together as text (params are stored as JSON, the context column is canonical JSON): ~10k runs a second."""
        p, t, ms, e, link = S.params, S.tags, S.metric_series, S.experiments, S.run_experiments
        dumps = json.dumps
        keys: dict[tuple[str, str], tuple[str, str, str]] = {}  # (name, context) → (key JSON, summary head, column)
        out: dict[str, _Fragments] = {}
        for part in _chunks(sorted(run_ids)):
            params: dict[str, list[str]] = defaultdict(list)
            texts: dict[str, list[str]] = defaultdict(list)  # the params that are not numbers
            nums: dict[str, list[tuple[str, Any]]] = defaultdict(list)  # (typed column name, number)
            tags_: dict[str, list[str]] = defaultdict(list)
            metrics: dict[str, list[str]] = defaultdict(list)
            lasts: dict[str, list[str]] = defaultdict(list)
            exps: dict[str, list[str]] = defaultdict(list)
            for rid, key, value, num in _fetch_raw(conn, select(p.c.run_id, p.c.key, p.c.value, p.c.num)
                                                   .where(p.c.run_id.in_(part)).order_by(p.c.run_id, p.c.key)):
                item = dumps(key) + ":" + value
                params[rid].append(item)
                if num is None or value in ("true", "false"):
                    texts[rid].append(item)
                elif _INT_TEXT.fullmatch(value):  # ints beyond int64 stay Python ints, as pandas keeps them
                    if -(2**63) <= int(value) < 2**63:
                        nums[rid].append(("i:params." + key, int(value)))
                    else:
                        texts[rid].append(item)
                else:
                    nums[rid].append(("f:params." + key, float(value)))
            for rid, key, value in _fetch_raw(conn, select(t.c.run_id, t.c.key, t.c.value)
                                              .where(t.c.run_id.in_(part)).order_by(t.c.run_id, t.c.key)):
                tags_[rid].append(dumps(key) + ":" + dumps(value))
            q = (select(ms.c.run_id, ms.c.name, ms.c.context, ms.c.last, ms.c.last_step, ms.c.last_time, ms.c.min,
                        ms.c.max, ms.c.count)
                 .where(ms.c.run_id.in_(part)).order_by(ms.c.run_id, ms.c.name, ms.c.context))
            metric_cols: dict[str, list[tuple[str, float]]] = defaultdict(list)
            for rid, name, ctx, last, last_step, last_time, lo, hi, count in _fetch_raw(conn, q):
                k = keys.get((name, ctx))
                if k is None:
                    sk = series_key(name, ctx)
                    kj = dumps(sk)
                    k = keys[(name, ctx)] = (kj, '{"name":%s,"context":%s,"key":%s' % (dumps(name), ctx, kj),
                                             "f:metrics." + sk)
                last_text = '"NaN"' if last is None and count else _num_text(last)
                lasts[rid].append(k[0] + ":" + last_text)
                metric_cols[rid].append((k[2], _NAN if last is None else last))
                metrics[rid].append('%s,"last":%s,"last_step":%s,"last_time":%s,"min":%s,"max":%s,"count":%d}' % (
                    k[1], last_text, "null" if last_step is None else int(last_step), _num_text(last_time),
                    _num_text(lo), _num_text(hi), count or 0))
            q = select(link.c.run_id, e.c.name).join(e, e.c.id == link.c.experiment_id).where(link.c.run_id.in_(part))
            for rid, name in _fetch_raw(conn, q.order_by(link.c.run_id, e.c.name)):
                exps[rid].append(dumps(name))
            for rid in part:
                head = '"experiments":[' + ",".join(exps.get(rid, ())) + "]"
                tags_text = '"tags":{' + ",".join(tags_.get(rid, ())) + "}"
                slots = nums.get(rid, []) + metric_cols.get(rid, [])
                out[rid] = _Fragments(
                    table_row=(head + ',"params":{' + ",".join(params.get(rid, ())) + "}," + tags_text
                               + ',"metrics":{' + ",".join(lasts.get(rid, ())) + "}"),
                    metrics="[" + ",".join(metrics.get(rid, ())) + "]",
                    frame_keys=dumps([k for k, _ in slots]),
                    frame_nums=struct.pack("<" + "".join("q" if k[0] == "i" else "d" for k, _ in slots),
                                           *[v for _, v in slots]),
                    frame_text=head + ',"params":{' + ",".join(texts.get(rid, ())) + "}," + tags_text,
                )
        return out

    def _ensure_campaign(self, conn: Connection, name: str) -> int:
        name = check_key("campaign", name)
        q = select(S.campaigns.c.id).where(S.campaigns.c.name == name)
        row = conn.execute(q).first()
        if row is None:
            ins = _insert(conn)(S.campaigns).values(name=name, description="", created_at=time.time())
            conn.execute(ins.on_conflict_do_nothing(index_elements=["name"]))
            row = conn.execute(q).first()
        return row[0]

    def _write_points(self, conn: Connection, metrics: list[dict], new_runs: set[str]) -> int:
        """Append points to their series, set-based: a few statements per batch, not per series."""
        groups: dict[tuple[str, str, str], list[SER.Points]] = defaultdict(list)
        auto: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
        for m in metrics:
            key = (m["run_id"], m["name"], m["context"])
            groups[key].append(m["points"])
            auto[key].append(bool(m.get("auto_steps")))

        def load(run_ids: list[str], into: dict) -> None:
            for part in _chunks(run_ids):
                # FOR UPDATE serialises concurrent appends to one series on PostgreSQL (SQLite's write lock does)
                for row in _LOAD_SERIES.run(conn, ids=part):
                    key = (row[1], row[2], row[3])
                    if key in groups:
                        into[key] = _SeriesRow._make(row)

        existing: dict[tuple[str, str, str], _SeriesRow] = {}
        load(sorted({k[0] for k in groups} - new_runs), existing)
        missing = [k for k in groups if k not in existing]
        if missing:
            _NEW_SERIES.run(conn, many=[{"b_run": k[0], "b_name": k[1], "b_ctx": k[2]} for k in missing])
            load(sorted({k[0] for k in missing}), existing)
        partial: dict[int, tuple] = {}  # series id → (series_id, count, data) of its partial last chunk
        ids = [row.id for row in existing.values() if row.chunks > 0]
        for part in _chunks(ids):
            for r in _PARTIAL_CHUNKS.run(conn, ids=part):
                partial[r[0]] = r
        chunk_updates, chunk_inserts, series_updates = [], [], []
        total = 0
        for key, parts in groups.items():
            if any(auto[key]):  # items without steps continue after the series' (and this batch's) last step
                nxt = existing[key].last_step + 1 if existing[key].last_step is not None else 0
                placed = []
                for p, is_auto in zip(parts, auto[key]):
                    if is_auto and len(p):
                        p = SER.Points(np.arange(nxt, nxt + len(p), dtype=np.int64), p.timestamps, p.values)
                    if len(p):
                        nxt = max(nxt, int(p.steps.max()) + 1)
                    placed.append(p)
                parts = placed
            pts = SER.Points.concat(parts)
            n = len(pts)
            if n == 0:
                continue
            total += n
            row = existing[key]
            sid, nchunks = row.id, row.chunks
            summ = SER.Summary(row.count, _float_or_nan(row.last, row.count), row.last_step, row.last_time,
                               row.min, row.max).merged(pts)
            seq = nchunks
            last = partial.get(sid)
            if last is not None:
                pts = SER.Points.concat([SER.decode_chunk(last[2], last[1]), pts])
                seq = nchunks - 1
            for i, piece in enumerate(SER.split_chunks(pts)):
                # only full chunks get an overview: a partial one is rewritten by the next flush
                ov = SER.overview(piece) if len(piece) == SER.CHUNK_POINTS else None
                vals = {"b_sid": sid, "b_seq": seq + i, "b_count": len(piece), "b_smin": int(piece.steps.min()),
                        "b_smax": int(piece.steps.max()), "b_data": SER.encode_chunk(piece),
                        "b_ov": None if ov is None else SER.encode_chunk(ov), "b_ovn": None if ov is None else len(ov)}
                (chunk_updates if seq + i < nchunks else chunk_inserts).append(vals)
                last_seq = seq + i
            series_updates.append({
                "b_id": sid, "b_count": summ.count, "b_last": summ.last, "b_last_step": summ.last_step,
                "b_last_time": summ.last_time, "b_min": summ.min, "b_max": summ.max, "b_chunks": last_seq + 1,
            })
        if chunk_updates:
            _UPDATE_CHUNK.run(conn, many=chunk_updates)
        if chunk_inserts:
            _INSERT_CHUNK.run(conn, many=chunk_inserts)
        if series_updates:
            _UPDATE_SERIES.run(conn, many=series_updates)
        return total

    def _write_artifact(self, conn: Connection, a: dict, now: float) -> int:
        ar, af = S.artifacts, S.artifact_files
        for f in a["files"]:
            if not self.blobs.exists(f["sha256"]):
                raise NotFound(
                    f"artifact {a['name']!r}: file {f['path']!r} (sha256 {f['sha256'][:12]}…) has not been uploaded"
                )
            conn.execute(
                _insert(conn)(S.blobs).values(sha256=f["sha256"], size=f["size"], created_at=now).on_conflict_do_nothing()
            )
        version = conn.execute(
            select(func.coalesce(func.max(ar.c.version), 0)).where(ar.c.run_id == a["run_id"], ar.c.name == a["name"])
        ).scalar_one() + 1
        res = conn.execute(
            ar.insert().values(
                run_id=a["run_id"], name=a["name"], type=a.get("type") or "", version=version, created_at=now,
                meta=json.dumps(a.get("metadata") or {}, default=str),
            )
        )
        aid = res.inserted_primary_key[0]
        if a["files"]:
            conn.execute(af.insert(), [
                {"artifact_id": aid, "path": f["path"], "sha256": f["sha256"], "size": f["size"],
                 "media_type": f.get("media_type") or "application/octet-stream"}
                for f in a["files"]
            ])
        return aid

    def add_run_input(self, run_id: str, artifact_id: int, role: str = "input") -> None:
        def fn(conn):
            if conn.execute(select(S.runs.c.id).where(S.runs.c.id == run_id)).first() is None:
                raise NotFound(f"no run {run_id!r}")
            if conn.execute(select(S.artifacts.c.id).where(S.artifacts.c.id == artifact_id)).first() is None:
                raise NotFound(f"no artifact {artifact_id}")
            conn.execute(
                _insert(conn)(S.run_inputs).values(run_id=run_id, artifact_id=artifact_id, role=role).on_conflict_do_nothing()
            )
            conn.execute(update(S.runs).where(S.runs.c.id == run_id).values(updated_at=time.time()))

        self.write(fn)

    # -- model registry -------------------------------------------------------------------------------------------

    def register_model(self, project: str, name: str, artifact_id: int, stage: str = "",
                       description: str = "") -> dict:
        """Add a new version of the model ``name`` (in ``project``) pointing at a stored artifact."""
        check_key("model", name)

        def fn(conn):
            if conn.execute(select(S.artifacts.c.id).where(S.artifacts.c.id == int(artifact_id))).first() is None:
                raise NotFound(f"no artifact {artifact_id}")
            pid = self._ensure_project(conn, project)
            m, mv = S.models, S.model_versions
            q = select(m.c.id).where(m.c.project_id == pid, m.c.name == name)
            row = conn.execute(q).first()
            if row is None:
                ins = _insert(conn)(m).values(project_id=pid, name=name, description="", created_at=time.time())
                conn.execute(ins.on_conflict_do_nothing(index_elements=["project_id", "name"]))
                row = conn.execute(q).first()
            mid = row[0]
            version = conn.execute(
                select(func.coalesce(func.max(mv.c.version), 0)).where(mv.c.model_id == mid)
            ).scalar_one() + 1
            conn.execute(mv.insert().values(model_id=mid, version=version, artifact_id=int(artifact_id),
                                            stage=stage or "", description=description or "", created_at=time.time()))
            return mid, version

        mid, version = self.write(fn)
        return next(v for v in self.list_models(project) if v["name"] == name and v["version"] == version)

    def list_models(self, project: int | str | None = None) -> list[dict]:
        """Every registered model version with the run and artifact behind it, newest version first."""
        m, mv, ar, p = S.models, S.model_versions, S.artifacts, S.projects
        q = (
            select(m.c.id.label("model_id"), m.c.name, p.c.name.label("project"), mv.c.version, mv.c.stage,
                   mv.c.description, mv.c.created_at, mv.c.artifact_id, ar.c.run_id,
                   ar.c.name.label("artifact_name"), ar.c.version.label("artifact_version"))
            .join(mv, mv.c.model_id == m.c.id).join(ar, ar.c.id == mv.c.artifact_id).join(p, p.c.id == m.c.project_id)
            .order_by(p.c.name, m.c.name, mv.c.version.desc())
        )
        with self.read() as conn:
            pid = self._project_id(conn, project)
            if pid is not None:
                q = q.where(m.c.project_id == pid)
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- reads ----------------------------------------------------------------------------------------------------

    def revision(self) -> str:
        """Changes whenever anything is written (every write transaction bumps it); one tiny read to poll."""
        with self.read() as conn:
            return str(conn.execute(select(S.store_meta.c.revision)).scalar_one_or_none() or 0)

    def _run_scope(self, conn, project=None, experiment=None, campaign=None, filter=None, now=None):
        r = S.runs
        conds = [Q.filter_sql(filter, r)]
        pid = self._project_id(conn, project)
        if pid is not None:
            conds.append(r.c.project_id == pid)
        if experiment not in (None, ""):
            e, link = S.experiments, S.run_experiments
            eq = select(e.c.id)
            if isinstance(experiment, int) or str(experiment).isdigit():
                eq = eq.where((e.c.id == int(experiment)) | (e.c.name == str(experiment)))
            else:
                eq = eq.where(e.c.name == experiment)
            if pid is not None:
                eq = eq.where(e.c.project_id == pid)
            eids = [x[0] for x in conn.execute(eq)]
            if not eids:
                raise NotFound(f"no experiment {experiment!r}" + (f" in project {project!r}" if pid else ""))
            conds.append(r.c.id.in_(select(link.c.run_id).where(link.c.experiment_id.in_(eids))))
        if campaign not in (None, ""):
            c, link = S.campaigns, S.campaign_runs
            cid = conn.execute(select(c.c.id).where(c.c.name == campaign)).first()
            if cid is None:
                raise NotFound(f"no campaign {campaign!r}")
            conds.append(r.c.id.in_(select(link.c.run_id).where(link.c.campaign_id == cid[0])))
        return and_(*conds)

    # column order of _search's rows: the first ten are run_table's ``base`` columns, so a row slice is a base row
    _BASE_COLUMNS = ("run_id", "name", "status", "start_time", "end_time", "heartbeat_at", "project", "user",
                     "parent_id", "source")
    _ID, _NAME, _STATUS, _START, _END, _BEAT, _PROJ, _USER, _PARENT, _SOURCE, _PID, _DESC, _ERR, _ROW = range(14)

    def _search(self, project, experiment, campaign, filter, order_by, limit, offset, kind="table"):
        """Rows of the runs in scope and the total. Columns as above, then per ``kind``: "table" ``runs.table_row``,
        "summaries" that and ``run_summaries.metrics``, "frame" ``frame_keys``, ``frame_nums``, ``frame_text`` —
        fragments built here where a write cleared them."""
        r, rs = S.runs, S.run_summaries
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise InvalidInput(f"limit must be a non-negative integer, not {limit!r}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise InvalidInput(f"offset must be a non-negative integer, not {offset!r}")
        order = Q.order_by_sql(order_by, r)
        ID, ROW = self._ID, self._ROW
        with self.read() as conn:
            where = self._run_scope(conn, project, experiment, campaign, filter)
            c = r.c
            q = select(c.id, c.name, c.status, c.start_time, c.end_time, c.heartbeat_at, S.projects.c.name, c.user,
                       c.parent_id, c.source, c.project_id, c.description, c.error)
            q = q.join(S.projects, S.projects.c.id == c.project_id)
            if kind == "frame":  # the frame fragments, and whether they are current (not the table_row text)
                q = q.add_columns(case((c.table_row == "", None), else_=c.frame_keys), c.frame_nums, c.frame_text)
            else:
                q = q.add_columns(c.table_row)
            if kind == "summaries":
                q = q.add_columns(rs.c.metrics).outerjoin(rs, rs.c.run_id == c.id)
            q = q.where(where).order_by(*order).offset(offset)
            if limit is not None:
                q = q.limit(limit)
            read_at = time.time()
            rows = _fetch_raw(conn, q)
            # the page tells the total when it is not full (and, past offset 0, not empty): the filter's
            # subqueries then run once, not twice
            if (limit is None or len(rows) < limit) and (rows or not offset):
                total = offset + len(rows)
            else:
                total = conn.execute(select(func.count()).select_from(r).where(where)).scalar_one()
            stale = [row[ID] for row in rows if row[ROW] is None or row[ROW] == ""]
            built = {}
            if stale:
                built = self._build_table_rows(conn, stale)
                pick = {"table": slice(0, 1), "summaries": slice(0, 2), "frame": slice(2, 5)}[kind]
                rows = [row if row[ROW] else row[:ROW] + tuple(built[row[ID]])[pick] for row in rows]
        if len(stale) >= _PERSIST_STALE:  # many runs written without ending: store the fragments just built
            try:  # only where nothing was written since this read began (a newer write cleared them again)
                self.write(lambda c: self._store_table_rows(c, built, read_at))
            except (OperationalError, InvalidInput):  # pragma: no cover - a busy store: the next reader tries again
                pass
        return rows, total

    def _base_rows(self, rows: list[tuple]) -> list[tuple]:
        """The ``base`` tuples of run_table/run_frame: a row's first ten columns, status "crashed" for a running run
        without a recent heartbeat."""
        stale = time.time() - STALE_AFTER
        ST, START, BEAT = self._STATUS, self._START, self._BEAT
        return [row[:10] if row[ST] != "running" or (row[BEAT] or row[START]) >= stale else
                row[:ST] + ("crashed",) + row[ST + 1:10] for row in rows]

    def run_frame(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                  limit: int | None = None, offset: int = 0) -> dict:
        """:meth:`run_table`'s material for a DataFrame, with the numbers as arrays: ``numeric`` maps each numeric
        column ("params.k", "metrics.k") to an int64 or float64 array over the rows; ``params`` holds the other
        params only. Built from ``frame_nums`` blobs (one array per set of keys), so 10,000 runs × 30 numbers
        never become 300,000 Python objects."""
        with gc_paused():
            rows, total = self._search(project, experiment, campaign, filter, order_by, limit, offset, kind="frame")
            K = self._ROW
            details = _decode_members([row[K + 2] for row in rows], _EMPTY_FRAME)
            groups: dict[str, list[int]] = defaultdict(list)
            for i, row in enumerate(rows):
                groups[row[K] or ""].append(i)
            numeric = _frame_columns(groups, [row[K + 1] or b"" for row in rows], len(rows))
            base = self._base_rows(rows)
        return {"total": total, "columns": self._BASE_COLUMNS, "base": base,
                **_split_details(details, ("experiments", "params", "tags")), "numeric": numeric}

    def search_runs(
        self,
        project: int | str | None = None,
        experiment: int | str | None = None,
        campaign: str | None = None,
        filter: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[dict], int]:
        """Runs matching the scope and filter, as dicts (RunSummary of docs/rest-api.md, with ``heartbeat_at`` and
        ``error``; metric values as floats), plus the total count. Reads ``runs.table_row`` and the series
        summaries, never the points."""
        now = time.time()
        ROW = self._ROW
        with gc_paused():
            rows, total = self._search(project, experiment, campaign, filter, order_by, limit, offset, kind="summaries")
            details = _decode_json("[" + ",".join(_full_fragment(row[ROW], row[ROW + 1]) for row in rows) + "]")
            out = []
            for row, d in zip(rows, details):
                run = self._row_dict(row, now)
                run.update(d)
                for m in run["metrics"]:
                    for k in ("last", "min", "max"):
                        v = m[k]
                        if v.__class__ is str:
                            m[k] = _SPECIAL[v]
                out.append(run)
        return out, total

    def _row_dict(self, row: tuple, now: float) -> dict:
        status = row[self._STATUS]
        if status == "running" and (row[self._BEAT] or row[self._START]) < now - STALE_AFTER:
            status = "crashed"
        return {
            "id": row[self._ID], "name": row[self._NAME], "status": status, "project_id": row[self._PID],
            "project": row[self._PROJ], "parent_id": row[self._PARENT], "user": row[self._USER],
            "source": row[self._SOURCE], "start_time": row[self._START], "end_time": row[self._END],
            "description": row[self._DESC], "heartbeat_at": row[self._BEAT], "error": row[self._ERR],
        }

    def run_table(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                  limit: int | None = None, offset: int = 0) -> dict:
        """Columnar material for a DataFrame of runs: ``base`` (row tuples, names in ``columns``) and, per run,
        the ``experiments`` list and ``params``, ``tags`` and ``metrics`` (series key → last value; non-finite
        values as "NaN", "Infinity", "-Infinity") dicts — all parsed from ``runs.table_row`` in one go."""
        with gc_paused():
            rows, total = self._search(project, experiment, campaign, filter, order_by, limit, offset)
            details = _decode_members([row[self._ROW] for row in rows], _EMPTY_TABLE)
            base = self._base_rows(rows)
        return {"total": total, "columns": self._BASE_COLUMNS, "base": base,
                **_split_details(details, ("experiments", "params", "tags", "metrics"))}

    def run_columns(self, project=None, experiment=None, campaign=None, filter=None) -> dict[str, list[str]]:
        """The param keys, metric series keys and tag keys used by the runs in scope (for column choosers)."""
        r, p, t, ms = S.runs, S.params, S.tags, S.metric_series
        with self.read() as conn:
            where = self._run_scope(conn, project, experiment, campaign, filter)
            scope = select(r.c.id).where(where)
            params = [x[0] for x in conn.execute(select(p.c.key).distinct().where(p.c.run_id.in_(scope)).order_by(p.c.key))]
            tags_ = [x[0] for x in conn.execute(select(t.c.key).distinct().where(t.c.run_id.in_(scope)).order_by(t.c.key))]
            metrics = sorted({series_key(n, c) for n, c in conn.execute(
                select(ms.c.name, ms.c.context).distinct().where(ms.c.run_id.in_(scope)))})
        return {"params": params, "metrics": metrics, "tags": tags_}

    def search_runs_json(self, project=None, experiment=None, campaign=None, filter=None, order_by=None,
                         limit: int | None = 100, offset: int = 0, view: str = "full") -> tuple[str, int]:
        """The runs of :meth:`search_runs` as the JSON text of the REST ``runs`` array, put together as text from
        the stored fragments (never parsed). ``view="full"``: each run with its metric summaries (``metrics`` a
        list of MetricSummary, from the series rows); ``view="table"``: the run table's compact rows (``metrics``
        maps each series key to its last value, as the DataFrame and the search language do)."""
        if view not in ("full", "table"):
            raise InvalidInput(f"view must be 'full' or 'table', not {view!r}")
        full = view == "full"
        rows, total = self._search(project, experiment, campaign, filter, order_by, limit, offset,
                                   kind="summaries" if full else "table")
        stale = time.time() - STALE_AFTER
        enc = encode_json
        I = self
        ROW = I._ROW
        parts = []
        for row in rows:
            status = row[I._STATUS]
            if status == "running" and (row[I._BEAT] or row[I._START]) < stale:
                status = "crashed"
            head = enc({"id": row[I._ID], "name": row[I._NAME], "status": status, "project_id": row[I._PID],
                        "project": row[I._PROJ], "parent_id": row[I._PARENT], "user": row[I._USER],
                        "source": row[I._SOURCE], "start_time": row[I._START], "end_time": row[I._END],
                        "description": row[I._DESC]})
            frag = _full_fragment(row[ROW], row[ROW + 1])[1:-1] if full else row[ROW] or _EMPTY_TABLE
            parts += (head[:-1].decode(), ",", frag, "},")
        if parts:
            parts[-1] = "}"
        return "[" + "".join(parts) + "]", total

    def _run_dict(self, row, now: float) -> dict:
        m = row._mapping
        status = m["status"]
        if status == "running" and (m["heartbeat_at"] or m["start_time"]) < now - STALE_AFTER:
            status = "crashed"
        return {
            "id": m["id"], "name": m["name"], "status": status, "project_id": m["project_id"],
            "project": m["project"], "experiments": [], "parent_id": m["parent_id"], "user": m["user"],
            "source": m["source"], "start_time": m["start_time"], "end_time": m["end_time"],
            "description": m["description"], "heartbeat_at": m["heartbeat_at"], "error": m["error"],
            "params": {}, "tags": {}, "metrics": [],
        }

    def _attach_details(self, conn, runs_: list[dict], ids_select) -> None:
        by_id = {x["id"]: x for x in runs_}
        p, t, ms, e, link = S.params, S.tags, S.metric_series, S.experiments, S.run_experiments
        for rid, key, value in conn.execute(select(p.c.run_id, p.c.key, p.c.value).where(p.c.run_id.in_(ids_select))):
            by_id[rid]["params"][key] = json.loads(value)
        for rid, key, value in conn.execute(select(t.c.run_id, t.c.key, t.c.value).where(t.c.run_id.in_(ids_select))):
            by_id[rid]["tags"][key] = value
        q = select(
            ms.c.run_id, ms.c.name, ms.c.context, ms.c.last, ms.c.last_step, ms.c.last_time, ms.c.min, ms.c.max,
            ms.c.count,
        ).where(ms.c.run_id.in_(ids_select)).order_by(ms.c.name, ms.c.context)
        for row in conn.execute(q):
            by_id[row.run_id]["metrics"].append({
                "name": row.name, "context": json.loads(row.context), "key": series_key(row.name, row.context),
                "last": _float_or_nan(row.last, row.count), "last_step": row.last_step, "last_time": row.last_time,
                "min": row.min, "max": row.max, "count": row.count,
            })
        q = select(link.c.run_id, e.c.name).join(e, e.c.id == link.c.experiment_id).where(link.c.run_id.in_(ids_select))
        for rid, name in conn.execute(q.order_by(e.c.name)):
            by_id[rid]["experiments"].append(name)

    def get_run(self, run_id: str) -> dict:
        r = S.runs
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInput(f"run id must be a non-empty string, not {run_id!r}")
        now = time.time()
        with self.read() as conn:
            row = conn.execute(
                select(r, S.projects.c.name.label("project"))
                .join(S.projects, S.projects.c.id == r.c.project_id)
                .where(r.c.id == run_id)
            ).first()
            if row is None:
                raise NotFound(f"no run {run_id!r}")
            run = self._run_dict(row, now)
            self._attach_details(conn, [run], select(r.c.id).where(r.c.id == run_id))
            run["children"] = [
                x[0] for x in conn.execute(select(r.c.id).where(r.c.parent_id == run_id).order_by(r.c.start_time))
            ]
            run["artifacts"] = self._artifacts(conn, S.artifacts.c.run_id == run_id)
            ri, ar = S.run_inputs, S.artifacts
            run["inputs"] = [
                dict(m._mapping)
                for m in conn.execute(
                    select(ri.c.artifact_id, ar.c.run_id, ar.c.name, ar.c.type, ar.c.version, ri.c.role)
                    .join(ar, ar.c.id == ri.c.artifact_id)
                    .where(ri.c.run_id == run_id)
                )
            ]
            c, cr = S.campaigns, S.campaign_runs
            run["campaigns"] = [
                x[0] for x in conn.execute(select(c.c.name).join(cr, cr.c.campaign_id == c.c.id).where(cr.c.run_id == run_id))
            ]
        return run

    def _artifacts(self, conn, where) -> list[dict]:
        ar, af = S.artifacts, S.artifact_files
        arts = [dict(m._mapping) for m in conn.execute(select(ar).where(where).order_by(ar.c.name, ar.c.version))]
        if not arts:
            return []
        files = defaultdict(list)
        q = select(af).where(af.c.artifact_id.in_([a["id"] for a in arts])).order_by(af.c.path)
        for f in conn.execute(q):
            files[f.artifact_id].append(
                {"path": f.path, "size": f.size, "sha256": f.sha256, "media_type": f.media_type}
            )
        for a in arts:
            a["metadata"] = json.loads(a.pop("meta") or "{}")
            a["files"] = files[a["id"]]
        return arts

    def get_artifact(self, artifact_id: int) -> dict:
        with self.read() as conn:
            arts = self._artifacts(conn, S.artifacts.c.id == int(artifact_id))
        if not arts:
            raise NotFound(f"no artifact {artifact_id}")
        return arts[0]

    def find_artifact(self, run_id: str, name: str, version: int | None = None) -> dict:
        ar = S.artifacts
        with self.read() as conn:
            w = and_(ar.c.run_id == run_id, ar.c.name == name)
            if version is not None:
                w = and_(w, ar.c.version == int(version))
            arts = self._artifacts(conn, w)
        if not arts:
            raise NotFound(f"run {run_id!r} has no artifact {name!r}" + (f" version {version}" if version else ""))
        return arts[-1]

    def artifact_file(self, artifact_id: int, path: str) -> dict:
        """The stored file of an artifact: its row plus ``blob_path``."""
        art = self.get_artifact(artifact_id)
        for f in art["files"]:
            if f["path"] == path:
                return {**f, "artifact": art, "blob_path": str(self.blobs.path(f["sha256"]))}
        raise NotFound(f"artifact {artifact_id} ({art['name']}) has no file {path!r}")

    def list_series(self, run_id: str) -> list[dict]:
        return self.get_run(run_id)["metrics"]

    def get_series(
        self, run_id: str, name: str, context: Mapping[str, Any] | str | None = None, max_points: int | None = None
    ) -> dict:
        """One metric series, sorted by step, optionally downsampled: dict with ``points`` (:class:`Points`)."""
        ctx = context_json(context)
        ms, mc = S.metric_series, S.metric_chunks
        if max_points is not None and (not isinstance(max_points, int) or max_points < 3):
            raise InvalidInput(f"max_points must be an integer ≥ 3, not {max_points!r}")
        with self.read() as conn:
            row = conn.execute(
                select(ms.c.id, ms.c.count).where(ms.c.run_id == run_id, ms.c.name == name, ms.c.context == ctx)
            ).first()
            if row is None:
                if conn.execute(select(S.runs.c.id).where(S.runs.c.id == run_id)).first() is None:
                    raise NotFound(f"no run {run_id!r}")
                raise NotFound(f"run {run_id} has no metric {series_key(name, ctx)!r}")
            if SER.use_overviews(row.count, max_points):
                # a chart of a long series: a chunk's overview instead of its points where it has one (the data
                # blob of such a chunk is not even read)
                has_ov = mc.c.overview.isnot(None)
                chunks = conn.execute(
                    select(mc.c.count, case((has_ov, mc.c.overview_count), else_=None),
                           case((has_ov, mc.c.overview), else_=mc.c.data))
                    .where(mc.c.series_id == row.id).order_by(mc.c.seq)
                ).all()
            else:
                chunks = [(c.count, None, c.data) for c in conn.execute(
                    select(mc.c.count, mc.c.data).where(mc.c.series_id == row.id).order_by(mc.c.seq)
                )]
        pts, stands_for, from_overviews = SER.decode_chunks(chunks)
        pts = pts.sorted_by_step()
        total = len(pts) - from_overviews + stands_for
        pts, down = SER.downsample(pts, max_points)
        down = down or stands_for > 0
        return {
            "run_id": run_id, "name": name, "context": json.loads(ctx), "key": series_key(name, ctx),
            "total_count": total, "downsampled": down, "points": pts,
        }


    def get_series_many(self, run_ids: list[str], name: str, context: Mapping[str, Any] | str | None = None,
                        max_points: int | None = None, step_range: tuple[int, int] | None = None) -> list[dict]:
        """The series ``name``/``context`` of many runs (for overlay charts) in two queries; runs without that
        series are left out. Same dicts as :meth:`get_series`, in the order of ``run_ids``. ``step_range``
        (inclusive) reads only the chunks overlapping it — zooming into a long series stays cheap."""
        ctx = context_json(context)
        ms, mc = S.metric_series, S.metric_chunks
        if max_points is not None and (not isinstance(max_points, int) or max_points < 3):
            raise InvalidInput(f"max_points must be an integer ≥ 3, not {max_points!r}")
        if not isinstance(run_ids, (list, tuple)) or not all(isinstance(r, str) for r in run_ids):
            raise InvalidInput("run_ids must be a list of run ids")
        ids: dict[int, str] = {}
        big: set[int] = set()  # series read from chunk overviews (see series.use_overviews)
        chunks: dict[int, list] = defaultdict(list)
        in_range = [] if step_range is None else [mc.c.step_max >= int(step_range[0]),
                                                  mc.c.step_min <= int(step_range[1])]
        n_read = None  # per series: the number of points in the chunks to read
        if max_points is not None:
            n_read = ms.c.count if step_range is None else select(func.coalesce(func.sum(mc.c.count), 0)).where(
                mc.c.series_id == ms.c.id, *in_range).scalar_subquery()
        with self.read() as conn:
            for part in _chunks(list(dict.fromkeys(run_ids))):
                for r in conn.execute(
                    select(ms.c.id, ms.c.run_id, *(() if n_read is None else (n_read,)))
                    .where(ms.c.run_id.in_(part), ms.c.name == name, ms.c.context == ctx)
                ):
                    ids[r[0]] = r[1]
                    if n_read is not None and SER.use_overviews(int(r[2]), max_points):
                        big.add(r[0])
            # in a series in ``big``, an overview replaces a chunk lying wholly inside the range (its data blob is not
            # read); chunks on the range's edges are read in full, so the edge points and the count stay exact
            has_ov = and_(mc.c.overview.isnot(None), *(() if step_range is None else (
                mc.c.step_min >= int(step_range[0]), mc.c.step_max <= int(step_range[1]))))
            for part in _chunks(sorted(ids)):
                big_part = [sid for sid in part if sid in big]
                if big_part:
                    use = has_ov if len(big_part) == len(part) else and_(has_ov, mc.c.series_id.in_(big_part))
                    q = select(mc.c.series_id, mc.c.count, case((use, mc.c.overview_count), else_=None),
                               case((use, mc.c.overview), else_=mc.c.data))
                else:
                    q = select(mc.c.series_id, mc.c.count, mc.c.data)
                q = q.where(mc.c.series_id.in_(part), *in_range).order_by(mc.c.series_id, mc.c.seq)
                for r in _fetch_raw(conn, q):
                    chunks[r[0]].append((r[1], r[2], r[3]) if big_part else (r[1], None, r[2]))
        by_run = {}
        ctx_obj = json.loads(ctx)
        key = series_key(name, ctx)
        for sid, rid in ids.items():
            pts, stands_for, from_overviews = SER.decode_chunks(chunks[sid])
            pts = pts.sorted_by_step()
            if step_range is not None:  # overview points all lie inside it: this cuts only chunks read in full
                lo, hi = np.searchsorted(pts.steps, [int(step_range[0]), int(step_range[1])], side="left")[0], \
                    np.searchsorted(pts.steps, int(step_range[1]), side="right")
                pts = pts.slice(int(lo), int(hi))
            total = len(pts) - from_overviews + stands_for
            pts, down = SER.downsample(pts, max_points)
            down = down or stands_for > 0
            by_run[rid] = {"run_id": rid, "name": name, "context": ctx_obj, "key": key, "total_count": total,
                           "downsampled": down, "points": pts}
        return [by_run[r] for r in dict.fromkeys(run_ids) if r in by_run]


# ----------------------------------------------------------------------------------------------------------------
# batch normalisation (shared by the local writer and the HTTP endpoint)

_RUN_FIELDS = {"id", "name", "project", "experiments", "campaigns", "parent_id", "user", "source", "description",
               "start_time", "status"}
_UPDATE_FIELDS = {"run_id", "status", "end_time", "error", "description", "name"}


def _need(item: Any, kind: str, fields: Iterable[str]) -> dict:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"batch: each {kind} item must be an object, got {item!r:.80}")
    for f in fields:
        if f not in item:
            raise InvalidInput(f"batch: {kind} item is missing {f!r}")
    return dict(item)


def _run_id(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v or len(v) > 32 or not all(c.isalnum() or c in "-_" for c in v):
        raise InvalidInput(f"batch: {where}: run id {v!r} must be 1-32 letters, digits, '-' or '_'")
    return v


def _array(v: Any, dtype: str, where: str) -> np.ndarray:
    if isinstance(v, (bytes, bytearray, memoryview)):
        if len(v) % 8:
            raise InvalidInput(f"batch: {where}: byte array length must be a multiple of 8")
        return np.frombuffer(v, dtype=dtype).astype(dtype[1:] if dtype.startswith("<") else dtype)
    if isinstance(v, np.ndarray):
        return v
    if not isinstance(v, (list, tuple)):
        raise InvalidInput(f"batch: {where} must be a list of numbers")
    if dtype.endswith("f8"):
        out = []
        for x in v:
            if isinstance(x, str):
                m = {"nan": np.nan, "infinity": np.inf, "-infinity": -np.inf, "inf": np.inf, "-inf": -np.inf}
                if x.lower() not in m:
                    raise InvalidInput(f"batch: {where}: {x!r} is not a number")
                out.append(m[x.lower()])
            elif x is None:
                out.append(np.nan)
            else:
                out.append(x)
        try:
            return np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInput(f"batch: {where} must hold numbers") from None
    try:
        arr = np.asarray(v)
        if arr.size and arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.mod(arr, 1) == 0):
                return arr.astype(np.int64)
            raise ValueError
        return arr.astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"batch: {where} must hold integers") from None


def normalize_batch(batch: Mapping[str, Any]) -> dict:
    """Validate a batch and bring it into the store's internal shape; raises :class:`InvalidInput`."""
    if not isinstance(batch, Mapping):
        raise InvalidInput("batch must be a JSON object")
    extra = set(batch) - {"runs", "params", "tags", "metrics", "updates", "artifacts", "inputs", "heartbeat"}
    if extra:
        raise InvalidInput(f"batch: unknown section(s) {', '.join(sorted(extra))}")
    out: dict[str, list] = {}
    for k in ("runs", "params", "tags", "metrics", "updates", "artifacts", "inputs", "heartbeat"):
        v = batch.get(k) or []
        if not isinstance(v, (list, tuple)):
            raise InvalidInput(f"batch: {k!r} must be a list")
        out[k] = list(v)
    runs_ = []
    for item in out["runs"]:
        r = _need(item, "runs", ["id"])
        bad = set(r) - _RUN_FIELDS
        if bad:
            raise InvalidInput(f"batch: runs item has unknown field(s) {', '.join(sorted(bad))}")
        r["id"] = _run_id(r["id"], "runs")
        if r.get("parent_id") is not None:
            r["parent_id"] = _run_id(r["parent_id"], "runs.parent_id")
        st = r.get("status") or "running"
        if st not in S.RUN_STATUSES:
            raise InvalidInput(f"batch: status {st!r} is not one of {', '.join(S.RUN_STATUSES)}")
        for f in ("name", "project", "user", "source", "description"):
            if r.get(f) is not None and not isinstance(r[f], str):
                raise InvalidInput(f"batch: runs.{f} must be a string")
        if r.get("project") is not None:
            check_key("project", r["project"])
        exps = r.get("experiments") or []
        if isinstance(exps, str) or not isinstance(exps, (list, tuple)):
            raise InvalidInput("batch: runs.experiments must be a list of names")
        r["experiments"] = [check_key("experiment", e) for e in exps]
        camps = r.get("campaigns") or []
        if isinstance(camps, str) or not isinstance(camps, (list, tuple)):
            raise InvalidInput("batch: runs.campaigns must be a list of names")
        r["campaigns"] = [check_key("campaign", c) for c in camps]
        if r.get("start_time") is not None and not isinstance(r["start_time"], (int, float)):
            raise InvalidInput("batch: runs.start_time must be seconds since the epoch")
        runs_.append(r)
    out["runs"] = runs_
    params = []
    for item in out["params"]:
        p = _need(item, "params", ["run_id", "key", "value"])
        _run_id(p["run_id"], "params")
        check_key("param", p["key"])
        params.append({"run_id": p["run_id"], "key": p["key"], "value": param_json(p["key"], p["value"])})
    out["params"] = params
    tags_ = []
    for item in out["tags"]:
        t = _need(item, "tags", ["run_id", "key", "value"])
        _run_id(t["run_id"], "tags")
        check_key("tag", t["key"])
        tags_.append({"run_id": t["run_id"], "key": t["key"], "value": None if t["value"] is None else tag_value(t["key"], t["value"])})
    out["tags"] = tags_
    metrics = []
    now = None  # points without timestamps are stamped with one clock reading per batch
    for item in out["metrics"]:
        m = _need(item, "metrics", ["run_id", "name", "values"])
        _run_id(m["run_id"], "metrics")
        check_key("metric", m["name"])
        where = f"metric {m['name']!r}"
        vals = _array(m["values"], "<f8", where + " values")
        n = len(vals)
        steps = m.get("steps")
        auto = steps is None  # continue the series: placed after its last step when written
        steps = np.arange(n, dtype=np.int64) if auto else _array(steps, "<i8", where + " steps")
        ts = m.get("timestamps")
        if ts is None:
            if now is None:
                now = time.time()
            ts = np.full(n, now)
        else:
            ts = _array(ts, "<f8", where + " timestamps")
        if not (len(steps) == len(ts) == n):
            raise InvalidInput(f"batch: {where}: steps, timestamps and values must have the same length")
        metrics.append({
            "run_id": m["run_id"], "name": m["name"], "context": context_json(m.get("context")),
            "points": SER.Points(steps.astype(np.int64, copy=False), ts.astype(np.float64, copy=False),
                                 vals.astype(np.float64, copy=False)),
            "auto_steps": auto,
        })
    out["metrics"] = metrics
    ups = []
    for item in out["updates"]:
        u = _need(item, "updates", ["run_id"])
        bad = set(u) - _UPDATE_FIELDS
        if bad:
            raise InvalidInput(f"batch: updates item has unknown field(s) {', '.join(sorted(bad))}")
        _run_id(u["run_id"], "updates")
        if "status" in u and u["status"] not in S.RUN_STATUSES:
            raise InvalidInput(f"batch: status {u['status']!r} is not one of {', '.join(S.RUN_STATUSES)}")
        if "end_time" in u and u["end_time"] is not None and not isinstance(u["end_time"], (int, float)):
            raise InvalidInput("batch: updates.end_time must be seconds since the epoch")
        ups.append(u)
    out["updates"] = ups
    arts = []
    for item in out["artifacts"]:
        a = _need(item, "artifacts", ["run_id", "name", "files"])
        _run_id(a["run_id"], "artifacts")
        check_key("artifact", a["name"])
        if not isinstance(a["files"], (list, tuple)):
            raise InvalidInput("batch: artifacts.files must be a list")
        files = []
        for f in a["files"]:
            f = _need(f, "artifacts.files", ["path", "sha256", "size"])
            if not isinstance(f["path"], str) or not f["path"] or f["path"].startswith("/") or ".." in f["path"].split("/"):
                raise InvalidInput(f"batch: artifact file path {f['path']!r} must be relative without '..'")
            if not isinstance(f["sha256"], str) or len(f["sha256"]) != 64:
                raise InvalidInput(f"batch: artifact file {f['path']!r}: sha256 must be 64 hex characters")
            files.append(f)
        a["files"] = files
        arts.append(a)
    out["artifacts"] = arts
    inputs = []
    for item in out["inputs"]:
        i = _need(item, "inputs", ["run_id", "artifact_id"])
        _run_id(i["run_id"], "inputs")
        if not isinstance(i["artifact_id"], int) or isinstance(i["artifact_id"], bool):
            raise InvalidInput(f"batch: inputs.artifact_id must be an integer, not {i['artifact_id']!r}")
        role = i.get("role") or "input"
        if not isinstance(role, str) or len(role) > 100:
            raise InvalidInput("batch: inputs.role must be a short string")
        inputs.append({"run_id": i["run_id"], "artifact_id": i["artifact_id"], "role": role})
    out["inputs"] = inputs
    out["heartbeat"] = [_run_id(x, "heartbeat") for x in out["heartbeat"]]
    return out
