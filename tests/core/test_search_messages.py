"""core/search.py's refusals word for word (the position a user is pointed to, how a long number is shown) and the
splitting of an ``order_by`` at its commas (not inside quotes or a context's brackets)."""

from __future__ import annotations

import pytest

from jupyter_mltrack.core.errors import InvalidInput
from jupyter_mltrack.core.search import (MAX_INT, MAX_NESTING, MAX_TERMS, MAX_TEXT_LENGTH, Field, parse,
                                         parse_field, parse_order_by, tree_depth)

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
    assert parse_order_by("params.`a,b` desc, name") == [
        (Field("param", "a,b"), "desc"), (Field("attr", "name"), "asc")]
    assert parse_order_by("metrics.m[subset=val,fold=1] desc,params.lr") == [
        (Field("metric", "m", '{"fold":"1","subset":"val"}'), "desc"), (Field("param", "lr"), "asc")]
    # a bracket inside a context is refused whole, at its own position (the comma after it does not split)
    assert refusal(parse_order_by, "metrics.m[k=a[1],j=2] desc, name") == (
        "search: unexpected character ']' at position 21 in 'metrics.m[k=a[1],j=2]'")


@pytest.mark.parametrize("text, message", [
    ("(params.x > 1 2", "search: expected ')' at position 15 ('2') in '(params.x > 1 2'"),
    ("params.x is 5", "search: expected 'null' at position 13 ('5') in 'params.x is 5'"),
    ("params.x is", "search: expected 'null' at the end of 'params.x is'"),
    ("params.x in 5", "search: expected '(' after 'in' at position 13 ('5') in 'params.x in 5'"),
    ("params.x in (1 2)", "search: expected ')' at position 16 ('2') in 'params.x in (1 2)'"),
    ("params.x foo", "search: expected an operator (=, !=, <, <=, >, >=, in, like, is null) at position 10 ('foo') "
                     "in 'params.x foo'"),
])
def test_each_refusal_of_the_grammar_names_the_token_it_stopped_at(text, message):
    assert refusal(parse, text) == message


def test_negations_are_false_unless_written():
    x = Field("param", "x")
    assert parse("params.x is null") == ("isnull", x, False)
    assert parse("params.x is not null") == ("isnull", x, True)
    assert parse("params.x in (1)") == ("in", x, [1], False)
    assert parse("params.x not in (1)") == ("in", x, [1], True)


def test_too_many_conditions_are_refused_at_the_first_one_too_many():
    terms = ["params.x = 1"] * (MAX_TERMS + 1)
    assert refusal(parse, " or ".join(terms)) == (
        f"search: filter has more than {MAX_TERMS} conditions at position {16 * MAX_TERMS + 1}; for many values "
        "of one field use 'in (…)'")
    assert refusal(parse, " or ".join(terms[:-1]) + " or") == (
        f"search: filter has more than {MAX_TERMS} conditions; for many values of one field use 'in (…)'")
    assert parse(" or ".join(terms[:-1]))[0] == "or"


def test_nesting_counts_only_the_groups_still_open():
    """Closing a parenthesis or ending a 'not' gives its level back: many groups side by side are not deep, and
    one group closed before does not make room for a deeper one."""
    x = "params.x > 1"
    assert parse(" and ".join([f"({x})"] * (MAX_NESTING + 10)))[0] == "and"
    assert parse(" and ".join([f"not {x}"] * (MAX_NESTING + 10)))[0] == "and"
    deepest = "(" * MAX_NESTING + x + ")" * MAX_NESTING
    assert parse(f"({x}) and not {x} and {deepest}")[0] == "and"
    too_deep = "(" * (MAX_NESTING + 1) + x + ")" * (MAX_NESTING + 1)
    assert refusal(parse, f"({x}) and not {x} and {too_deep}").startswith(
        f"search: filter nests more than {MAX_NESTING} levels (parentheses and 'not's) at position")


def test_and_or_groups_nested_past_the_limit_are_refused():
    f = "params.x > 1"
    for _ in range(30):  # each parenthesis holds an or of an and: two groups a level
        f = f"params.x > 1 or params.x > 2 and ({f})"
    assert refusal(parse, f) == (f"search: filter nests more than {MAX_NESTING} levels (and / or groups within "
                                 "each other, parentheses and 'not's)")


def test_tree_depth_counts_and_or_not_nodes():
    assert tree_depth(parse("params.x > 1")) == 0
    assert tree_depth(parse("not params.x > 1")) == 1
    assert tree_depth(parse("params.x > 1 or not (params.x < 0 and params.y = 1)")) == 3


@pytest.mark.parametrize("text, field", [
    ("params.a[b", Field("param", "a[b")),  # no closing bracket: part of the name
    ("metrics.`m`[k=a[b]", Field("metric", "m", '{"k":"a[b"}')),  # the context starts after the quoted name
    ("params.`ab", Field("param", "`ab")),  # an opening backquote alone quotes nothing
    ("params.a.b", Field("param", "a.b")),
])
def test_field_names(text, field):
    assert parse_field(text) == field


def test_unknown_fields_and_contexts_are_refused_word_for_word():
    assert refusal(parse_field, "foo.bar") == (
        "search: unknown field 'foo.bar'; use metrics.<name>, params.<key>, tags.<key> or one of id, name, status, "
        "user, source, description, parent_id, start_time, end_time, duration, project, experiment, campaign")
    # an unquoted name holding brackets: the context starts at the first bracket
    assert refusal(parse_field, "metrics.a[b][subset=val]") == (
        "metric context key 'b][subset' must be 1-100 letters, digits, '_', '-' or '.'")


def test_order_by_names_with_capital_letters_split_as_others():
    assert parse_order_by("params.MAX desc, tags.X") == [(Field("param", "MAX"), "desc"), (Field("tag", "X"), "asc")]


@pytest.mark.parametrize("text, message", [
    ("min(params.x) > 1", "search: min() takes a metrics.<name> field at position 5 ('params.x') in "
                          "'min(params.x) > 1'"),
    ("min(metrics.x 2", "search: expected ')' at position 15 ('2') in 'min(metrics.x 2'"),
    ("= 1", "search: expected a field such as metrics.acc, params.lr, tags.team or status at position 1 ('=') in "
            "'= 1'"),
    ("foo(metrics.x) > 1", "search: unknown field 'foo'; use metrics.<name>, params.<key>, tags.<key> or one of id, "
                           "name, status, user, source, description, parent_id, start_time, end_time, duration, "
                           "project, experiment, campaign"),
])
def test_fields_and_summary_functions_are_refused_word_for_word(text, message):
    assert refusal(parse, text) == message


def test_capital_letters_start_no_string_and_quoted_names_keep_their_spaces():
    assert parse("params.MAX = 1 and tags.X = 'y'") == (
        "and", ("cmp", Field("param", "MAX"), "=", 1), ("cmp", Field("tag", "X"), "=", "y"))
    assert parse_order_by("params.`a b` desc") == [(Field("param", "a b"), "desc")]


def test_a_filter_of_exactly_the_longest_length_is_read():
    text = "params.x > 1"
    assert parse(text + " " * (MAX_TEXT_LENGTH - len(text))) == ("cmp", Field("param", "x"), ">", 1)
    assert refusal(parse, text + " " * (MAX_TEXT_LENGTH + 1 - len(text))) == (
        f"search: filter is longer than {MAX_TEXT_LENGTH:,} characters ({MAX_TEXT_LENGTH + 1:,})")
