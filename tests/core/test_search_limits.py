"""The search language's limits: every oversized or out-of-range input is an InvalidInput (400) naming the problem —
never a RecursionError, an OverflowError or a database error — and inputs right at the limits still answer correctly.

The limits live in core/search.py (MAX_TEXT_LENGTH, MAX_NESTING, MAX_TERMS, MAX_ORDER_TERMS, MAX_INT) and
core/projects.py (MAX_ID_DIGITS); the tests read them, so they follow a change of a limit.
"""

from __future__ import annotations

import functools
import re

import pytest

from jupyter_mltrack.core import projects as P
from jupyter_mltrack.core import search as Q
from jupyter_mltrack.core.errors import InvalidInput, NotFound
from jupyter_mltrack.core.store import Store

DIGITS30 = "1" * 30  # a project name and (with 2s) an experiment name: all digits, too long for an id


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    """Four runs a…d; c lives in a project and an experiment whose names are 30 digits. Read-only."""
    s = Store(tmp_path_factory.mktemp("search-limits"))
    s.write_batch({
        "runs": [
            {"id": "a", "name": "a", "project": "P", "experiments": ["E"], "start_time": 1_000.0},
            {"id": "b", "name": "b", "project": "P", "start_time": 2_000.0},
            {"id": "c", "name": "c", "project": DIGITS30, "experiments": ["2" * 30], "start_time": 3_000.0},
            {"id": "d", "name": "d", "project": "P", "start_time": 4_000.0},
        ],
        "params": [{"run_id": r, "key": "x", "value": v} for r, v in (("a", 1), ("b", 2), ("c", 3))],
    })
    yield s
    s.close()


ALL = {"a", "b", "c", "d"}


def found(st, flt=None, **kw) -> set[str]:
    runs, total = st.search_runs(filter=flt, **kw)
    assert total == len(runs)
    return {r["id"] for r in runs}


def chain(levels: int, make) -> str:
    """A filter nested ``levels`` times by ``make(inner) -> outer``."""
    return functools.reduce(lambda f, _: make(f), range(levels), "name = 'c'")


def or_and(f: str) -> str:  # two and/or groups per parenthesis: a or (b and (…))
    return f"name = 'a' or name = 'b' and ({f})"


def not_or(f: str) -> str:  # a not and a group per parenthesis
    return f"not (name = 'zz' or {f})"


def conditions(n: int, joiner: str = " or ") -> str:
    return joiner.join(f"name = 'n{i}'" for i in range(n))


# ------------------------------------------------------------------------------------------------------------------
# refused, with the problem named


NEST = f"filter nests more than {Q.MAX_NESTING} levels"
TERMS = f"filter has more than {Q.MAX_TERMS} conditions"
LONG = f"filter is longer than {Q.MAX_TEXT_LENGTH:,} characters"
INT_RANGE = "is out of range"
FLOAT_RANGE = "too large for a float"
BIG = "1" + "0" * 400

