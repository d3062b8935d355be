"""core/search.py: the run search language and order_by, against a small store with known answers."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from jupyter_mltrack.core import search as Q
from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.core.store import Store

from .._ids import clean_id
from ._helpers import sql


def local(y, m, d, h=12) -> float:
    return dt.datetime(y, m, d, h).timestamp()  # naive → local time, like the language's ISO dates


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    """Six runs (r1…r6) whose every searchable property is known. Read-only."""
    s = Store(tmp_path_factory.mktemp("search-store"))
    t = {i: local(2024, i, 10) for i in range(1, 7)}
    s.write_batch({
        "runs": [
            {"id": "r1", "name": "rf-1", "project": "P1", "experiments": ["E1"], "campaigns": ["C1"],
             "start_time": t[1], "user": "ann", "description": "baseline"},
            {"id": "r2", "name": "rf-2", "project": "P1", "experiments": ["E1"], "start_time": t[2]},
            {"id": "r3", "name": "xgb-1", "project": "P2", "experiments": ["E2"], "start_time": t[3]},
            {"id": "r4", "name": "nn", "project": "P2", "campaigns": ["C1"], "start_time": t[4]},
            {"id": "r5", "name": "O'Brien", "project": "P1", "experiments": ["E2"], "start_time": t[5]},
            {"id": "r6", "name": "rf-1-child", "project": "P1", "parent_id": "r1", "start_time": t[6]},
        ],
        "params": [
            {"run_id": "r1", "key": "lr", "value": 0.1}, {"run_id": "r1", "key": "opt", "value": "adam"},
            {"run_id": "r1", "key": "flag", "value": True}, {"run_id": "r1", "key": "n", "value": 10},
            {"run_id": "r2", "key": "lr", "value": 0.01}, {"run_id": "r2", "key": "opt", "value": "sgd"},
            {"run_id": "r2", "key": "flag", "value": False}, {"run_id": "r2", "key": "n", "value": 2},
            {"run_id": "r3", "key": "lr", "value": "auto"}, {"run_id": "r3", "key": "opt", "value": "adam"},
            {"run_id": "r5", "key": "note", "value": 'it\'s "quoted"'},
        ],
        "tags": [
            {"run_id": "r1", "key": "team", "value": "a"}, {"run_id": "r1", "key": "stage", "value": "prod"},
            {"run_id": "r2", "key": "team", "value": "b"}, {"run_id": "r3", "key": "stage", "value": "staging"},
            {"run_id": "r5", "key": "weird key", "value": "x y"},
        ],
        "metrics": [
            {"run_id": "r1", "name": "acc", "values": [0.5, 0.8]},
            {"run_id": "r1", "name": "acc", "values": [0.7], "context": {"subset": "val"}},
            {"run_id": "r1", "name": "loss", "values": [1.0, 0.2, 0.4]},
            {"run_id": "r2", "name": "acc", "values": [0.6]},
            {"run_id": "r2", "name": "acc", "values": [0.9], "context": {"subset": "val"}},
            {"run_id": "r2", "name": "loss", "values": [0.3]},
            {"run_id": "r3", "name": "acc", "values": [0.95]},
            {"run_id": "r3", "name": "loss", "values": [0.5, "NaN"]},
            {"run_id": "r4", "name": "my loss", "values": [3.0]},
            {"run_id": "r5", "name": "acc", "values": ["Infinity"]},
        ],
        "updates": [
            {"run_id": "r1", "status": "finished", "end_time": t[1] + 100},
            {"run_id": "r2", "status": "failed", "end_time": t[2] + 50},
            {"run_id": "r4", "status": "killed", "end_time": t[4] + 1000},
            {"run_id": "r5", "status": "finished", "end_time": t[5] + 10},
            {"run_id": "r6", "status": "finished", "end_time": t[6] + 1},
        ],
    })
    yield s
    s.close()


def found(st, flt) -> set[str]:
    runs, total = st.search_runs(filter=flt)
    assert total == len(runs)
    return {r["id"] for r in runs}


def ordered(st, order_by, flt=None) -> list[str]:
    return [r["id"] for r in st.search_runs(filter=flt, order_by=order_by)[0]]


ALL = {"r1", "r2", "r3", "r4", "r5", "r6"}

CASES = [
    # metrics: last value of the series with exactly that context
    ("metrics.acc > 0.7", {"r1", "r3", "r5"}),
    ("metrics.acc > 8e-1", {"r3", "r5"}),
    ("metrics.acc >= -1", {"r1", "r2", "r3", "r5"}),
    ("metrics.acc = inf", {"r5"}),
    ("metrics.acc >= infinity", {"r5"}),
    ("metrics.acc[subset=val] >= 0.8", {"r2"}),
    ("metrics.acc[subset=val] < 0.8", {"r1"}),
    ("metrics.acc[ subset = 'val' ] < 0.8", {"r1"}),
    ("metrics.acc == 0.6", {"r2"}),
    ("metrics.acc <> 0.6", {"r1", "r3", "r5"}),
    ("metrics.acc != 0.6", {"r1", "r3", "r5"}),
    ("metrics.`my loss` = 3", {"r4"}),
    ("metrics.`acc` in (0.6, 0.95)", {"r2", "r3"}),
    ("metrics.acc not in (0.6, 0.95)", {"r1", "r4", "r5", "r6"}),
    # summaries
    ("min(metrics.loss) < 0.25", {"r1"}),
    ("max(metrics.loss) >= 1", {"r1"}),
    ("min(metrics.loss) >= 0.5", {"r3"}),  # NaN is ignored by min/max
    ("count(metrics.loss) = 3", {"r1"}),
    ("count(metrics.loss) >= 2", {"r1", "r3"}),
    ("last_step(metrics.loss) = 1", {"r3"}),
    ("last(metrics.loss) < 0.35", {"r2"}),
    ("MIN(metrics.loss) < 0.25", {"r1"}),
    # is null on metrics: the series exists or not
    ("metrics.loss is not null", {"r1", "r2", "r3"}),
    ("metrics.loss is null", {"r4", "r5", "r6"}),
    ("metrics.acc[subset=val] is not null", {"r1", "r2"}),
    # params: numbers as numbers, strings as strings, bools
    ("params.lr > 0.05", {"r1"}),
    ("params.lr <= 0.1", {"r1", "r2"}),
    ("params.lr = 'auto'", {"r3"}),
    ("params.n > 5", {"r1"}),  # 10 > 5 numerically (as text '10' < '5')
    ("params.flag = true", {"r1"}),
    ("params.flag = false", {"r2"}),
    ("params.opt = 'adam'", {"r1", "r3"}),
    ("params.opt != 'adam'", {"r2"}),
    ("params.opt in ('adam', 'sgd')", {"r1", "r2", "r3"}),
    ("params.opt not in ('adam')", {"r2", "r4", "r5", "r6"}),
    ("params.opt like 'ad%'", {"r1", "r3"}),
    ("params.lr is null", {"r4", "r5", "r6"}),
    ("params.lr is not null", {"r1", "r2", "r3"}),
    ("params.note = 'it''s \"quoted\"'", {"r5"}),
    ("params.note = \"it's \\\"quoted\\\"\"", {"r5"}),
    ("params.note = 'it\\'s \"quoted\"'", {"r5"}),
    # tags
    ("tags.team = 'a'", {"r1"}),
    ("tags.team != 'a'", {"r2"}),
    ("tags.stage in ('prod', 'staging')", {"r1", "r3"}),
    ("tags.stage like 'stag%'", {"r3"}),
    ("tags.team is null", {"r3", "r4", "r5", "r6"}),
    ("tags.`weird key` = 'x y'", {"r5"}),
    # attributes
    ("status = 'finished'", {"r1", "r5", "r6"}),
    ("status = 'FAILED'", {"r2"}),
    ("status != 'finished'", {"r2", "r3", "r4"}),
    ("status in ('killed', 'failed')", {"r2", "r4"}),
    ("attributes.status = 'killed'", {"r4"}),
    ("name like 'rf-%'", {"r1", "r2", "r6"}),
    ("name ilike 'RF-%'", {"r1", "r2", "r6"}),
    ("name not like 'rf-%'", {"r3", "r4", "r5"}),
    ("name = 'O''Brien'", {"r5"}),
    ("name = \"O'Brien\"", {"r5"}),
    ("id = 'r2'", {"r2"}),
    ("id in ('r1', 'r2', 'nope')", {"r1", "r2"}),
    ("user = 'ann'", {"r1"}),
    ("description like '%base%'", {"r1"}),
    ("parent_id = 'r1'", {"r6"}),
    ("parent_id is null", ALL - {"r6"}),
    ("start_time > '2024-03-01'", {"r3", "r4", "r5", "r6"}),
    ("start_time < '2024-02-01T00:00:00'", {"r1"}),
    ("start_time >= '2024-02-10 12:00'", {"r2", "r3", "r4", "r5", "r6"}),
    (f"start_time > {local(2024, 5, 1):.0f}", {"r5", "r6"}),
    ("end_time is null", {"r3"}),
    ("end_time is not null", ALL - {"r3"}),
    ("duration < 60", {"r2", "r5", "r6"}),
    ("duration > 60 and duration < 500", {"r1"}),
    ("duration >= 1000", {"r3", "r4"}),  # a running run lasts until its last heartbeat
    ("experiment = 'E1'", {"r1", "r2"}),
    ("experiment != 'E1'", {"r3", "r4", "r5", "r6"}),
    ("experiment in ('E1', 'E2')", {"r1", "r2", "r3", "r5"}),
    ("experiment not in ('E1')", {"r3", "r4", "r5", "r6"}),
    ("experiment like '%2'", {"r3", "r5"}),
    ("experiment is null", {"r4", "r6"}),
    ("experiment is not null", {"r1", "r2", "r3", "r5"}),
    ("campaign = 'C1'", {"r1", "r4"}),
    ("campaign is null", {"r2", "r3", "r5", "r6"}),
    # boolean structure
    ("not status = 'finished'", {"r2", "r3", "r4"}),
    ("not (status = 'finished' or status = 'failed')", {"r3", "r4"}),
    ("not not status = 'killed'", {"r4"}),
    ("status = 'finished' or name = 'rf-2' and experiment = 'E2'", {"r1", "r5", "r6"}),  # and binds tighter
    ("(status = 'finished' or name = 'rf-2') and experiment = 'E2'", {"r5"}),
    ("(status = 'finished' or name = 'rf-2') and campaign = 'C1'", {"r1"}),
    ("not status = 'finished' and campaign = 'C1'", {"r4"}),  # not binds tighter than and
    ("STATUS = 'finished' AND NOT experiment = 'E2' Or name = 'nn'", {"r1", "r4", "r6"}),
    ("((metrics.acc > 0.5)) and (params.opt = 'adam' or tags.team = 'b')", {"r1", "r2", "r3"}),
    ("metrics.acc>0.7 and params.lr>0.05", {"r1"}),  # no spaces needed
    ("", ALL),
    ("   ", ALL),
    (None, ALL),
]


@pytest.mark.parametrize("flt, expected", CASES, ids=[clean_id(str(c[0])) for c in CASES])
def test_filter(st, flt, expected):
    assert found(st, flt) == expected


@pytest.mark.parametrize("flt, expected", [
    ("project = 'P2'", {"r3", "r4"}),
    ("project in ('P1')", {"r1", "r2", "r5", "r6"}),
    ("project != 'P1'", {"r3", "r4"}),
    ("project like 'P%'", ALL),
    ("status = 'finished' or name = 'rf-2' and project = 'P2'", {"r1", "r5", "r6"}),
])
def test_filter_on_project(st, flt, expected):
    assert found(st, flt) == expected


def test_an_iso_date_with_a_zone_is_that_instant(st):
    r2 = dt.datetime.fromtimestamp(local(2024, 2, 10), dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert found(st, f"start_time >= '{r2.isoformat()}'") == {"r2", "r3", "r4", "r5", "r6"}
    assert found(st, f"start_time > '{r2.isoformat()}'") == {"r3", "r4", "r5", "r6"}
    assert found(st, f"start_time <= '{r2.astimezone(dt.timezone.utc).isoformat()}'") == {"r1", "r2"}


def test_in_lists_of_campaigns_and_of_non_text_tag_values(st):
    assert found(st, "campaign in ('C1', 'nope')") == {"r1", "r4"}
    assert found(st, "campaign not in ('C1')") == {"r2", "r3", "r5", "r6"}


def test_a_status_filter_names_the_statuses_whatever_its_operator(st):
    for flt in ("status = 'done'", "status != 'done'"):
        with pytest.raises(InvalidInput) as e:
            found(st, flt)
        assert str(e.value) == "search: status 'done' is not one of running, finished, failed, killed, crashed"
    assert found(st, "status != 'FINISHED'") == {"r2", "r3", "r4"}


def test_non_text_values_compare_as_their_text_or_json(tmp_path):
    s = Store(tmp_path / "store")
    try:
        s.write_batch({
            "runs": [{"id": "a", "name": "5"}, {"id": "b", "name": "6"}],
            "tags": [{"run_id": "a", "key": "flag", "value": "true"}, {"run_id": "b", "key": "flag", "value": "1"}],
            # x is written first: sorting by y must not read x
            "params": [{"run_id": "a", "key": "x", "value": 1}, {"run_id": "a", "key": "y", "value": 20},
                       {"run_id": "b", "key": "x", "value": 2}, {"run_id": "b", "key": "y", "value": 10},
                       {"run_id": "a", "key": "z", "value": "beta"}, {"run_id": "b", "key": "z", "value": "alpha"}],
        })
        assert found(s, "name = 5") == {"a"}  # an attribute compares with the number's text
        assert found(s, "name in (6)") == {"b"}
        assert found(s, "tags.flag in (true)") == {"a"}  # a tag with the value's JSON
        assert found(s, "tags.flag = true") == {"a"}
        assert [r["id"] for r in s.search_runs(order_by="params.y")[0]] == ["b", "a"]
        assert [r["id"] for r in s.search_runs(order_by="params.z")[0]] == ["b", "a"]
        assert [r["id"] for r in s.search_runs(order_by="params.z desc")[0]] == ["a", "b"]
    finally:
        s.close()


def test_a_comparison_with_nan_says_what_to_do_instead(st):
    for flt in ("metrics.acc = nan", "metrics.acc < NaN"):
        with pytest.raises(InvalidInput) as e:
            found(st, flt)
        assert str(e.value) == "search: NaN is never equal to anything; use 'is null' or compare with a number"


def test_ties_come_in_id_order_whatever_order_they_were_written_in(tmp_path):
    s = Store(tmp_path / "store")
    try:
        s.write_batch({"runs": [{"id": i, "name": "same", "start_time": 1000.0} for i in ("d", "b", "c", "a")],
                       "params": [{"run_id": i, "key": "w", "value": 1} for i in ("c", "a", "d", "b")]})
        for order_by in ("params.w", "params.w desc", "name", "start_time desc"):
            assert [r["id"] for r in s.search_runs(order_by=order_by)[0]] == ["a", "b", "c", "d"], order_by
    finally:
        s.close()


def test_like_on_campaigns_and_not_on_times(st):
    assert found(st, "campaign like 'C%'") == {"r1", "r4"}
    assert found(st, "campaign not like 'C%'") == {"r2", "r3", "r5", "r6"}
    for name in ("duration", "start_time", "end_time"):
        with pytest.raises(InvalidInput) as e:
            found(st, f"{name} like '1%'")
        assert str(e.value) == f"search: {name} is a time; 'like' compares text"


def test_like_is_case_sensitive(st):
    assert found(st, "name like 'RF-%'") == set()


def test_status_crashed_finds_stale_runs(store):
    import time

    from jupyter_mltrack.core.store import STALE_AFTER

    from ._helpers import execute

    store.write_batch({"runs": [{"id": "stale"}, {"id": "fresh"}]})
    execute(store, "UPDATE runs SET heartbeat_at = :t WHERE id = 'stale'", t=time.time() - STALE_AFTER - 10)
    assert store.get_run("stale")["status"] == "crashed"
    assert found(store, "status = 'crashed'") == {"stale"}
    assert found(store, "status = 'running'") == {"fresh"}


def test_long_in_lists(st):
    many = ", ".join(f"'x{i}'" for i in range(3000))
    assert found(st, f"id in ({many}, 'r2')") == {"r2"}
    assert found(st, f"tags.team in ({many}, 'a')") == {"r1"}
    assert found(st, f"params.opt not in ({many})") == ALL
    nums = ", ".join(str(i / 1000) for i in range(3000))
    assert found(st, f"params.lr in ({nums})") == {"r1", "r2"}
    assert found(st, f"metrics.acc in ({nums})") == {"r1", "r2", "r3"}


def test_filter_combines_with_scopes(st):
    runs, total = st.search_runs(project="P1", filter="metrics.acc > 0.5")
    assert {r["id"] for r in runs} == {"r1", "r2", "r5"} and total == 3
    runs, total = st.search_runs(experiment="E1", filter="status = 'failed'", limit=10)
    assert [r["id"] for r in runs] == ["r2"] and total == 1


# ------------------------------------------------------------------------------------------------------------------
# errors


ERRORS = [
    ("foo = 1", "unknown field 'foo'"),
    ("attributes.colour = 'red'", "unknown field 'colour'"),
    ("metrics.acc 0.5", "expected an operator"),
    ("metrics.acc > 'high'", "metrics.acc is a number"),
    ("metrics.acc = true", "metrics.acc is a number"),
    ("metrics.acc in (0.5, 'high')", "metrics.acc is a number"),
    ("metrics.acc = nan", "NaN"),
    ("metrics.acc like 'x'", "'like' compares text"),
    ("status = 'paused'", "status 'paused' is not one of"),
    ("status in ('running', 'bogus')", "status 'bogus'"),
    ("status = running", "expected a value"),
    ("(name = 'a'", "unexpected end"),
    ("name = 'a' and", "unexpected end"),
    ("name = 'a' name", "expected 'and', 'or' or the end"),
    ("name = 'a')", "expected 'and', 'or' or the end"),
    ("min(params.x) > 1", "min() takes a metrics.<name> field"),
    ("count(metrics.x > 1", "expected ')'"),
    ("tags.x[a=b] = 1", "only metrics take a [context]"),
    ("metrics.acc[subset] > 1", "must look like key=value"),
    ("metrics.acc[bad key=x] > 1", "context key"),
    ("start_time > 'yesterday'", "ISO date"),
    ("start_time > true", "compares with a time"),
    ("start_time like '2024%'", "is a time"),
    ("duration > 'long'", "duration is in seconds"),
    ("experiment > 'x'", "experiment supports"),
    ("name like 5", "pattern"),
    ("name in 'a'", "expected '(' after 'in'"),
    ("name in ('a' 'b')", "expected ')'"),
    ("name is 5", "expected 'null'"),
    ("name # 1", "unexpected character '#'"),
    ("and status = 'x'", "expected a field"),
    ("name = ", "unexpected end"),
]


@pytest.mark.parametrize("flt, message", ERRORS, ids=[clean_id(e[0]) for e in ERRORS])
def test_bad_filters_are_invalid_input_with_a_helpful_message(st, flt, message):
    with pytest.raises(InvalidInput) as ei:
        st.search_runs(filter=flt)
    assert message in str(ei.value)


def test_unterminated_string_is_refused_with_its_position(st):
    with pytest.raises(InvalidInput, match="position 8"):
        st.search_runs(filter="name = 'abc")


def test_unterminated_string_message_says_so(st):
    with pytest.raises(InvalidInput, match="(?i)unterminated|not closed|never closed|missing closing"):
        st.search_runs(filter="name = 'abc")


# ------------------------------------------------------------------------------------------------------------------
# injection


INJECTIONS = [
    "name = 'x'' OR ''1''=''1'",
    "name = 'rf-1''; DROP TABLE runs; --'",
    "name = \"x\" OR \"1\"=\"1\"",
    "name like '%'' OR 1=1 --'",
    "tags.`a'; DROP TABLE tags; --` = 'x'",
    "params.`lr) OR 1=1 --` = 1",
    "metrics.acc[subset=x' OR 1 --] > 0",
    "tags.team in ('a'') OR (''1''=''1')",
]


@pytest.mark.parametrize("flt", INJECTIONS)
def test_sql_injection_is_treated_as_data(st, flt):
    try:
        result = found(st, flt)
    except InvalidInput:
        result = set()
    assert result == set()
    assert sql(st, "SELECT count(*) FROM runs")[0][0] == 6
    assert sql(st, "SELECT count(*) FROM tags")[0][0] == 5


def test_values_with_sql_characters_match_literally(tmp_path):
    s = Store(tmp_path)
    try:
        evil = "x'); DROP TABLE runs; --"
        s.write_batch({"runs": [{"id": "r", "name": evil}], "tags": [{"run_id": "r", "key": "k", "value": "100%_"}]})
        assert found(s, "name = 'x''); DROP TABLE runs; --'") == {"r"}
        assert found(s, "tags.k = '100%_'") == {"r"}
        assert found(s, "tags.k = '100%'") == set()
        assert sql(s, "SELECT count(*) FROM runs")[0][0] == 1
    finally:
        s.close()


# ------------------------------------------------------------------------------------------------------------------
# order by


ORDERS = [
    (None, ["r6", "r5", "r4", "r3", "r2", "r1"]),  # newest first
    ("", ["r6", "r5", "r4", "r3", "r2", "r1"]),
    ("start_time", ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ("metrics.acc DESC", ["r5", "r3", "r1", "r2", "r4", "r6"]),  # NULLs last
    ("metrics.acc", ["r2", "r1", "r3", "r5", "r4", "r6"]),  # NULLs last ascending too
    ("metrics.acc asc", ["r2", "r1", "r3", "r5", "r4", "r6"]),
    ("metrics.acc[subset=val] desc", ["r2", "r1", "r3", "r4", "r5", "r6"]),
    ("min(metrics.loss)", ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ("count(metrics.loss) desc", ["r1", "r3", "r2", "r4", "r5", "r6"]),
    ("params.lr", ["r2", "r1", "r3", "r4", "r5", "r6"]),  # numbers, then strings, then missing
    ("params.lr desc", ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ("params.n desc", ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ("tags.team desc", ["r2", "r1", "r3", "r4", "r5", "r6"]),
    ("tags.team", ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ("name DESC", ["r3", "r2", "r6", "r1", "r4", "r5"]),  # binary collation: 'O' < 'n'
    ("parent_id desc, name", ["r6", "r5", "r4", "r1", "r2", "r3"]),
    ("status, name", ["r2", "r5", "r1", "r6", "r4", "r3"]),
    ("duration", ["r6", "r5", "r2", "r1", "r4", "r3"]),
    ("attributes.end_time desc", ["r6", "r5", "r4", "r2", "r1", "r3"]),
]


@pytest.mark.parametrize("order_by, expected", ORDERS, ids=[clean_id(str(o[0])) for o in ORDERS])
def test_order_by(st, order_by, expected):
    assert ordered(st, order_by) == expected


@pytest.mark.parametrize("order_by, expected", [
    ("project, start_time desc", ["r6", "r5", "r2", "r1", "r4", "r3"]),
    ("project desc, metrics.acc desc", ["r3", "r4", "r5", "r1", "r2", "r6"]),
])
def test_order_by_project(st, order_by, expected):
    assert ordered(st, order_by) == expected


def test_order_by_with_filter_and_paging(st):
    runs, total = st.search_runs(filter="metrics.acc is not null", order_by="metrics.acc desc", limit=2, offset=1)
    assert [r["id"] for r in runs] == ["r3", "r1"] and total == 4


@pytest.fixture
def paged(store):
    """40 runs for paging: ``acc`` with ties, NaN, ±inf and runs without it; ``p`` a param on some runs (SQLite
    and PostgreSQL: the second stores NaN as NaN, which sorts above every number there)."""
    s = store
    accs = [0.5, 0.5, 0.9, "NaN", None, 0.1, "Infinity", "-Infinity", None, 0.5]
    runs, params, metrics = [], [], []
    for i in range(40):
        rid = f"q{(i * 17) % 40:02d}"  # ids not in the order of writing or of time
        runs.append({"id": rid, "name": f"n{i % 7}", "project": "P" if i % 5 else "Q", "start_time": 1000.0 + i % 9})
        if i % 3:
            params.append({"run_id": rid, "key": "p", "value": i % 4 if i % 2 else f"s{i % 3}"})
        if accs[i % 10] is not None:
            metrics.append({"run_id": rid, "name": "acc", "values": [accs[i % 10]]})
        if i % 4 == 0:
            metrics.append({"run_id": rid, "name": "acc", "values": [i % 3], "context": {"subset": "val"}})
    s.write_batch({"runs": runs, "params": params, "metrics": metrics})
    return s


@pytest.mark.parametrize("flt, first", [
    ("metrics.acc > 0.5 and params.opt = 'adam'", "params"),
    ("params.n > 1 and tags.team = 'a'", "tags"),
    ("params.opt in ('adam') and metrics.acc > 0.5", "params"),
])
def test_an_and_walks_the_equality_s_ids_first(st, flt, first):
    """SQLite, without statistics, walks the first ``id IN (…)`` list of an AND and looks the others up: the
    equality's (usually the shorter list) comes first, whatever order the filter was written in."""
    from sqlalchemy import select
    from sqlalchemy.dialects import sqlite

    from jupyter_mltrack.core import schema as S
    from jupyter_mltrack.core.search_sql import filter_sql

    q = select(S.runs.c.id).where(filter_sql(flt))
    text = str(q.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    plan = [row[3] for row in sql(st, "EXPLAIN QUERY PLAN " + text)]
    searched = [p.split()[1] for p in plan if p.startswith("SEARCH") and p.split()[1] != "runs"]
    assert searched[0] == first, plan


@pytest.mark.parametrize("order_by", [
    "metrics.acc DESC", "metrics.acc", "metrics.acc desc, params.p", "metrics.acc, name desc",
    "metrics.acc[subset=val] desc, start_time", "max(metrics.acc) desc", "params.p desc", "start_time", None,
])
@pytest.mark.parametrize("flt, project", [(None, None), ("name != 'n3'", None), ("params.p is not null", "P")])
def test_every_page_is_the_slice_of_the_whole_order(paged, order_by, flt, project):
    """A page (read ids first, through the metric's index when the order starts with one) is exactly that slice of
    the whole ordered list, whatever the offset — across the ties, the NaN / ±inf values and the runs without the
    metric — with the same total."""
    whole, total = paged.search_runs(project=project, filter=flt, order_by=order_by)
    ids = [r["id"] for r in whole]
    assert total == len(ids) and len(set(ids)) == len(ids) > 10
    for limit in (1, 4, 13):
        for offset in range(0, len(ids) + 2):
            page, n = paged.search_runs(project=project, filter=flt, order_by=order_by, limit=limit, offset=offset)
            assert [r["id"] for r in page] == ids[offset:offset + limit], (limit, offset)
            assert n == total


def test_a_page_ordered_by_a_metric_puts_nan_and_missing_values_last(paged):
    runs, _ = paged.search_runs(order_by="metrics.acc desc", limit=40)
    acc = [next((m["last"] for m in r["metrics"] if m["context"] == {}), None) for r in runs]
    finite = [a for a in acc if a is not None and not math.isnan(a)]
    assert acc[:len(finite)] == sorted(finite, reverse=True) and finite[0] == math.inf and finite[-1] == -math.inf
    tail = runs[len(finite):]
    assert len(tail) == 40 - len(finite) == 12  # 4 NaN and 8 without the metric, in id order
    assert [r["id"] for r in tail] == sorted(r["id"] for r in tail)
    # and a NaN last value is no value to a filter either, on both databases
    assert paged.search_runs(filter="metrics.acc > -1")[1] == 24  # 0.5 (three of ten), 0.9, 0.1, inf: ×4 runs
    assert paged.search_runs(filter="metrics.acc is not null")[1] == 32  # a NaN series exists: NaN is its value


@pytest.mark.parametrize("order_by, message", [
    ("nonsense", "unknown field"),
    ("metrics.acc sideways", "cannot read"),
    ("experiment", "cannot sort by experiment"),
    ("campaign desc", "cannot sort by campaign"),
    ("start_time; DROP TABLE runs", "unexpected character"),
    ("metrics.acc desc desc", "cannot read"),
])
def test_bad_order_by(st, order_by, message):
    with pytest.raises(InvalidInput, match=message):
        st.search_runs(order_by=order_by)
    assert sql(st, "SELECT count(*) FROM runs")[0][0] == 6


# ------------------------------------------------------------------------------------------------------------------
# the parser on its own


def test_parse_ast_shape():
    assert Q.parse(None) is None and Q.parse("  ") is None
    node = Q.parse("metrics.acc > 1 or status = 'failed' and not name = 'x'")
    assert node[0] == "or" and node[2][0] == "and" and node[2][2][0] == "not"
    f = node[1][1]
    assert (f.kind, f.name, f.context, f.summary) == ("metric", "acc", "{}", "last")


def test_parse_field_variants():
    assert Q.parse_field("metrics.loss[subset=val,fold=1]") == Q.Field("metric", "loss", '{"fold":"1","subset":"val"}')
    assert Q.parse_field("metrics.`val.loss`") == Q.Field("metric", "val.loss")
    assert Q.parse_field("metrics.`a[b]`[k=v]") == Q.Field("metric", "a[b]", '{"k":"v"}')
    assert Q.parse_field("params.`my key`") == Q.Field("param", "my key")
    assert Q.parse_field("attributes.start_time") == Q.Field("attr", "start_time")
    assert Q.parse_field("Status") == Q.Field("attr", "status")
    with pytest.raises(InvalidInput, match="no name"):
        Q.parse_field("metrics.``")


def test_numbers_and_keywords_as_values():
    assert Q.parse("metrics.a > -1.5e3")[3] == -1500.0
    assert Q.parse("metrics.a > +2")[3] == 2 and isinstance(Q.parse("metrics.a > 2")[3], int)
    assert Q.parse("metrics.a > .5")[3] == 0.5
    assert Q.parse("params.a = TRUE")[3] is True
    assert Q.parse("metrics.a < inf")[3] == math.inf and Q.parse("metrics.a < Infinity")[3] == math.inf
