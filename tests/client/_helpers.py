"""Plain helpers shared by the client tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from .._subprocess import REPO, subprocess_env, write_script  # noqa: F401 (re-exported)


def blob_files(store_dir: Path) -> list[Path]:
    """The blob files of a local store (temporary uploads excluded)."""
    root = Path(store_dir) / "artifacts"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".incoming-"))
