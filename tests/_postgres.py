"""A real PostgreSQL server for the tests: a throwaway cluster (``initdb`` + ``pg_ctl``) on a free loopback port,
started once per test session, with a fresh database per test.

The binaries come from the machine's PostgreSQL package (``pg_config --bindir``, else
``/usr/lib/postgresql/*/bin``). ``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
system user. The cluster trades durability for speed (``fsync=off``): it lives as long as the test session;
``Cluster(durable=True)`` keeps PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes on) for
measurements (bench/team.py).
``MLTRACK_TEST_POSTGRES=0`` leaves PostgreSQL out (the PostgreSQL cases are then skipped, saying so); by default a
missing PostgreSQL is an error, not a silent skip.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_names = itertools.count()
PASSWORD_ROLE = "mltrack_secret"  # the one role whose connections need a password (scram-sha-256)
PASSWORD = "s3cr3t-Pa55"


def enabled() -> bool:
    return os.environ.get("MLTRACK_TEST_POSTGRES", "1") not in ("0", "false", "no")


def _bindir() -> Path:
    found = []
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        if out:
            found.append(out)
    except OSError:
        pass
    found += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in found:
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl) were not found: install Debian's "
                       "postgresql package, or set MLTRACK_TEST_POSTGRES=0 to leave PostgreSQL out")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One running PostgreSQL server; :meth:`create_database` hands out fresh databases."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable  # True: PostgreSQL's durability defaults instead of the tests' fsync=off
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="mltrack-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres system user
            shutil.chown(self.root, user="postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 120) -> None:
        r = subprocess.run([*self._as_user, *args], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            log = (self.root / "log").read_text(errors="replace")[-3000:] if (self.root / "log").exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({r.returncode}): {r.stderr[-3000:]}\n{log}")

    def start(self) -> "Cluster":
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", *(() if self.durable else ("--no-sync",)))
        hba = self.data / "pg_hba.conf"  # one role must give its password (scram): see password_database
        hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        name = f"t{os.getpid()}_{next(_names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def password_database(self) -> tuple[str, str]:
        """A fresh database owned by a role that must give its password (every other role is trusted): its name
        and its URL, password included."""
        name = self.create_database()
        self._admin(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PASSWORD_ROLE}') THEN "
                    f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'; END IF; END $$")
        self._admin(f'ALTER DATABASE "{name}" OWNER TO {PASSWORD_ROLE}')
        return name, f"postgresql+psycopg://{PASSWORD_ROLE}:{PASSWORD}@127.0.0.1:{self.port}/{name}"

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
