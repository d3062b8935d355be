"""Schemathesis hooks for tests/server/test_fuzz.py (loaded through ``hooks`` in schemathesis.toml).

A few rules of the batch cannot be written in JSON Schema: a metric item's ``steps`` and ``timestamps`` are as long as
its ``values``, an artifact names each file path once, a run is not its own parent. Without help, a fraction of the
*positive* (schema-valid) batches schemathesis generates break one of them, and the server rightly answers 400 —
which the ``positive_data_acceptance`` check would report. This hook brings positive batches in line with those rules
(it only shortens lists, drops repeated files and clears a self-parent, so the batch stays schema-valid); negative
cases are left exactly as generated.
"""

from __future__ import annotations

import schemathesis


def _is_positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _fix_metric(item: dict) -> None:
    lists = [item[k] for k in ("values", "steps", "timestamps") if isinstance(item.get(k), list)]
    n = min(len(x) for x in lists) if lists else 0
    for k in ("values", "steps", "timestamps"):
        if isinstance(item.get(k), list):
            del item[k][n:]


def _fix_artifact(item: dict) -> None:
    files, seen = item.get("files"), set()
    if isinstance(files, list):
        keep = []
        for f in files:
            path = f.get("path") if isinstance(f, dict) else None
            if path in seen:
                continue
            seen.add(path)
            keep.append(f)
        files[:] = keep


def _fix_run(item: dict) -> None:
    if item.get("parent_id") is not None and item.get("parent_id") == item.get("id"):
        item["parent_id"] = None


_FIXES = {"metrics": _fix_metric, "artifacts": _fix_artifact, "runs": _fix_run}


@schemathesis.hook
def map_case(context, case):
    if case.method.upper() == "POST" and case.path.endswith("/batch") and _is_positive(case) \
            and isinstance(case.body, dict):
        for section, fix in _FIXES.items():
            items = case.body.get(section)
            if isinstance(items, list):
                for item in items:
                    if isinstance(item, dict):
                        fix(item)
    return case
