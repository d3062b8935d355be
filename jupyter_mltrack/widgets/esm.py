"""Assemble a widget's ES module from the files in ``static/``: shared helpers first, then the view."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def esm(name: str, plotly: bool = False) -> str:
    """``common.js`` (+ ``plotly_loader.js``) + the view's own file, as one module."""
    parts = ["common.js"] + (["plotly_loader.js"] if plotly else []) + [name]
    return "\n".join((STATIC / p).read_text(encoding="utf-8") for p in parts)
