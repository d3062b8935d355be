"""core/validation.py at its edges: each limit on both sides of its boundary, each refusal's exact message (it names
the field and says what is wanted), and the JSON equality the param conflict rule relies on. Written against the
mutants that survived ``make mutate MODULES=validation`` (docs/mutation.md)."""

from __future__ import annotations

import datetime
import json
import re

import numpy as np
import pytest

from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.core.validation import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_MEDIA_TYPE,
    MAX_METADATA_JSON,
    MAX_PARAM_JSON,
    MAX_SECONDS,
    check_media_type,
    check_metadata,
    check_relative_path,
    check_seconds,
    check_text,
    context_json,
    check_alias,
    check_int,
    check_cron,
    check_figure_kind,
    check_job_name,
    check_job_params,
    check_deployment_name,
    check_key,
    check_number,
    check_timezone,
    metric_step,
    metric_value,
    param_columns,
    param_json,
    parse_ref,
    same_json_value,
    steps_array,
    tag_value,
    times_array,
)


def refused(message: str):
    """pytest.raises for InvalidInput with exactly this message."""
    return pytest.raises(InvalidInput, match="^" + re.escape(message) + "$")


# ------------------------------------------------------------------------------------------------------------------
# same_json_value: JSON equality where true is not 1 (the rule deciding whether a re-logged param conflicts)

@pytest.mark.parametrize("a, b, same", [
    (1, 1, True), (1, 2, False), ("a", "a", True), (None, None, True), (1.5, 1.5, True),
    (True, True, True), (False, False, True), (True, False, False), (True, 1, False), (1, True, False),
    (False, 0, False), (0, False, False), (None, False, False), (False, None, False),
    ({"a": 1}, {"a": 1}, True), ({"a": 1}, {"a": 2}, False), ({"a": 1}, {"b": 1}, False),
    ({"a": 1}, {"a": 1, "b": 2}, False), ({"a": True}, {"a": 1}, False), ({"a": 1}, {"a": True}, False),
    ({"a": {"b": [1, True]}}, {"a": {"b": [1, True]}}, True), ({"a": {"b": [1, True]}}, {"a": {"b": [1, 1]}}, False),
    ([1, 2], [1, 2], True), ([1, 2], [2, 1], False), ([1, 2], [1, 2, 3], False), ([1, 2, 3], [1, 2], False),
    ([True], [1], False), ([1], [True], False), ([0, 1], [0, 2], False), ([[1]], [[1]], True), ([[1]], [[2]], False),
    ([], [], True), ({}, {}, True), ([], {}, False), ({}, [], False), ([1], {"0": 1}, False), ({"0": 1}, [1], False),
])
def test_same_json_value(a, b, same):
    assert same_json_value(a, b) is same
    assert same_json_value(b, a) is same


# ------------------------------------------------------------------------------------------------------------------
# params

def test_a_non_finite_param_is_refused_with_the_advice():
    for value in (float("nan"), [1.0, float("inf")], {"x": float("-inf")}):
        with refused("param 'lr': NaN and infinity are not valid param values (log them as a metric or a string)"):
            param_json("lr", value)


def test_a_number_beyond_a_float_has_no_search_number():
    assert param_columns("1e400") == (None, None)  # JSON text a float cannot hold reads as infinity
    assert param_columns("-1e400") == (None, None)
    assert param_columns("1e300") == (1e300, None)


# ------------------------------------------------------------------------------------------------------------------
# metric values and steps

@pytest.mark.parametrize("value, kind", [("0.5", "str"), (b"1", "bytes"), (None, "NoneType"), ([1.0], "list"),
                                         ({"v": 1}, "dict"), (object(), "object")])
def test_a_metric_value_refusal_names_the_type(value, kind):
    with refused(f"metric 'loss': value {value!r} of type {kind} is not a number"):
        metric_value("loss", value)


@pytest.mark.parametrize("step", [INT64_MIN, INT64_MAX, 0, -1, 2.0**62, -(2.0**62), 1000.0, 126.0, 127.0])
def test_steps_up_to_the_64_bit_limits_are_accepted(step):
    assert metric_step("m", step) == int(step)


