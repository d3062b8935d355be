"""The database layer: where a store lives (a URI), its engine, transactions, and the one thread that writes.

- **Location** (``core/location.py``, :func:`resolve_uri`): the argument, else ``MLTRACK_URI``, else
  ``~/.mltrack/mltrack.db``.
- **Engine**: SQLite in WAL mode (``BEGIN IMMEDIATE`` for writes, so two writers never deadlock upgrading a read
  lock; a 60 s busy timeout) or any SQLAlchemy URL — PostgreSQL for teams — through the same code.
- **One write path** (:class:`Database`): every write transaction of a process runs on the database's single
  write thread (:class:`WriteThread`, an executor the server uses as its write executor). ``write(fn)`` from any
  other thread hands ``fn`` to it and waits; ``write_soon(fn)`` hands it over without waiting (readers use it for
  the run-table fragments they rebuilt). Reads run on the caller's thread and never write. A write is retried
  while the database is busy ("database is locked" never reaches a user) until a generous deadline. On SQLite the
  write thread also checkpoints the WAL once writes pause (its *idle job*), so commits rarely do it themselves.
- **Compiled statements** (:class:`Statement`): the write path's frequent statements compiled once per dialect
  and run on the DBAPI cursor.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import weakref
from concurrent.futures import Executor, Future
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from sqlalchemy import bindparam, create_engine, event, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from . import schema as S
from .errors import InvalidInput
from .location import DEFAULT_HOME, Location, default_home, resolve_uri  # noqa: F401 (re-exported)

T = TypeVar("T")

WRITE_DEADLINE = 300.0  # seconds a write keeps retrying while the database is busy
#: SQLite's WAL is checkpointed by a commit only past this many pages; before that by the write thread once idle
WAL_AUTOCHECKPOINT_PAGES = 4096
#: the write thread runs its idle job (the WAL checkpoint) after at least this much write work ...
IDLE_WORK = 0.02
#: ... once no write has come for this long
IDLE_AFTER = 0.05


# ----------------------------------------------------------------------------------------------------------------
# engine


def is_locked(e: BaseException) -> bool:
    msg = str(getattr(e, "orig", e)).lower()
    return "database is locked" in msg or "database table is locked" in msg or "busy" in msg


def make_engine(loc: Location) -> Engine:
    if loc.kind == "sqlite":
        Path(loc.path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            loc.url,
            connect_args={"timeout": 60, "check_same_thread": False},
            pool_size=8,
            max_overflow=16,
            pool_pre_ping=False,
        )

        folder = str(Path(loc.path).parent)

        @event.listens_for(engine, "do_connect")
        def _open(dialect, _record, cargs, cparams):
            # processes creating one new store at the same moment: an open failed now and then with SQLite's
            # "unable to open database file" (CANTOPEN) while another process was switching the new file to WAL —
            # about one run in forty of tests/core/test_store_concurrency.py's four-process creation under load.
            # The folder exists, so the open is tried again, a few times within a second.
            for attempt in range(8):
                try:
                    return dialect.loaded_dbapi.connect(*cargs, **cparams)
                except dialect.loaded_dbapi.OperationalError as e:
                    if attempt == 7 or "unable to open database file" not in str(e) or not os.path.isdir(folder):
                        raise
                    time.sleep(0.01 * 2 ** attempt)

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
            # the write thread checkpoints once it is idle (Database._checkpoint); a commit checkpoints itself only
            # past this many pages (16 MB), when writes never pause
            cur.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
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


# ----------------------------------------------------------------------------------------------------------------
# statements


def fetch_raw(conn: Connection, stmt) -> list[tuple]:
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


class Statement:
    """A statement compiled once per dialect (and per size of its IN list, rounded up to a power of two) and run on
    the DBAPI cursor. SQLAlchemy builds, keys and binds a statement anew on every call, which was most of the time of
    a small write (a one-point batch runs seven statements); the write path's frequent statements skip that. DBAPI
    errors are raised as SQLAlchemy's, so :meth:`Database.write` retries and reports them as usual.

    ``build(n)`` returns the statement; an IN list of ``n`` values binds ``i0`` … ``i{n-1}`` (see :func:`in_list`).
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


