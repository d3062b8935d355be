"""Each rule is written once (core/run_shape.py, core/wire.py, core/batch.py) and every read path agrees with it:
the crashed status, non-finite values and the batch's declared shape."""

from __future__ import annotations

import json
import math
import time
from typing import get_type_hints

import numpy as np
import pytest

from jupyter_mltrack.core import batch as B
from jupyter_mltrack.core import run_shape as R
from jupyter_mltrack.core import wire as W
from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.core.series import Points

from ._helpers import execute

STALE = R.STALE_AFTER

# (id, status, heartbeat_at age or None, start age) → the status every reader must report
CASES = [
    ("fresh", "running", 1, 1000, "running"),
    ("beat_stale", "running", STALE + 50, STALE + 100, "crashed"),
    ("no_beat_young", "running", None, 10, "running"),
    ("no_beat_old", "running", None, STALE + 10, "crashed"),  # coalesce(heartbeat, start): no heartbeat yet
    ("beat_fresh_old_start", "running", 5, STALE * 10, "running"),
    ("finished_old", "finished", None, STALE * 10, "finished"),
    ("failed_old", "failed", STALE * 2, STALE * 3, "failed"),
]


@pytest.fixture
def aged(store):
    now = time.time()
    store.write_batch({"runs": [{"id": c[0], "status": c[1]} for c in CASES]})
    for rid, _status, beat, start, _want in CASES:
        execute(store, "UPDATE runs SET heartbeat_at = :b, start_time = :s, table_row = '' WHERE id = :i",
                b=None if beat is None else now - beat, s=now - start, i=rid)
    return store


def test_every_read_path_applies_the_crashed_rule_alike(aged):
    want = {c[0]: c[4] for c in CASES}
    assert {rid: aged.get_run(rid)["status"] for rid in want} == want
    assert {r["id"]: r["status"] for r in aged.search_runs()[0]} == want
    table = aged.run_table()
    assert {row[0]: row[2] for row in table["base"]} == want
    frame = aged.run_frame()
    assert {row[0]: row[2] for row in frame["base"]} == want
    text, _ = aged.search_runs_json()
    assert {r["id"]: r["status"] for r in json.loads(text)} == want
    for status in ("running", "crashed", "finished"):  # the SQL twin: filters and sorting
        runs, _ = aged.search_runs(filter=f"status = '{status}'")
        assert {r["id"] for r in runs} == {k for k, v in want.items() if v == status}, status


def test_python_and_sql_forms_of_the_rule_agree(aged):
    from sqlalchemy import select

    from jupyter_mltrack.core import schema as S

    now = time.time()
    with aged.db.read() as conn:
        rows = conn.execute(select(S.runs.c.id, S.runs.c.status, S.runs.c.heartbeat_at, S.runs.c.start_time,
                                   R.status_sql(S.runs, now))).all()
    for rid, status, beat, start, sql_status in rows:
        assert R.effective_status(status, beat, start, now) == sql_status, rid


# -- non-finite values ------------------------------------------------------------------------------------------------

def test_the_wire_form_of_non_finite_values_round_trips():
    for v in (math.nan, math.inf, -math.inf, 0.0, -1.5, 1e308):
        w = W.float_to_wire(v)
        assert isinstance(w, str) == (not math.isfinite(v))
        back = W.float_from_wire(w)
        assert (math.isnan(back) and math.isnan(v)) or back == v
        text = W.num_text(v)
        decoded = json.loads(text)
        assert decoded == w if isinstance(w, str) else decoded == v
    assert W.num_text(None) == "null"
    assert W.stored_float(None, 3) != W.stored_float(None, 3)  # NaN: SQLite kept it as NULL
    assert W.stored_float(None, 0) is None
    assert W.jsonable({"a": [math.nan, {"b": (math.inf,)}], "c": 1.0}) == {"a": ["NaN", {"b": ["Infinity"]}], "c": 1.0}
    lists = W.series_lists(Points(np.array([0, 1, 2]), np.array([0.0, 1.0, 2.0]), np.array([np.nan, -np.inf, 3.0])))
    assert lists["values"] == ["NaN", "-Infinity", 3.0]
    assert json.loads(W.encode_json(lists)) == lists