@pytest.mark.parametrize("step, text", [
    (INT64_MAX + 1, "9223372036854775808"), (INT64_MIN - 1, "-9223372036854775809"),
    (2.0**63, "9.223372036854776e+18"), (-(2.0**63), "-9.223372036854776e+18"), (2.0**64, "1.8446744073709552e+19"),
    (10**50, "1" + "0" * 39),  # the step's text is cut at 40 characters
])
def test_steps_beyond_the_64_bit_range_are_refused(step, text):
    with refused(f"metric 'm': step {text} is outside the 64-bit range"):
        metric_step("m", step)


# ------------------------------------------------------------------------------------------------------------------
# aliases and references

def test_an_alias_refusal_names_the_alias():
    with refused("alias name must not be empty"):
        check_alias("")
    with refused("alias name must be a string, got int: 3"):
        check_alias(3)


def test_a_reference_splits_at_its_last_at_sign():
    assert parse_ref("model", "house") == ("house", None, None)
    assert parse_ref("model", "house@3") == ("house", None, 3)
    assert parse_ref("model", "house@champion") == ("house", "champion", None)
    assert parse_ref("model", "team@house@3") == ("team@house", None, 3)
    assert parse_ref("model", "team@house@champion") == ("team@house", "champion", None)


def test_a_reference_refusal_names_the_kind():
    with refused("model name must not be empty"):
        parse_ref("model", "")
    with refused("dataset name must not be empty"):
        parse_ref("dataset", "@3")
    with refused("model reference must be a string like 'name@alias' or 'name@3', not 3"):
        parse_ref("model", 3)


def test_a_reference_version_starts_at_one():
    assert parse_ref("model", "house@1") == ("house", None, 1)
    with refused("model reference 'house@0': version must be between 1 and 9223372036854775807, not 0"):
        parse_ref("model", "house@0")


# ------------------------------------------------------------------------------------------------------------------
# figures

def test_a_figure_kind_refusal_lists_the_kinds():
    with refused("figure kind 'bar' is not one of matplotlib, plotly, image, confusion_matrix"):
        check_figure_kind("bar")


# ------------------------------------------------------------------------------------------------------------------
# jobs

FIVE_FIELDS = ("is not a cron expression of five fields (minute hour day-of-month month day-of-week), "
               "such as '0 2 * * *'")


def test_a_cron_expression_that_is_not_text_is_refused():
    with refused("schedule must be a cron expression such as '0 2 * * *', not 5"):
        check_cron("schedule", 5)


def test_a_cron_expression_needs_five_fields():
    with refused(f"schedule '* * * *' {FIVE_FIELDS}"):
        check_cron("schedule", "* * * *")
    with refused(f"schedule '* * * * * *' {FIVE_FIELDS}"):
        check_cron("schedule", "* * * * * *")


def test_a_cron_expression_is_at_most_250_characters():
    longest = "10" + ",0" * 120 + " * * * *"
    assert len(longest) == 250
    assert check_cron("schedule", longest) == longest
    too_long = "100" + ",0" * 120 + " * * * *"
    assert len(too_long) == 251
    with pytest.raises(InvalidInput, match=re.escape(FIVE_FIELDS)):
        check_cron("schedule", too_long)


def test_a_time_zone_is_a_short_name_without_control_characters():
    assert check_timezone("timezone", "Europe/Paris") == "Europe/Paris"
    shape = "timezone must be a time zone name such as 'UTC' or 'Europe/Paris', not "
    for bad in ("", "UTC\x1f", "Europe/\nParis", "x" * 65, 5):
        with refused(shape + f"{bad!r:.60}"):
            check_timezone("timezone", bad)
    unknown = "timezone {!r} is not a known time zone (such as 'UTC' or 'Europe/Paris')"
    for bad in ("x" * 64, "Europe/ Paris", "Mars/Olympus"):  # a space is not a control character
        with refused(unknown.format(bad)):
            check_timezone("timezone", bad)


def test_a_number_in_range_includes_both_ends():
    assert check_number("timeout", 1, 1, 10) == 1.0
    assert check_number("timeout", 10, 1, 10) == 10.0
    assert check_number("timeout", None, 1, 10, nullable=True) is None
    for bad in (None, 0.5, 11, True, "5", [5]):
        with refused(f"timeout must be a number between 1 and 10, not {bad!r}"):
            check_number("timeout", bad, 1, 10)