class RowsInsert:
    """An INSERT of many rows into ``table``, as statements of many rows each (``VALUES (…), (…)``): a power of two
    of rows, at most :attr:`MOST`, so a few statements are compiled and cached. ``executemany`` steps once per row,
    and SQLite's driver releases the interpreter lock at every step, which a busy thread beside it (the user's loop,
    logging) turns into a wait of its switch interval (5 ms) per row."""

    MOST = 64

    def __init__(self, table, columns: Sequence[str]):
        self._columns = tuple(columns)
        self._statements = {k: Statement(lambda n, k=k: insert(table).values(
            [{c: bindparam(f"{c}_{r}") for c in self._columns} for r in range(k)]))
            for k in (1 << e for e in range(self.MOST.bit_length()))}

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (mappings of column name to value)."""
        i = 0
        while i < len(rows):
            k = min(self.MOST, 1 << ((len(rows) - i).bit_length() - 1))
            self._statements[k].run(conn, {f"{c}_{r}": row[c] for r, row in enumerate(rows[i:i + k])
                                           for c in self._columns})
            i += k


def _no_params(_params) -> tuple:
    return ()


def in_list(n: int) -> list:
    """The bind parameters of an IN list of ``n`` values, for :class:`Statement` statements."""
    return [bindparam(f"i{k}") for k in range(n)]


def dialect_insert(dialect_name: str):
    """The INSERT (with ON CONFLICT support) of a dialect, by name."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert




def get_or_insert(conn: Connection, table, key: Mapping[str, Any], **values: Any) -> int:
    """The id of the row of ``table`` with the unique ``key`` columns, inserted (with ``values``) when missing;
    safe when another transaction inserts it at the same time."""
    q = select(table.c.id).where(*(table.c[k] == v for k, v in key.items()))
    row = conn.execute(q).first()
    if row is None:
        ins = dialect_insert(conn.dialect.name)(table).values(**key, **values)
        conn.execute(ins.on_conflict_do_nothing(index_elements=list(key)))
        row = conn.execute(q).first()
    return row[0]


def chunked(seq: Sequence | Iterable, n: int = 500) -> Iterable[list]:
    """``seq`` in lists of at most ``n`` (IN lists stay within every database's parameter limit)."""
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


BUMP_REVISION = Statement(lambda n: update(S.store_meta).values(revision=S.store_meta.c.revision + 1))


# ----------------------------------------------------------------------------------------------------------------
# the write thread


_write_threads: "weakref.WeakSet[WriteThread]" = weakref.WeakSet()


class WriteThread(Executor):
    """One daemon thread running the functions handed to it, in order. An :class:`~concurrent.futures.Executor`,
    so the server hands its writes to it with ``loop.run_in_executor``. A plain thread, not a pool: it starts even
    while the interpreter runs its exit handlers (the kernel's last flush), and a forked child gets a fresh one."""

    def __init__(self, name: str = "mltrack-store-write", idle: Callable[[], Any] | None = None):
        self._name = name
        self._idle = idle  # run once the thread has done IDLE_WORK seconds of work and then waited IDLE_AFTER
        self.idle_runs = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ident: int | None = None
        self._lock = threading.Lock()
        self._closed = False
        _write_threads.add(self)

    def on_thread(self) -> bool:
        """Whether the caller is this write thread."""
        return threading.get_ident() == self._ident

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> "Future[T]":
        if self._closed:
            raise RuntimeError("the store is closed")
        fut: Future = Future()
        self._queue.put((fut, fn, args, kwargs))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    t = threading.Thread(target=self._run, name=self._name, daemon=True)
                    t.start()
                    self._thread = t
        return fut

    def _run(self) -> None:
        self._ident = threading.get_ident()
        work = 0.0  # seconds of work since the idle job last ran
        while True:
            if self._idle is None or work < IDLE_WORK:
                item = self._queue.get()
            else:
                try:
                    item = self._queue.get(timeout=IDLE_AFTER)
                except queue.Empty:
                    work = 0.0
                    self.idle_runs += 1
                    try:
                        self._idle()
                    except Exception:  # housekeeping: the next idle moment tries again
                        pass
                    continue
            if item is None:
                return
            fut, fn, args, kwargs = item
            if not fut.set_running_or_notify_cancel():
                continue
            t = time.perf_counter()
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as e:  # handed to whoever waits on the future
                fut.set_exception(e)
            work += time.perf_counter() - t

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        t = self._thread
        if t is not None:
            self._queue.put(None)
            if wait and t is not threading.current_thread():
                t.join(timeout=30)

    def _after_fork(self) -> None:
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._ident = None
        self._lock = threading.Lock()


