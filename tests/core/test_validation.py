"""core/validation.py: key rules, param JSON, metric values and steps, contexts, tags."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.core.validation import (
    MAX_KEY,
    MAX_PARAM_JSON,
    MAX_TAG_VALUE,
    check_key,
    context_json,
    metric_step,
    metric_value,
    param_columns,
    param_json,
    series_key,
    tag_value,
)


# ------------------------------------------------------------------------------------------------------------------
# keys


@pytest.mark.parametrize("key", ["lr", "a" * MAX_KEY, "my loss", "val/loss", "ü-ñ 学习率", "x.y[z]", "'quoted'"])
def test_good_keys(key):
    assert check_key("param", key) == key


@pytest.mark.parametrize("key, message", [
    ("", "param name must not be empty"),
    ("   ", "param name must not be empty"),
    ("a" * (MAX_KEY + 1), "is 251 characters long; the limit is 250"),
    (3, "param name must be a string, got int: 3"),
    (None, "must be a string, got NoneType"),
    (b"lr", "must be a string, got bytes"),
    ("a\nb", "contains a control character"),
    ("tab\there", "contains a control character"),
    ("nul\x00", "contains a control character"),
    ("\x01", "contains a control character"),
    ("\x1f", "must not be empty"),  # str.strip() treats the separators as whitespace
])
def test_bad_keys(key, message):
    with pytest.raises(InvalidInput) as ei:
        check_key("param", key)
    assert message in str(ei.value)


def test_check_key_names_the_kind():
    with pytest.raises(InvalidInput, match="^metric name"):
        check_key("metric", "")
    with pytest.raises(InvalidInput, match="^tag name"):
        check_key("tag", 1.5)


# ------------------------------------------------------------------------------------------------------------------
# params


@pytest.mark.parametrize("value, text", [
    (1, "1"), (0.1, "0.1"), (-2.5e-10, "-2.5e-10"), ("adam", '"adam"'), (True, "true"), (None, "null"),
    ([1, "a", None], '[1,"a",null]'), ((1, 2), "[1,2]"), ({"b": 1, "a": [2]}, '{"a":[2],"b":1}'),
    (np.int64(7), "7"), (np.float32(0.5), "0.5"), (np.bool_(True), "true"), (np.str_("s"), '"s"'),
    (np.array([[1, 2], [3, 4]]), "[[1,2],[3,4]]"), (np.arange(3, dtype=np.uint8), "[0,1,2]"),
    ({"nested": {"arr": np.array([1.5])}}, '{"nested":{"arr":[1.5]}}'), ({1}, "[1]"), ("ünï", '"\\u00fcn\\u00ef"'),
])
def test_param_json_is_canonical(value, text):
    assert param_json("k", value) == text
    json.loads(text)


class Opaque:
    pass


@pytest.mark.parametrize("value, message", [
    (Opaque(), "param 'model': value of type Opaque is not JSON-serialisable"),
    ({"inner": Opaque()}, "param 'model': value of type dict is not JSON-serialisable"),
    (lambda: 1, "param 'model'"),
    (math.nan, "param 'model': NaN and infinity are not valid"),
    (math.inf, "NaN and infinity"),
    ([1.0, -math.inf], "NaN and infinity"),
    (np.float64("nan"), "NaN and infinity"),
    ("x" * MAX_PARAM_JSON, "the limit is 64000"),
])
def test_param_json_refusals_name_the_key(value, message):
    with pytest.raises(InvalidInput) as ei:
        param_json("model", value)
    assert message in str(ei.value)


def test_param_columns():
    assert param_columns("0.5") == (0.5, None)
    assert param_columns("3") == (3.0, None)
    assert param_columns("true") == (1.0, None)
    assert param_columns("false") == (0.0, None)
    assert param_columns('"adam"') == (None, "adam")
    assert param_columns("null") == (None, None)
    assert param_columns("[1,2]") == (None, None)
    assert param_columns('{"a":1}') == (None, None)


# ------------------------------------------------------------------------------------------------------------------
# metric values and steps


@pytest.mark.parametrize("value, expected", [
    (1, 1.0), (0.25, 0.25), (True, 1.0), (np.float32(0.5), 0.5), (np.int64(3), 3.0), (np.float64(-2.0), -2.0),
    (np.array(4.5), 4.5),
])
def test_metric_value_accepts_numbers(value, expected):
    assert metric_value("m", value) == expected


def test_metric_value_refuses_what_does_not_fit_a_float():
    with pytest.raises(InvalidInput, match="metric 'm': value .* is too large for a float"):
        metric_value("m", 10**400)


def test_metric_value_keeps_non_finite():
    assert math.isnan(metric_value("m", math.nan))
    assert metric_value("m", np.inf) == math.inf and metric_value("m", -math.inf) == -math.inf


@pytest.mark.parametrize("value", ["abc", "1.5", b"1", None, [1.0], {"a": 1}, object()])
def test_metric_value_refusals_name_the_metric(value):
    with pytest.raises(InvalidInput, match="metric 'loss': value .* is not a number"):
        metric_value("loss", value)


@pytest.mark.parametrize("step, expected", [(0, 0), (-5, -5), (2**62, 2**62), (3.0, 3), (np.int64(9), 9),
                                            (np.int32(-1), -1)])
def test_metric_step_accepts_integers(step, expected):
    assert metric_step("m", step) == expected


@pytest.mark.parametrize("step", [True, False, None, 1.5, "3", "x", [1], float("nan"), float("inf")])
def test_metric_step_refuses_non_integers(step):
    with pytest.raises(InvalidInput, match="metric 'm': step .* is not an integer"):
        metric_step("m", step)


# ------------------------------------------------------------------------------------------------------------------
# contexts


@pytest.mark.parametrize("context, text", [
    (None, "{}"), ({}, "{}"), ("", "{}"), ("  ", "{}"),
    ({"subset": "val"}, '{"subset":"val"}'),
    ({"b": "2", "a": "1"}, '{"a":"1","b":"2"}'),
    ({"fold": 1, "lr": 0.5, "ok": True, "no": False}, '{"fold":"1","lr":"0.5","no":"false","ok":"true"}'),
    ('{"subset": "val"}', '{"subset":"val"}'),
    ({"k.e-y_1": "v a l/ue"}, '{"k.e-y_1":"v a l/ue"}'),
])
def test_context_json_is_canonical(context, text):
    assert context_json(context) == text


@pytest.mark.parametrize("context, message", [
    ("not json", "is not a JSON object"),
    ("[1, 2]", "must be a dict"),
    (["subset", "val"], "must be a dict"),
    ({"": "x"}, "context key ''"),
    ({"has space": "x"}, "context key 'has space'"),
    ({"k" * 101: "x"}, "must be 1-100 letters"),
    ({1: "x"}, "context key 1"),
    ({"k": None}, "must be a string or number"),
    ({"k": ["a"]}, "must be a string or number"),
    ({"k": "a,b"}, "without ',', ']' or '='"),
    ({"k": "a]"}, "without ','"),
    ({"k": "a=b"}, "without ','"),
    ({"k": "x" * 101}, "≤100 characters"),
    ({"k": "line\nbreak"}, "≤100 characters"),
    ({f"k{i}": "v" * 60 for i in range(8)}, "context is too large"),
])
def test_bad_contexts(context, message):
    with pytest.raises(InvalidInput) as ei:
        context_json(context)
    assert message in str(ei.value)


def test_series_key():
    assert series_key("acc", "{}") == "acc"
    assert series_key("acc", "") == "acc"
    assert series_key("acc", '{"subset":"val"}') == "acc[subset=val]"
    assert series_key("acc", context_json({"subset": "val", "fold": 2})) == "acc[fold=2,subset=val]"


# ------------------------------------------------------------------------------------------------------------------
# tags


def test_tag_values():
    assert tag_value("t", "v") == "v"
    assert tag_value("t", "") == ""
    assert tag_value("t", 3) == "3"
    assert tag_value("t", True) == "true"
    assert tag_value("t", {"a": 1}) == '{"a": 1}'
    assert tag_value("t", "x" * MAX_TAG_VALUE) == "x" * MAX_TAG_VALUE
    with pytest.raises(InvalidInput, match="tag 't': value must not be None"):
        tag_value("t", None)
    with pytest.raises(InvalidInput, match="tag 't': value is 5001 characters; the limit is 5000"):
        tag_value("t", "x" * (MAX_TAG_VALUE + 1))
