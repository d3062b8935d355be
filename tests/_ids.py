"""Test ids that can be selected again by node id."""

from __future__ import annotations


def clean_id(text: str) -> str:
    """``text`` as a plain id: square brackets shown as parentheses, backslashes and characters outside printable
    ASCII as ``%`` and their code point in hex. pytest escapes such characters in the node ids it reports, and a
    process that has collected the tests before (what the mutation run's workers are) does not find those ids
    again: it answers "not found"."""
    out = []
    for c in text:
        if c == "[":
            out.append("(")
        elif c == "]":
            out.append(")")
        elif c == "\\" or not " " <= c <= "~":
            out.append(f"%{ord(c):x}")
        else:
            out.append(c)
    return "".join(out)


def needs_cleaning(text: str) -> bool:
    return any(c in "[]\\" or not " " <= c <= "~" for c in text)