def test_every_read_path_shows_non_finite_values_alike(store):
    store.write_batch({
        "runs": [{"id": "r"}],
        "metrics": [{"run_id": "r", "name": "nan", "values": [1.0, "NaN"]},
                    {"run_id": "r", "name": "up", "values": [2.0, "Infinity"]},
                    {"run_id": "r", "name": "down", "values": [3.0, "-Infinity"]}],
    })
    want = {"nan": math.nan, "up": math.inf, "down": -math.inf}

    def same(a, b):
        return (isinstance(a, float) and math.isnan(a) and math.isnan(b)) or a == b

    for source in ("get_run", "search_runs"):
        run = store.get_run("r") if source == "get_run" else store.search_runs()[0][0]
        lasts = {m["name"]: m["last"] for m in run["metrics"]}
        assert all(same(lasts[k], v) for k, v in want.items()), (source, lasts)
    table = store.run_table()["metrics"][0]
    assert {k: W.float_from_wire(v) for k, v in table.items()}.keys() == want.keys()
    assert all(same(W.float_from_wire(table[k]), v) for k, v in want.items())
    frame = store.run_frame()["numeric"]
    assert all(same(float(frame["metrics." + k][0]), v) for k, v in want.items())
    for view in ("full", "table"):
        text, _ = store.search_runs_json(view=view)
        run = json.loads(text)[0]
        if view == "full":
            lasts = {m["name"]: m["last"] for m in run["metrics"]}
        else:
            lasts = run["metrics"]
        assert lasts == {"nan": "NaN", "up": "Infinity", "down": "-Infinity"}, view


# -- the batch -------------------------------------------------------------------------------------------------------

ITEM_TYPES = {"projects": B.ProjectItem, "experiments": B.ExperimentItem,
              "campaigns": B.CampaignItem, "runs": B.RunItem, "params": B.ParamItem,
              "tags": B.TagItem, "metrics": B.MetricItem, "artifacts": B.ArtifactItem, "artifacts.files": B.FileItem,
              "figures": B.FigureItem, "inputs": B.InputItem, "updates": B.UpdateItem, "models": B.ModelItem, "datasets": B.DatasetItem,
              "aliases": B.AliasItem, "stages": B.StageItem}


def test_the_batch_is_declared_once():
    assert tuple(get_type_hints(B.Batch)) == B.BATCH_KEYS == ("id",) + B.SECTIONS
    assert tuple(get_type_hints(B.NormalBatch)) == B.BATCH_KEYS
    assert set(ITEM_TYPES) == set(B.ITEM_FIELDS)
    for kind, (required, optional) in B.ITEM_FIELDS.items():
        assert set(get_type_hints(ITEM_TYPES[kind])) == set(required) | set(optional), kind
    assert set(B.RUN_SECTIONS) < set(B.SECTIONS)


@pytest.mark.parametrize("kind", [k for k in B.ITEM_FIELDS if k != "artifacts.files"])
def test_an_unknown_or_missing_field_is_refused_by_name(kind):
    required, _ = B.ITEM_FIELDS[kind]
    with pytest.raises(InvalidInput, match=f"{kind} item has unknown field.*surplus"):
        B.normalize_batch({kind: [{**{f: None for f in required}, "surplus": 1}]})
    with pytest.raises(InvalidInput, match=f"{kind} item is missing '{required[-1]}'"):
        B.normalize_batch({kind: [{f: None for f in required[:-1]}]})


def test_the_small_writes_are_batch_sections(store):
    w = store.write_batch({"projects": [{"name": "P", "description": "about P"}],
                           "experiments": [{"project": "P", "name": "E", "description": "about E"}]})
    assert (w["projects"], w["experiments"]) == (1, 1)
    assert store.get_project("P")["description"] == "about P"
    assert [(x["name"], x["description"]) for x in store.list_experiments("P")] == [("E", "about E")]
    with pytest.raises(InvalidInput, match="models.artifact_id must be an integer"):
        store.write_batch({"models": [{"project": "P", "name": "m", "artifact_id": "1"}]})