def test_job_params_refusals_name_the_field_and_the_param():
    with refused("params must be an object (a dict), not list"):
        check_job_params("params", [1], None, "train.ipynb")
    with refused("param name must not be empty"):
        check_job_params("params", {"": 1}, None, "train.ipynb")
    with refused("params: train.ipynb does not declare the parameter 'z' in its 'parameters'-tagged cell "
                 "(it declares: alpha, beta)"):
        check_job_params("params", {"alpha": 1, "z": 2}, frozenset({"beta", "alpha"}), "train.ipynb")
    with refused("params: train.ipynb does not declare the parameter 'z' in its 'parameters'-tagged cell "
                 "(it declares: none)"):
        check_job_params("params", {"z": 2}, frozenset(), "train.ipynb")
    assert check_job_params("params", {"alpha": 1}, frozenset({"alpha"}), "train.ipynb") == {"alpha": 1}
    assert check_job_params("params", None, None, "train.py") == {}


def test_a_job_name_refusal_says_what_a_name_is():
    with refused("job name '-x' must be 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit"):
        check_job_name("job name", "-x")


# ------------------------------------------------------------------------------------------------------------------
# params: what JSON cannot hold, and the size limit on both sides

def test_a_param_of_no_json_type_is_refused_with_what_to_log():
    with refused("param 'model': value of type object is not JSON-serialisable (); "
                 "log a number, string, bool, None, list or dict"):
        param_json("model", object())


def test_a_param_is_at_most_the_json_limit():
    def of_length(n):  # a string param whose JSON text is n characters long (two quotes around it)
        return "a" * (n - 2)

    assert len(param_json("p", of_length(MAX_PARAM_JSON))) == MAX_PARAM_JSON
    with refused(f"param 'p': value is {MAX_PARAM_JSON + 1} characters of JSON; the limit is {MAX_PARAM_JSON}"):
        param_json("p", of_length(MAX_PARAM_JSON + 1))


def test_sets_count_towards_a_params_nesting():
    deep: object = 1
    for _ in range(MAX_DEPTH + 5):
        deep = frozenset([deep])
    with refused(f"param 'p': the value nests more than {MAX_DEPTH} levels"):
        param_json("p", deep)
    assert param_json("p", frozenset([frozenset([1])])) == "[[1]]"


# ------------------------------------------------------------------------------------------------------------------
# arrays of steps and timestamps (log_metric_series, batches over HTTP)

def test_steps_arrays_are_int64_whatever_numbers_they_came_as():
    for given in ([0, 1, 2], [0.0, 3.0, 200.0], np.array([1, 2], dtype=np.uint64), np.array([5], dtype=np.int32),
                  np.array([2**63 - 1], dtype=np.uint64), [2.0**62, -(2.0**62)], []):
        out = steps_array("m", given)
        assert out.dtype == np.int64
        assert out.tolist() == [int(x) for x in np.asarray(given).tolist()]


@pytest.mark.parametrize("given, message", [
    ([[0, 1]], "steps must be a flat list of integers"),
    (5, "steps must be a flat list of integers"),
    ([0.5], "steps must be integers in the 64-bit range"),
    ([1.0, float("nan")], "steps must be integers in the 64-bit range"),
    ([float("inf")], "steps must be integers in the 64-bit range"),
    ([2.0**63], "steps must be integers in the 64-bit range"),
    ([-(2.0**63)], "steps must be integers in the 64-bit range"),
    (np.array([2**63], dtype=np.uint64), "steps must be integers in the 64-bit range"),
    (["1"], "steps must be integers"),
    ([True, False], "steps must be integers"),
    ([1 + 2j], "steps must be integers"),
])
def test_steps_arrays_refusals(given, message):
    with refused(f"metric 'loss': {message}"):
        steps_array("loss", given)


def test_timestamps_are_float64_seconds_in_range():
    out = times_array("m", [0, 1, 2])
    assert out.dtype == np.float64 and out.tolist() == [0.0, 1.0, 2.0]
    assert times_array("m", [0.5, MAX_SECONDS - 1]).tolist() == [0.5, MAX_SECONDS - 1]
    assert times_array("m", []).size == 0
    wanted = f"metric 'm': timestamps must be finite seconds since the epoch between 0 and {MAX_SECONDS:.0e}"
    for bad in ([MAX_SECONDS], [-0.001], [float("nan")], [float("inf")]):
        with refused(wanted):
            times_array("m", bad)
    with refused("metric 'm': timestamps must be a flat list of numbers"):
        times_array("m", [[1.0]])


