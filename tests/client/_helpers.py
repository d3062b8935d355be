"""Plain helpers shared by the client tests (fixtures live in conftest.py)."""

from __future__ import annotations

import itertools
import os
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
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


def blob_files(store_dir: Path) -> list[Path]:
    """The blob files of a local store (temporary uploads excluded)."""
    root = Path(store_dir) / "artifacts"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".incoming-"))
