"""core/search.py's refusals word for word (the position a user is pointed to, how a long number is shown) and the
splitting of an ``order_by`` at its commas (not inside quotes or a context's brackets)."""

from __future__ import annotations

import pytest

from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.core.search import MAX_INT, MAX_NESTING, Field, parse, parse_order_by

TAIL = f"is out of range (at most {MAX_INT} in magnitude); write e.g. 1e30 to compare as a float"


def refusal(call, text) -> str:
    with pytest.raises(InvalidInput) as e:
        call(text)
    return str(e.value)


@pytest.mark.parametrize("number, shown", [
    ("9" * 24, "9" * 24),  # 24 characters: shown whole
    ("9" * 25, "9" * 20 + "… (25 characters)"),  # longer: its first 20 and its length
    ("-" + "9" * 23, "-" + "9" * 23),
    ("+" + "0" * 30 + "9" * 20, "+" + "0" * 19 + "… (51 characters)"),  # too large once the zeros are dropped
])
def test_an_integer_out_of_range_is_refused_with_its_position(number, shown):
    assert refusal(parse, f"params.x > {number}") == f"search: the integer {shown} at position 12 {TAIL}"


def test_leading_zeros_and_signs_do_not_make_an_integer_too_long():
    assert parse("params.x > -" + "0" * 40 + "7") == ("cmp", Field("param", "x"), ">", -7)
    assert parse("params.x > +" + "0" * 40 + str(MAX_INT)) == ("cmp", Field("param", "x"), ">", MAX_INT)
    assert parse("params.x = +" + "0" * 40) == ("cmp", Field("param", "x"), "=", 0)


def test_a_float_too_large_is_refused_with_its_position():
    assert refusal(parse, "attributes.start_time < 1e999") == (
        "search: the number 1e999 at position 25 is too large for a float (about 1.8e308 at most); write inf "
        "for infinity")


@pytest.mark.parametrize("text, message", [
    ("params.x > 1 2", "search: expected 'and', 'or' or the end at position 14 ('2') in 'params.x > 1 2'"),
    ("params.x >= (", "search: expected a value (number, 'string', true or false) at position 13 ('(') in "
                      "'params.x >= ('"),
    ("params.x", "search: expected an operator (=, !=, <, <=, >, >=, in, like, is null) at the end of 'params.x'"),
    ("params.x > 1 and", "search: unexpected end of filter 'params.x > 1 and'"),
])
def test_syntax_errors_point_at_the_token(text, message):
    assert refusal(parse, text) == message


def test_nesting_past_the_limit_is_refused_where_it_happens():
    nots = "not " * (MAX_NESTING + 1) + "params.x > 1"
    assert refusal(parse, nots) == (f"search: filter nests more than {MAX_NESTING} levels (parentheses and 'not's) "
                                    f"at position {4 * MAX_NESTING + 1}")
    parens = "(" * (MAX_NESTING + 1) + "params.x > 1" + ")" * (MAX_NESTING + 1)
    assert refusal(parse, parens).endswith(f"at position {MAX_NESTING + 1}")


def test_a_context_value_is_everything_after_the_first_equals_sign():
    assert refusal(parse, "metrics.m[k=a=b] > 0") == (
        "metric context value 'a=b' for 'k' must be ≤100 characters without ',', ']' or '='")
    assert parse("metrics.m[subset='XL'] > 0")[1].context == '{"subset":"XL"}'  # quotes stripped, letters kept
    assert parse("metrics.m[subset=X] > 0")[1].context == '{"subset":"X"}'


def test_order_by_splits_at_commas_outside_quotes_and_brackets():
    assert parse_order_by("params.`a,b` desc, name") == [(Field("param", "a,b"), "desc"), (Field("attr", "name"), "asc")]
    assert parse_order_by("metrics.m[subset=val,fold=1] desc,params.lr") == [
        (Field("metric", "m", '{"fold":"1","subset":"val"}'), "desc"), (Field("param", "lr"), "asc")]
    # a bracket inside a context is refused whole, at its own position (the comma after it does not split)
    assert refusal(parse_order_by, "metrics.m[k=a[1],j=2] desc, name") == (
        "search: unexpected character ']' at position 21 in 'metrics.m[k=a[1],j=2]'")