# ------------------------------------------------------------------------------------------------------------------
# artifacts: paths, media types, metadata

def test_an_artifact_path_is_a_non_empty_string_of_at_most_1000_characters():
    assert check_relative_path("path", "a" * 1000) == "a" * 1000
    with refused("path is 1001 characters long; the limit is 1000"):
        check_relative_path("path", "a" * 1001)
    for bad in ("", 5, None):
        with refused("path must be a non-empty string"):
            check_relative_path("path", bad)


def test_a_media_type_is_type_slash_subtype_of_at_most_255_characters():
    longest = "text/" + "x" * (MAX_MEDIA_TYPE - 5)
    assert check_media_type("media_type", longest) == longest
    assert check_media_type("media_type", "text/plain; charset=utf-8") == "text/plain; charset=utf-8"
    for bad in (longest + "x", "textcsv", "text/", 5):
        with refused(f"media_type {bad!r:.80} is not a media type such as 'text/csv' "
                     f"(type/subtype, at most {MAX_MEDIA_TYPE} characters)"):
            check_media_type("media_type", bad)


def test_artifact_metadata_is_an_object_of_limited_json():
    with refused("metadata must be an object (a dict), not list"):
        check_metadata("metadata", [1])
    when = datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)
    assert check_metadata("metadata", {"when": when}) == {"when": when}  # stored as its text
    for bad in ({"x": float("nan")}, {"x": [float("-inf")]}):
        with refused("metadata must be JSON without NaN or infinity"):
            check_metadata("metadata", bad)
    at_limit = {"x": "a" * (MAX_METADATA_JSON - len('{"x": ""}'))}
    assert len(json.dumps(at_limit)) == MAX_METADATA_JSON
    assert check_metadata("metadata", at_limit) == at_limit
    over = {"x": at_limit["x"] + "a"}
    with refused(f"metadata is {MAX_METADATA_JSON + 1} characters of JSON; the limit is {MAX_METADATA_JSON}"):
        check_metadata("metadata", over)


# ------------------------------------------------------------------------------------------------------------------
# tags

def test_a_tag_value_is_text():
    with refused("tag 'env': value must be text, not bytes"):
        tag_value("env", b"prod")
    when = datetime.date(2026, 1, 2)
    assert tag_value("env", when) == '"2026-01-02"'  # anything else as its JSON, or its text
    assert tag_value("env", 3) == "3"
    with refused("tag 'env': value '\\ud800' holds a lone surrogate, which is not text"):
        tag_value("env", "\ud800")


# ------------------------------------------------------------------------------------------------------------------
# integers, nesting, paths

def test_a_whole_float_counts_as_an_integer_below_two_to_the_63():
    for given in (5.0, 200.0, 2.0**62, -(2.0**62)):
        got = check_int("n", given)
        assert got == given and type(got) is int
    for given in (2.0**63, -(2.0**63), 2.0**64, 5.5):
        with refused(f"n must be an integer, not {given!r}"):
            check_int("n", given)


def test_an_integer_range_includes_both_ends():
    assert check_int("n", 1, 1, 5) == 1
    assert check_int("n", 5, 1, 5) == 5
    with refused("n must be between 1 and 5, not 6"):
        check_int("n", 6, 1, 5)
    with refused("n must be between 1 and 5, not " + "1" + "0" * 39):  # the value's text is cut at 40 characters
        check_int("n", 10**50, 1, 5)


def test_a_param_may_nest_exactly_the_depth_limit():
    def nested(levels):
        v: object = 1
        for _ in range(levels):
            v = [v]
        return v

    assert param_json("p", nested(MAX_DEPTH)) == "[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH
    with refused(f"param 'p': the value nests more than {MAX_DEPTH} levels"):
        param_json("p", nested(MAX_DEPTH + 1))


def test_a_lone_surrogate_is_refused_wherever_it_is():
    with refused("param 'p': the value holds a lone surrogate, which is not text"):
        param_json("p", {"a": ["\ud800"]})
    with refused("path 'a/\\ud800' holds a lone surrogate, which is not text"):
        check_relative_path("path", "a/\ud800")


