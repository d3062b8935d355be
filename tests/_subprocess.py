"""Helpers shared by every test folder: run real Python subprocesses on the source tree."""

from __future__ import annotations

import itertools
import os
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_counter = itertools.count()


def subprocess_env(**extra: str) -> dict:
    """The current environment (with the test's MLTRACK_HOME) plus the source tree on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(extra)
    return env


def write_script(folder: Path, code: str) -> Path:
    p = folder / f"script_{next(_counter)}.py"
    p.write_text(textwrap.dedent(code))
    return p


_LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=120, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("LOCKED", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def hold_write_lock(folder: Path, db: str, seconds: float):
    """Another process holding the SQLite store's write lock for ``seconds`` (returned once it holds it): the
    store's writers wait meanwhile. Returns the process (``.wait()`` for the release)."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, str(write_script(folder, _LOCKER)), db, str(seconds)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "LOCKED"
    return p
