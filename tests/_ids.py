"""Test ids that can be selected again by node id."""

from __future__ import annotations


def clean_id(text: str) -> str:
    """``text`` with its square brackets shown as parentheses: a parametrized test whose id holds brackets (a filter
    like ``metrics.acc[subset=val] > 0``) is not always found again by its node id — pytest, asked for it in a
    process that has collected the tests before (what the mutation run's workers do), answers "not found"."""
    return text.replace("[", "(").replace("]", ")")