_databases: "weakref.WeakSet[Database]" = weakref.WeakSet()


def _reset_after_fork() -> None:
    """A forked child gets its own write threads and database connections (the parent's are the parent's)."""
    for w in list(_write_threads):
        w._after_fork()
    for d in list(_databases):
        d.engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# ----------------------------------------------------------------------------------------------------------------
# the database


class Database:
    """A store's database: its engine, read transactions, and write transactions on the one write thread."""

    def __init__(self, loc: Location):
        self.location = loc
        self.engine = make_engine(loc)
        self.dialect = "sqlite" if loc.kind == "sqlite" else self.engine.dialect.name
        self.writer = WriteThread(idle=self._checkpoint if self.dialect == "sqlite" else None)
        _databases.add(self)

    def _checkpoint(self) -> None:
        """Copy the WAL's pages into the database file (SQLite), on the write thread once it is idle: a commit
        then rarely does it, and a large write is stored (``flush`` returns) without waiting for it — a 500k-point
        write took 40–50 ms when its commit checkpointed, 24–26 ms otherwise. PASSIVE: readers are not waited for."""
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            raw.close()

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.engine.dispose()

    @contextlib.contextmanager
    def read(self):
        """A read transaction on the caller's thread: one snapshot for all its statements. SQLite's transactions
        are snapshots already; PostgreSQL's default (READ COMMITTED) gives each statement its own, so a reader
        could see a run's params before a concurrent batch and its points after — reads there run REPEATABLE READ,
        read only (such transactions never fail to serialise)."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn

    def write(self, fn: Callable[[Connection], T], bump: bool = True) -> T:
        """Run ``fn(conn)`` in one write transaction on the write thread and return its result (or raise its error).
        Called on the write thread (the server's write executor), it runs at once. ``bump=False``: a write no view
        shows (the job scheduler's lease) leaves the store's revision as it is."""
        if self.writer.on_thread():
            return self._transaction(fn, bump)
        return self.writer.submit(self._transaction, fn, bump).result()

    def write_soon(self, fn: Callable[[Connection], Any]) -> None:
        """Hand ``fn(conn)`` to the write thread without waiting; a failure is dropped (for work that a later
        reader redoes when it did not happen, such as storing rebuilt run-table fragments)."""
        try:
            self.writer.submit(self._transaction, fn)
        except RuntimeError:  # closed
            pass

    def _transaction(self, fn: Callable[[Connection], T], bump: bool = True) -> T:
        """One write transaction, retried while the database is busy; callbacks registered with
        :func:`after_commit` run once it has committed."""
        deadline = time.monotonic() + WRITE_DEADLINE
        delay = 0.005
        while True:
            try:
                with self.engine.connect().execution_options(mltrack_write=True) as conn:
                    conn.info.pop("mltrack_after_commit", None)
                    with conn.begin():
                        result = fn(conn)
                        if bump:
                            BUMP_REVISION.run(conn)
                    for cb in conn.info.pop("mltrack_after_commit", ()):
                        cb()
                    return result
            except IntegrityError as e:  # a constraint the validation did not foresee: refused for good, not retried
                raise InvalidInput(f"the store refused the write: {getattr(e, 'orig', e)}") from None
            except DBAPIError as e:  # SQLite busy; PostgreSQL serialization failures and deadlocks: the whole
                # transaction was rolled back, so it is run again (psycopg reports a deadlock as an OperationalError)
                if not (is_locked(e) or _retryable_pg(e)) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _retryable_pg(e: DBAPIError) -> bool:
    orig = getattr(e, "orig", None)
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) in ("40001", "40P01")


def after_commit(conn: Connection, fn: Callable[[], None]) -> None:
    """Run ``fn`` once the write transaction of ``conn`` has committed (never when it rolls back)."""
    conn.info.setdefault("mltrack_after_commit", []).append(fn)
