"""The search filter parser: MLflow's grammar and messages, the OR / parentheses extension, order_by."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runyard.domain.search_filter import (
    EXPERIMENTS,
    RUNS,
    And,
    Comparison,
    Entity,
    Expr,
    Op,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from runyard.errors import InvalidParameter

M, P, T, A, D = Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE, Entity.DATASET


def c(entity: Entity, key: str, op: Op, value: object) -> Comparison:
    return Comparison(entity, key, op, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.5", c(M, "acc", Op.GT, 0.5)),
        ("metric.acc >= 1", c(M, "acc", Op.GE, 1.0)),
        ("metrics.`my metric` < -1e3", c(M, "my metric", Op.LT, -1000.0)),
        ('metrics."my metric" <= .5', c(M, "my metric", Op.LE, 0.5)),
        ("metrics.acc != 1.", c(M, "acc", Op.NE, 1.0)),
        ("params.lr = '0.1'", c(P, "lr", Op.EQ, "0.1")),
        ('param.lr = "0.1"', c(P, "lr", Op.EQ, "0.1")),
        ("parameters.opt LIKE 'a%'", c(P, "opt", Op.LIKE, "a%")),
        ("params.opt ilike 'A%'", c(P, "opt", Op.ILIKE, "A%")),
        ("params.opt IS NULL", c(P, "opt", Op.IS_NULL, None)),
        ("params.opt is not null", c(P, "opt", Op.IS_NOT_NULL, None)),
        ("tags.mlflow.runName = 'x'", c(T, "mlflow.runName", Op.EQ, "x")),
        ("tags.`mlflow.runName` = 'x'", c(T, "mlflow.runName", Op.EQ, "x")),
        ("tag.`with space` != ''", c(T, "with space", Op.NE, "")),
        ("tags.t = 'it''s'", c(T, "t", Op.EQ, "it's")),
        ("tags.t = 'it\\'s'", c(T, "t", Op.EQ, "it's")),
        ("tags.t LIKE 'a\\_b'", c(T, "t", Op.LIKE, "a\\_b")),
        ("tags.t = 'a\\'", c(T, "t", Op.EQ, "a\\")),
        ('tags.t = "say \\"hi\\""', c(T, "t", Op.EQ, 'say "hi"')),
        ("`tags`.t = 'x'", c(T, "t", Op.EQ, "x")),
        ("status = 'RUNNING'", c(A, "status", Op.EQ, "RUNNING")),
        ("attributes.status != 'RUNNING'", c(A, "status", Op.NE, "RUNNING")),
        ("attr.user_id LIKE 'a%'", c(A, "user_id", Op.LIKE, "a%")),
        ("run.artifact_uri ILIKE '%x'", c(A, "artifact_uri", Op.ILIKE, "%x")),
        ("attributes.run_name = 'r'", c(A, "run_name", Op.EQ, "r")),
        ("\"run name\" = 'r'", c(A, "run_name", Op.EQ, "r")),
        ("attributes.`Run Name` = 'r'", c(A, "run_name", Op.EQ, "r")),
        ("attributes.created > 5", c(A, "start_time", Op.GT, 5)),
        ("Created <= 5", c(A, "start_time", Op.LE, 5)),
        ("attributes.end_time = 1.5", c(A, "end_time", Op.EQ, 1.5)),
        ("attributes.run_id IN ('a', \"b\")", c(A, "run_id", Op.IN, ("a", "b"))),
        ("attributes.run_id not in ('a')", c(A, "run_id", Op.NOT_IN, ("a",))),
        ("datasets.name IN ('a','b')", c(D, "name", Op.IN, ("a", "b"))),
        ("dataset.context = 'train'", c(D, "context", Op.EQ, "train")),
        ("datasets.digest NOT IN ('d')", c(D, "digest", Op.NOT_IN, ("d",))),
    ],
)
def test_single_comparisons(text: str, expected: Comparison) -> None:
    assert parse_filter(text, RUNS) == expected


def test_empty_filter_is_none() -> None:
    assert parse_filter(None, RUNS) is None
    assert parse_filter("   ", RUNS) is None


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, x = "metrics.a > 1", "params.b = 'x'", "tags.c = 'y'"
    ca, cb, cx = c(M, "a", Op.GT, 1.0), c(P, "b", Op.EQ, "x"), c(T, "c", Op.EQ, "y")
    assert parse_filter(f"{a} AND {b} and {x}", RUNS) == And((ca, cb, cx))
    assert parse_filter(f"{a} OR {b} AND {x}", RUNS) == Or((ca, And((cb, cx))))
    assert parse_filter(f"({a} OR {b}) AND {x}", RUNS) == And((Or((ca, cb)), cx))
    assert parse_filter(f"((({a})))", RUNS) == ca
    assert parse_filter(f"{a} or ({b} or {x})", RUNS) == Or((ca, Or((cb, cx))))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.a", "Invalid clause(s) in filter string: expected a comparison operator"),
        ("metrics.a >", "expected a value"),
        ("metrics.a > 1 AND", "expected a comparison"),
        ("metrics.a > 1 metrics.b < 2", "expected AND, OR or the end of the filter at position 14"),
        ("(metrics.a > 1", "expected ')'"),
        ("metrics.a > 1)", "expected AND, OR or the end of the filter"),
        ("= 1", "expected a comparison such as metrics.<key> > 0"),
        ("params.a = 'x", "unterminated quote"),
        ("metrics.a-b > 1", "unexpected character '-' at position 9 (quote a key"),
        ("params.a = 'x'; params.b = 'y'", "unexpected character ';'"),
        ("metrics.a <> 1", "Invalid comparator '<>'"),
        ("metrics.a == 1", "Invalid comparator '=='"),
        ("metrics.a IS 1", "expected NULL"),
        ("foo.bar = 'x'", "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', "),
        ("attributes.foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are"),
        ("attributes.lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'"),
        ("datasets.source = 'x'", "Invalid dataset key 'source' specified. Valid keys are"),
        ("metrics.a = '1'", "Expected numeric value type for metric. Found '1'"),
        ("metrics.a LIKE '1'", "Invalid comparator 'LIKE' not one of"),
        ("metrics.a IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'a'"),
        ("attributes.status IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params"),
        ("params.a = 1", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"),
        ("params.a > 'x'", "Invalid comparator '>' not one of"),
        ("params.a IN ('x')", "Invalid comparator 'IN' not one of"),
        ("tags.a = `x`", "not quoted or unidentified quote types"),
        ("attributes.status = RUNNING", "Parameter value is either not quoted"),
        ("attributes.status > 'a'", "Invalid comparator '>'"),
        ("attributes.start_time = 'x'", "Expected numeric value type for numeric attribute: start_time. Found 'x'"),
        ("attributes.start_time LIKE '1'", "Invalid comparator 'LIKE'"),
        ("attributes.status IN ('a')", "Only ['run_id'] attributes support comparison with a list"),
        ("attributes.run_id IN ()", "expected a non-empty list of string values, but got empty list"),
        ("attributes.run_id IN (1, 2)", "expected a non-empty list of quoted string values, but got 1"),
        ("attributes.run_id IN 'a'", "expected a parenthesised list"),
        ("attributes.run_id = ('a')", "only allowed after IN or NOT IN"),
        ("attributes.run_id IN ('a' 'b')", "expected ',' or ')'"),
        ("datasets.name > 'a'", "Invalid comparator '>'"),
        ("datasets.name = 1", "Expected a quoted string value for dataset attributes"),
        ("(" * 51 + "metrics.a > 1" + ")" * 51, "nest deeper than 50 levels"),
    ],
)
def test_invalid_run_filters(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_filter(text, RUNS)
    assert message in raised.value.message
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        (["metrics.acc"], [OrderKey(M, "acc", True)]),
        (["metrics.acc DESC"], [OrderKey(M, "acc", False)]),
        (["metrics.`my metric` desc"], [OrderKey(M, "my metric", False)]),
        (['params."a b" ASC'], [OrderKey(P, "a b", True)]),
        (["tags.mlflow.runName"], [OrderKey(T, "mlflow.runName", True)]),
        (["start_time"], [OrderKey(A, "start_time", True)]),
        (["attributes.created DESC"], [OrderKey(A, "start_time", False)]),
        (["run_name", "metrics.a"], [OrderKey(A, "run_name", True), OrderKey(M, "a", True)]),
    ],
)
def test_order_by(clauses: list[str], expected: list[OrderKey]) -> None:
    assert parse_order_by(clauses, RUNS) == expected


@pytest.mark.parametrize(
    ("clauses", "message"),
    [
        (["metrics.acc sideways"], "Invalid ordering key in order_by clause 'metrics.acc sideways'."),
        (["metrics.acc DESC extra"], "Invalid order_by clause 'metrics.acc DESC extra'. Could not be parsed."),
        (["'metrics.acc'"], "Could not be parsed"),
        ([""], "Could not be parsed"),
        (["datasets.name"], "Invalid order_by entity type 'dataset'"),
        (["attributes.run name"], "Invalid ordering key"),
        (["attributes.`run name`"], "Invalid attribute key 'run name'"),
        (["metrics.a", "metric.a DESC"], "`order_by` contains duplicate fields"),
        (["created", "start_time"], "`order_by` contains duplicate fields"),
    ],
)
def test_invalid_order_by(clauses: list[str], message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_order_by(clauses, RUNS)
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'x'", c(A, "name", Op.EQ, "x")),
        ("attribute.name ILIKE 'x%'", c(A, "name", Op.ILIKE, "x%")),
        ("attributes.name != 'x'", c(A, "name", Op.NE, "x")),
        ("tags.team = 'a'", c(T, "team", Op.EQ, "a")),
        ("tag.team IS NULL", c(T, "team", Op.IS_NULL, None)),
        ("experiment_id = '3'", c(A, "experiment_id", Op.EQ, 3)),
        ("experiment_id IN ('1', '2')", c(A, "experiment_id", Op.IN, (1, 2))),
        ("experiment_id NOT IN ('1')", c(A, "experiment_id", Op.NOT_IN, (1,))),
        ("creation_time >= 10", c(A, "creation_time", Op.GE, 10)),
        ("last_update_time < 10", c(A, "last_update_time", Op.LT, 10)),
    ],
)
def test_experiment_filters(text: str, expected: Comparison) -> None:
    assert parse_filter(text, EXPERIMENTS) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.a > 1", "Invalid entity type 'metrics'. Valid entity types are"),
        ("attribute.owner = 'x'", "Invalid attribute key 'owner' specified"),
        ("owner = 'x'", "Invalid attribute key 'owner' specified"),
        ("name IN ('a')", "Only ['experiment_id'] attributes support comparison with a list"),
        ("name > 'a'", "Invalid comparator for string attribute: >"),
        ("name = 1", "Expected a quoted string value for attributes"),
        ("experiment_id LIKE '1'", "Invalid comparator for experiment_id: LIKE"),
        ("experiment_id = 'abc'", "Invalid experiment ID 'abc'"),
        ("creation_time > 1.5", "Invalid value for numeric attribute 'creation_time': '1.5'"),
        ("creation_time > 'a'", "Expected numeric value type for numeric attribute: creation_time"),
        ("creation_time LIKE 1", "Invalid comparator for numeric attribute: LIKE"),
        ("name IS NULL", "IS NULL / IS NOT NULL is only supported for tags, not for attribute 'name'"),
        ("tags.a > 'x'", "Invalid comparator '>' not one of"),
    ],
)
def test_invalid_experiment_filters(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_filter(text, EXPERIMENTS)
    assert message in raised.value.message


def test_experiment_order_by() -> None:
    assert parse_order_by(["name DESC", "attribute.experiment_id"], EXPERIMENTS) == [
        OrderKey(A, "name", False),
        OrderKey(A, "experiment_id", True),
    ]
    with pytest.raises(InvalidParameter, match="Invalid order_by entity: tag"):
        parse_order_by(["tags.team"], EXPERIMENTS)


# --- properties ---------------------------------------------------------------------------------------

_keys = st.text(alphabet="abcXYZ_ .-/:0123456789", min_size=1, max_size=8)
# No backslash: inside single quotes it may escape the closing quote, so not every value round-trips.
_strings = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\\"), max_size=8
)
_metric = st.builds(
    lambda k, op, v: c(M, k, op, v),
    _keys,
    st.sampled_from([Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE]),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(float),
)
_kv = st.builds(
    lambda e, k, op, v: c(e, k, op, None if op in (Op.IS_NULL, Op.IS_NOT_NULL) else v),
    st.sampled_from([P, T]),
    _keys,
    st.sampled_from([Op.EQ, Op.NE, Op.LIKE, Op.ILIKE, Op.IS_NULL, Op.IS_NOT_NULL]),
    _strings,
)
_ids = st.builds(
    lambda op, values: c(A, "run_id", op, tuple(values)),
    st.sampled_from([Op.IN, Op.NOT_IN]),
    st.lists(_strings, min_size=1, max_size=3),
)
_exprs = st.recursive(
    st.one_of(_metric, _kv, _ids),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=6,
)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _render(expr: Expr) -> str:
    if isinstance(expr, And):
        return " AND ".join(f"({_render(e)})" for e in expr.operands)
    if isinstance(expr, Or):
        return " or ".join(f"({_render(e)})" for e in expr.operands)
    prefix = {M: "metrics", P: "params", T: "tags", A: "attributes"}[expr.entity]
    left = f"{prefix}.`{expr.key}`"
    if expr.op in (Op.IS_NULL, Op.IS_NOT_NULL):
        return f"{left} {expr.op.value}"
    if isinstance(expr.value, tuple):
        return f"{left} {expr.op.value} ({', '.join(_quote(str(v)) for v in expr.value)})"
    if isinstance(expr.value, float):
        return f"{left} {expr.op.value} {expr.value!r}"
    return f"{left} {expr.op.value} {_quote(str(expr.value))}"


def _flatten(expr: Expr) -> Expr:
    """Parenthesised nesting of the same connective is one level after parsing."""
    if isinstance(expr, Comparison):
        return expr
    kind = type(expr)
    flat: list[Expr] = []
    for operand in expr.operands:
        operand = _flatten(operand)
        flat.extend(operand.operands if isinstance(operand, kind) else [operand])  # type: ignore[union-attr]
    return kind(tuple(flat))


@settings(max_examples=300, deadline=None)
@given(_exprs)
def test_rendered_filters_parse_back_to_the_same_tree(expr: Expr) -> None:
    parsed = parse_filter(_render(expr), RUNS)
    assert parsed is not None
    assert _flatten(parsed) == _flatten(expr)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("metrics.params'\"`()=<>!, ANDORLIKEISNUL0123456789_%-")), max_size=40))
def test_any_input_parses_or_fails_with_invalid_parameter(text: str) -> None:
    try:
        parse_filter(text, RUNS)
        parse_filter(text, EXPERIMENTS)
        parse_order_by([text], RUNS)
    except InvalidParameter:
        pass