REFUSED = [
    ("5,000 parentheses", "(" * 5_000 + "name = 'a'" + ")" * 5_000, NEST),
    ("100,000 parentheses", "(" * 100_000 + "name = 'a'" + ")" * 100_000, LONG),
    ("99,000 unclosed parentheses", "(" * 99_000 + "name = 'a'", NEST),
    ("99,000 closed parentheses", "(" * 49_000 + "name = 'a'" + ")" * 49_000, NEST),
    ("5,000 nots", "not " * 5_000 + "name = 'a'", NEST),
    ("51 parentheses", "(" * (Q.MAX_NESTING + 1) + "name = 'a'" + ")" * (Q.MAX_NESTING + 1), NEST),
    ("51 nots", "not " * (Q.MAX_NESTING + 1) + "name = 'a'", NEST),
    ("and/or groups 52 deep", chain(Q.MAX_NESTING // 2 + 1, or_and), NEST),
    ("not/or 52 deep", chain(Q.MAX_NESTING // 2 + 1, not_or), NEST),
    ("1,000 ors", conditions(1_000), TERMS),
    ("101 ors", conditions(Q.MAX_TERMS + 1), TERMS),
    ("101 ands", conditions(Q.MAX_TERMS + 1, " and "), TERMS),
    ("too long", "name = '" + "x" * Q.MAX_TEXT_LENGTH + "'", LONG),
    ("400-digit integer", f"params.x > {BIG}", INT_RANGE),
    ("-400-digit integer", f"params.x > -{BIG}", INT_RANGE),
    ("400-digit integer, metric", f"metrics.m < {BIG}", INT_RANGE),
    ("400-digit integer, in", f"params.x in (1, {BIG})", INT_RANGE),
    ("400-digit integer, attribute", f"start_time > {BIG}", INT_RANGE),
    ("int64 + 1", f"params.x > {Q.MAX_INT + 1}", INT_RANGE),
    ("400-digit float", f"params.x > {BIG}.5", FLOAT_RANGE),
    ("1e999", "metrics.m > 1e999", FLOAT_RANGE),
    ("-1e999", "duration > -1e999", FLOAT_RANGE),
]


@pytest.mark.parametrize("flt, message", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_oversized_filters_are_invalid_input_naming_the_problem(st, flt, message):
    with pytest.raises(InvalidInput) as ei:
        st.search_runs(filter=flt)
    assert message in str(ei.value)
    with pytest.raises(InvalidInput, match=message):
        st.run_columns(filter=flt)


def test_the_number_message_does_not_repeat_400_digits(st):
    with pytest.raises(InvalidInput) as ei:
        st.search_runs(filter=f"params.x > {BIG}")
    assert len(str(ei.value)) < 200 and "401 characters" in str(ei.value)


@pytest.mark.parametrize("order_by, message", [
    (", ".join(["start_time"] * 3_000), f"order_by has more than {Q.MAX_ORDER_TERMS} terms"),
    (", ".join(["params.x desc"] * (Q.MAX_ORDER_TERMS + 1)), f"order_by has more than {Q.MAX_ORDER_TERMS} terms"),
    ("start_time" + " " * Q.MAX_TEXT_LENGTH, f"order_by is longer than {Q.MAX_TEXT_LENGTH:,} characters"),
], ids=["3000 terms", "21 terms", "too long"])
def test_oversized_order_by_is_invalid_input_naming_the_problem(st, order_by, message):
    with pytest.raises(InvalidInput, match=message):
        st.search_runs(order_by=order_by)


def test_a_long_order_by_term_is_read_in_linear_time(st):
    """'(.*?)\\s+(asc|desc)$' took ~9 s on 20,000 spaces; the direction is now split off without a regex."""
    import time

    t = time.perf_counter()
    with pytest.raises(InvalidInput, match="cannot read"):
        st.search_runs(order_by="start_time" + " " * (Q.MAX_TEXT_LENGTH - 20) + "x")
    assert time.perf_counter() - t < 2


# ------------------------------------------------------------------------------------------------------------------
# at the limits: still answered, and correctly


AT_LIMITS = [
    ("50 parentheses", "(" * Q.MAX_NESTING + "name = 'a'" + ")" * Q.MAX_NESTING, {"a"}),
    ("50 nots", "not " * Q.MAX_NESTING + "name = 'a'", {"a"}),  # an even number
    ("49 nots", "not " * (Q.MAX_NESTING - 1) + "name = 'a'", ALL - {"a"}),
    ("and/or groups 50 deep", chain(Q.MAX_NESTING // 2, or_and), {"a"}),
    ("not/or 50 deep", chain(Q.MAX_NESTING // 2, not_or), ALL - {"c"}),  # an odd number of nots
    ("100 ors", conditions(Q.MAX_TERMS - 3) + " or name = 'a' or name = 'c' or params.x = 2", {"a", "b", "c"}),
    ("100 ands", " and ".join(["params.x > 0"] * (Q.MAX_TERMS - 1) + ["name != 'b'"]), {"a", "c"}),
    ("three ors", "name = 'a' or name = 'b' or name = 'd'", {"a", "b", "d"}),
    ("three ands", "params.x > 1 and params.x < 3 and name = 'b'", {"b"}),
    ("int64 max", f"params.x < {Q.MAX_INT}", {"a", "b", "c"}),
    ("-int64 max", f"params.x > -{Q.MAX_INT} and metrics.m is null", {"a", "b", "c"}),
    ("500 leading zeros", "params.x = " + "0" * 500 + "2", {"b"}),
    ("1e308", "params.x < 1e308 and params.x > -1.7e308", {"a", "b", "c"}),
    ("a long mantissa", "params.x < 1." + "9" * 400, {"a"}),  # a double: 2.0
    ("a tiny number", "params.x > 1e-400", {"a", "b", "c"}),
    ("inf", "params.x < inf and params.x > -inf", {"a", "b", "c"}),
    ("just under the length", "name = 'a' or name = '" + "x" * (Q.MAX_TEXT_LENGTH - 30) + "'", {"a"}),
]


@pytest.mark.parametrize("flt, expected", [c[1:] for c in AT_LIMITS], ids=[c[0] for c in AT_LIMITS])
def test_filters_at_the_limits_answer_correctly(st, flt, expected):
    assert len(flt) <= Q.MAX_TEXT_LENGTH
    assert found(st, flt) == expected
    assert st.run_table(filter=flt)["total"] == len(expected)
    st.run_columns(filter=flt)  # the filter inside one more subquery
    assert found(st, flt, project="P") == expected - {"c"}


def test_the_deepest_filters_have_room_on_the_stack(st):
    """The worst filters the limits let through need a few hundred Python frames (the parser, SQLAlchemy's
    compiler): they still work when the search is called 300 frames deep."""

    def deep(n, fn):
        return fn() if n == 0 else deep(n - 1, fn)

    for flt in (chain(Q.MAX_NESTING // 2, or_and), chain(Q.MAX_NESTING // 2, not_or),
                "(" * Q.MAX_NESTING + "name = 'a'" + ")" * Q.MAX_NESTING, "not " * Q.MAX_NESTING + "name = 'a'"):
        deep(300, lambda: st.search_runs(filter=flt))


def test_order_by_at_the_limit(st):
    order = ", ".join(["params.x desc"] + ["name"] * (Q.MAX_ORDER_TERMS - 1))
    assert [r["id"] for r in st.search_runs(order_by=order)[0]] == ["c", "b", "a", "d"]


def test_in_lists_of_times_statuses_and_durations_are_one_in_list(st):
    """These were a chain of 3,000 ORs: 'Expression tree is too large (maximum depth 1000)' from SQLite."""
    times = ", ".join(str(1_000 * i) for i in range(3_000))
    assert found(st, f"start_time in ({times})") == ALL
    assert found(st, f"start_time not in ({times})") == set()
    assert found(st, "duration in (" + ", ".join(str(i) for i in range(1, 3_000)) + ")") == set()
    assert found(st, "status in (" + ", ".join(["'running'"] * 3_000) + ")") == ALL
    with pytest.raises(InvalidInput, match="status 'bogus'"):
        st.search_runs(filter="status in (" + ", ".join(["'running'"] * 3_000) + ", 'bogus')")


def test_and_or_are_flat_in_the_ast():
    node = Q.parse(conditions(Q.MAX_TERMS))
    assert node[0] == "or" and len(node) == Q.MAX_TERMS + 1 and all(n[0] == "cmp" for n in node[1:])
    assert Q.tree_depth(node) == 1
    assert Q.tree_depth(Q.parse("not (name = 'a' or name = 'b' and not name = 'c')")) == 4


def test_numbers_keep_their_exact_value():
    assert Q.parse(f"params.x = {2**53 + 1}")[3] == 2**53 + 1  # not rounded through a float
    assert Q.parse(f"params.x = -{Q.MAX_INT}")[3] == -Q.MAX_INT
    assert Q.parse("params.x = -0")[3] == 0


# ------------------------------------------------------------------------------------------------------------------
# project and experiment given as id or name


def test_long_digit_strings_are_names_never_ids(st):
    assert found(st, project=DIGITS30) == {"c"}
    assert found(st, experiment="2" * 30) == {"c"}
    assert found(st, experiment="2" * 30, project=DIGITS30) == {"c"}
    assert [p["name"] for p in st.list_experiments(project=DIGITS30)] == ["2" * 30]
    for project in ("9" * 30, "9" * 400, 10**30, -(10**30), "²", "１"):
        with pytest.raises(NotFound, match="no project"):
            st.search_runs(project=project)
        with pytest.raises(NotFound, match="no project"):
            st.list_experiments(project=project)
    for experiment in ("9" * 30, 10**30, "²"):
        with pytest.raises(NotFound, match="no experiment"):
            st.search_runs(experiment=experiment)


def test_short_digit_strings_are_still_ids(st):
    pid = next(p["id"] for p in st.list_projects() if p["name"] == "P")
    assert found(st, project=str(pid).zfill(P.MAX_ID_DIGITS)) == {"a", "b", "d"}
    assert found(st, project=pid) == {"a", "b", "d"}
    eid = next(e["id"] for e in st.list_experiments() if e["name"] == "E")
    assert found(st, experiment=str(eid)) == {"a"}


def test_as_id():
    assert P.as_id("7") == 7 and P.as_id("0" * 17 + "7") == 7 and P.as_id(7) == 7
    for value in ("1" * (P.MAX_ID_DIGITS + 1), "", "1a", "²", "-1", 2**63, True):
        assert P.as_id(value) is None, value


# ------------------------------------------------------------------------------------------------------------------
# the limits are what stands between these inputs and a crash


def test_without_the_limits_the_inputs_crash(st, monkeypatch):
    """Plant the bug: lift a limit and the input it guards against fails as it used to (so the tests above test
    the limits, not something else)."""
    monkeypatch.setattr(Q, "MAX_NESTING", 10**9)
    with pytest.raises(RecursionError):
        st.search_runs(filter="(" * 5_000 + "name = 'a'" + ")" * 5_000)
    monkeypatch.setattr(Q, "MAX_TERMS", 10**9)
    with pytest.raises(Exception, match="(?i)too large|depth|recursion") as ei:
        st.search_runs(filter=conditions(1_000, " and "))
    assert not isinstance(ei.value, InvalidInput)


# the deepest filters the language accepts, in every arrangement of the deep part: SQLite's parser stack (a fixed
# 100 entries in some builds) overflows on some of these when an AND / OR list keeps its deep term for last, as the
# filter's text has it — the SQL puts the deepest term first

DEEP_SHAPES = {
    "a or b and (…)": lambda f: f"name = 'a' or name = 'b' and ({f})",
    "(…) and b or a": lambda f: f"({f}) and name = 'b' or name = 'a'",
    "not (zz or …)": lambda f: f"not (name = 'zz' or {f})",
    "not (… or zz)": lambda f: f"not ({f} or name = 'zz')",
    "((…) or zz) and not q": lambda f: f"(({f}) or name = 'zz') and name != 'q'",
    "a and (b or (…))": lambda f: f"name != 'q' and (name = 'zz' or ({f}))",
}


@pytest.mark.parametrize("shape", DEEP_SHAPES)
def test_the_deepest_accepted_filters_run_in_any_arrangement(st, shape):
    make = DEEP_SHAPES[shape]
    levels = max(n for n in range(1, Q.MAX_NESTING + 1) if _accepted(chain(n, make)))
    assert levels >= Q.MAX_NESTING // 3  # deep enough to overflow a fixed parser stack in the text's order
    expected = found_in_python(chain(levels, make))
    assert found(st, chain(levels, make)) == expected


def found_in_python(flt: str) -> set[str]:
    """The runs (named as their ids) a filter of name comparisons, and, or, not and parentheses matches, by Python:
    its operators bind as SQL's do (not, then and, then or)."""
    py = re.sub(r"name (!?=) '(\w+)'", lambda m: f"(n {'==' if m.group(1) == '=' else '!='} '{m.group(2)}')", flt)
    return {r for r in ALL if eval(py, {}, {"n": r})}  # noqa: S307 — the test's own text


def _accepted(flt: str) -> bool:
    try:
        Q.parse(flt)
        return True
    except InvalidInput:
        return False


def test_a_page_ordered_by_a_metric_reads_that_metric_and_that_summary(store):
    """The first page ordered by a metric walks that metric's (name, context, last) index: another metric's values,
    or the same metric's minimum in place of its last value, must not order it."""
    store.write_batch({
        "runs": [{"id": r} for r in ("a", "b", "c")],
        "metrics": [
            {"run_id": "a", "name": "acc", "values": [0.1, 0.9]},  # last 0.9, min 0.1
            {"run_id": "b", "name": "acc", "values": [0.5, 0.5]},  # last 0.5, min 0.5
            {"run_id": "c", "name": "acc", "values": [0.3, 0.7]},  # last 0.7, min 0.3
            {"run_id": "a", "name": "loss", "values": [1.0]},
            {"run_id": "b", "name": "loss", "values": [3.0]},
            {"run_id": "c", "name": "loss", "values": [2.0]},
        ],
    })

    def page(order_by):
        return [r["id"] for r in store.search_runs(order_by=order_by, limit=10)[0]]

    assert page("metrics.acc desc") == ["a", "c", "b"]
    assert page("metrics.acc") == ["b", "c", "a"]
    assert page("metrics.loss desc") == ["b", "c", "a"] and page("metrics.loss") == ["a", "c", "b"]
    assert page("min(metrics.acc) desc") == ["b", "c", "a"]
    assert page("max(metrics.acc)") == ["b", "c", "a"]
