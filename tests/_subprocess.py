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