def test_an_artifact_path_has_no_backslash_or_control_character():
    assert check_relative_path("path", "a b/c d.txt") == "a b/c d.txt"  # spaces are fine
    for bad in ("a\\b", "a\x1fb", "a\nb", "/abs", "a//b", "./a", "a/../b"):
        with refused(f"path {bad!r:.80} must be a relative path without '..', '.', empty parts, backslashes or "
                     "control characters"):
            check_relative_path("path", bad)


# ------------------------------------------------------------------------------------------------------------------
# free text and times

def test_free_text_is_a_string_of_at_most_its_limit():
    assert check_text("description", "a" * 10, limit=10) == "a" * 10
    assert check_text("description", "") == ""
    assert check_text("description", None, nullable=True) is None
    with refused("description must be a string, not NoneType"):
        check_text("description", None)
    with refused("description must be a string, not int"):
        check_text("description", 5, nullable=True)
    with refused("description is 11 characters long; the limit is 10"):
        check_text("description", "a" * 11, limit=10)
    with refused("description '\\ud800' holds a lone surrogate, which is not text"):
        check_text("description", "\ud800")


def test_a_time_is_seconds_since_the_epoch_from_zero_up_to_the_limit():
    for t in (0, 0.5, 1, MAX_SECONDS - 1):
        assert check_seconds("end_time", t) == float(t)
    assert check_seconds("end_time", None, nullable=True) is None
    with refused("end_time must be a number of seconds since the epoch, not None"):
        check_seconds("end_time", None)
    for bad in (-0.5, MAX_SECONDS, float("nan"), float("inf")):
        with refused(f"end_time must be finite seconds since the epoch between 0 and {MAX_SECONDS:.0e}, "
                     f"not {bad!r}"):
            check_seconds("end_time", bad)


# ------------------------------------------------------------------------------------------------------------------
# names, contexts, deployments, what JSON cannot hold

def test_a_long_name_refusal_shows_its_first_40_characters():
    key = "abcdefghij" * 25 + "k"
    with refused(f"param name {key[:40]!r}… is 251 characters long; the limit is 250"):
        check_key("param", key)
    with refused("metric name '\\ud800x' holds a lone surrogate, which is not text"):
        check_key("metric", "\ud800x")


def context_of_length(n: int) -> dict:
    """A context whose canonical JSON text is n characters long (n between 60 and 520)."""
    ctx = {f"k{i}": "v" * 100 for i in range(4)}  # '{' + 4 × '"kI":"v…v"' (107 each) + 3 commas + '}' = 433
    rest = n - 433 - len(',"k9":""')
    ctx["k9"] = "w" * rest
    return ctx


def test_a_metric_context_is_at_most_500_characters_of_json():
    text = context_json(context_of_length(500))
    assert len(text) == 500
    with refused("metric context is too large (500 characters of JSON at most)"):
        context_json(context_of_length(501))


def test_a_metric_context_value_is_short_text_without_separators():
    assert context_json({"subset": "x" * 100}) == '{"subset":"' + "x" * 100 + '"}'
    assert context_json({"subset": "XX"}) == '{"subset":"XX"}'
    for bad in ("x" * 101, "a,b", "a]", "a=b", "a\nb"):
        with refused(f"metric context value {bad!r} for 'subset' must be ≤100 characters without ',', ']' or '='"):
            context_json({"subset": bad})
    with refused("metric context value for 'subset' '\\ud800' holds a lone surrogate, which is not text"):
        context_json({"subset": "\ud800"})


def test_a_deployment_name_refusal_names_the_field():
    assert check_deployment_name("deployment name", "house-v2") == "house-v2"
    with refused("deployment name '-x' must be 1-100 letters, digits, '_', '-' or '.', starting with a letter or "
                 "digit"):
        check_deployment_name("deployment name", "-x")


def test_nesting_through_objects_counts_each_level_once():
    def nested(levels):
        v: object = 1
        for _ in range(levels):
            v = {"a": v}
        return v

    assert param_json("p", nested(MAX_DEPTH)).count("{") == MAX_DEPTH
    with refused(f"param 'p': the value nests more than {MAX_DEPTH} levels"):
        param_json("p", nested(MAX_DEPTH + 1))


def test_bytes_are_refused_as_json():
    with refused("param 'p': the value holds bytes, which JSON cannot (send text)"):
        param_json("p", {"a": b"x"})
