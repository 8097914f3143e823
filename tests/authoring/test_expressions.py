"""The expression language: operators build a JSON tree that round-trips exactly; truthiness is refused."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from feature_platform.artefact import DType, ExprNode, ExprOp, canonical_bytes
from feature_platform.authoring import Expr, coalesce, col, concat, from_epoch_ms, lit, when
from feature_platform.compiler.typecheck import infer
from feature_platform.errors import ConfigDefinitionError

# ---- strategies -------------------------------------------------------------------------------------

COLUMNS = ("action", "dwell_ms", "price", "ts", "flag", "tags")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
DTYPES = st.sampled_from(list(DType))

leaves = st.one_of(
    st.sampled_from(COLUMNS).map(col),
    SCALARS.map(lit),
    st.tuples(SCALARS, DTYPES).map(lambda v: lit(v[0], v[1])),
)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    binary = st.sampled_from(
        [
            lambda a, b: a == b,
            lambda a, b: a != b,
            lambda a, b: a < b,
            lambda a, b: a <= b,
            lambda a, b: a > b,
            lambda a, b: a >= b,
            lambda a, b: a & b,
            lambda a, b: a | b,
            lambda a, b: a + b,
            lambda a, b: a - b,
            lambda a, b: a * b,
            lambda a, b: a / b,
            lambda a, b: a % b,
        ]
    )
    unary = st.sampled_from(
        [
            lambda a: ~a,
            lambda a: -a,
            lambda a: a.is_null(),
            lambda a: a.is_not_null(),
            lambda a: a.str.lower(),
            lambda a: a.str.upper(),
            lambda a: a.str.strip(),
            lambda a: a.str.len(),
            lambda a: a.dt.hour(),
            lambda a: a.dt.weekday(),
            lambda a: a.dt.date(),
            lambda a: a.dt.epoch_ms(),
            from_epoch_ms,
        ]
    )
    return st.one_of(
        st.tuples(binary, children, children).map(lambda t: t[0](t[1], t[2])),
        st.tuples(unary, children).map(lambda t: t[0](t[1])),
        st.tuples(children, DTYPES).map(lambda t: t[0].cast(t[1])),
        st.tuples(children, st.lists(SCALARS, max_size=4)).map(lambda t: t[0].is_in(t[1])),
        st.tuples(
            children, st.text(max_size=6), st.sampled_from(["contains", "starts_with", "ends_with"])
        ).map(lambda t: getattr(t[0].str, t[2])(t[1])),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: coalesce(*xs)),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: concat(*xs)),
        st.tuples(children, children, children, children, children).map(
            lambda t: when(t[0]).then(t[1]).when(t[2]).then(t[3]).otherwise(t[4])
        ),
    )


expressions = st.recursive(leaves, _extend, max_leaves=12)


# ---- round trips -----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_node_round_trips_through_its_json_dump(expr: Expr) -> None:
    node = expr.node
    dumped = node.model_dump(mode="json")

    again = ExprNode.model_validate(dumped)

    assert again == node
    assert again.model_dump(mode="json") == dumped  # bools stay bools, ints stay ints


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_node_round_trips_through_canonical_json_text(expr: Expr) -> None:
    data = canonical_bytes(expr.node.model_dump(mode="json"))

    again = ExprNode.model_validate(json.loads(data))

    assert again == expr.node
    assert canonical_bytes(again.model_dump(mode="json")) == data


@settings(max_examples=100, deadline=None)
@given(expressions)
def test_config_models_serialise_expressions_to_the_same_tree(expr: Expr) -> None:
    """What a config model dumps for an Expr field (defaults left out) validates back to the same node."""
    dumped = TypeAdapter(Expr).dump_python(expr, mode="json")

    assert ExprNode.model_validate(json.loads(json.dumps(dumped))) == expr.node


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_typecheck_never_raises_and_repr_renders(expr: Expr) -> None:
    schema = {
        "action": DType.STRING,
        "dwell_ms": DType.INT64,
        "price": DType.FLOAT64,
        "ts": DType.TIMESTAMP,
        "flag": DType.BOOL,
        "tags": DType.LIST_STRING,
    }
    dtype, errors = infer(expr.node, schema)

    assert dtype is None or isinstance(dtype, DType)
    assert all(isinstance(e, str) and e for e in errors)
    assert repr(expr) == expr.node.render()


def test_operators_build_the_documented_tree() -> None:
    expr = (col("action") == "save") & ~col("dwell_ms").is_null()

    assert expr.node == ExprNode(
        op=ExprOp.AND,
        args=(
            ExprNode(
                op=ExprOp.EQ,
                args=(ExprNode(op=ExprOp.COL, name="action"), ExprNode(op=ExprOp.LIT, value="save")),
            ),
            ExprNode(
                op=ExprOp.NOT,
                args=(ExprNode(op=ExprOp.IS_NULL, args=(ExprNode(op=ExprOp.COL, name="dwell_ms"),)),),
            ),
        ),
    )
    assert repr(expr) == "((col('action') == 'save') & ~is_null(col('dwell_ms')))"


def test_reflected_operators_keep_operand_order() -> None:
    assert (1 - col("x")).node.args[0] == lit(1).node
    assert (2 / col("x")).node.op is ExprOp.DIV
    assert (True & col("b")).node.args == (lit(True).node, col("b").node)


def test_when_stores_branches_flat() -> None:
    expr = when(col("a") > 1).then("big").when(col("a") > 0).then("small").otherwise("none")

    ops = [arg.op for arg in expr.node.args]
    assert expr.node.op is ExprOp.WHEN
    assert ops == [ExprOp.GT, ExprOp.LIT, ExprOp.GT, ExprOp.LIT, ExprOp.LIT]


# ---- Python truthiness and other mistakes ----------------------------------------------------------


@pytest.mark.parametrize(
    "misuse",
    [
        lambda: bool(col("a") == 1),
        lambda: (col("a") == 1) and (col("b") == 2),
        lambda: not col("a"),
        lambda: 1 if col("a") > 0 else 0,
        lambda: 0 < col("a") < 10,  # a chained comparison is an `and` in disguise
    ],
    ids=["bool", "and", "not", "if", "chained_comparison"],
)
def test_python_truthiness_is_refused_with_advice(misuse: object) -> None:
    with pytest.raises(ConfigDefinitionError) as caught:
        misuse()  # type: ignore[operator]

    message = str(caught.value)
    assert "& | ~" in message
    assert "when(...).then(...).otherwise(...)" in message


def test_expressions_are_not_hashable() -> None:
    """`==` builds an expression, so an Expr cannot be a set member or dict key by accident."""
    with pytest.raises(TypeError):
        hash(col("a"))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_literals_are_refused(value: float) -> None:
    """JSON cannot hold them, so they must fail where they are written, not crash the compiler later."""
    with pytest.raises(ConfigDefinitionError, match="not allowed"):
        lit(value)
    with pytest.raises(ConfigDefinitionError, match="not allowed"):
        col("x") < value  # noqa: B015
    with pytest.raises(ConfigDefinitionError, match="finite"):
        col("x").is_in([1.0, value])


@pytest.mark.parametrize(
    ("build", "complaint"),
    [
        (lambda: col(""), "non-empty column name"),
        (lambda: col("a") == (lambda r: r), "Python callable"),
        (lambda: col("a") + object(), "cannot use object value"),
        (lambda: col("a").is_in([col("b")]), "literal values only"),
        (lambda: col("a").is_in("ios"), r"did you mean \['ios'\]\?"),
        (lambda: col("a").is_in({"ios", "android"}), "got a set; .*no fixed order"),
        (lambda: col("a").is_in(v for v in ("ios",)), "got a generator; .*no fixed order"),
        (lambda: col("a").str.contains(5), "takes a string literal"),
        (lambda: coalesce(col("a")), "at least two"),
        (lambda: concat("a"), "at least two"),
        (lambda: when(col("a")).otherwise(1), "otherwise() must follow"),
        (lambda: when(col("a")).when(col("b")), "must be followed by then()"),
        (lambda: when(col("a")).then(1).then(2), "then() must follow when()"),
        (lambda: lit([1, 2]), "cannot use list value"),
    ],
    ids=[
        "empty_col",
        "callable",
        "object",
        "is_in_expr",
        "is_in_string",
        "is_in_set",
        "is_in_generator",
        "contains_int",
        "coalesce_one",
        "concat_one",
        "otherwise_early",
        "when_when",
        "then_then",
        "lit_list",
    ],
)
def test_malformed_expressions_fail_where_they_are_written(build: object, complaint: str) -> None:
    with pytest.raises(ConfigDefinitionError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        build()  # type: ignore[operator]


def test_cast_accepts_a_dtype_name_and_refuses_an_unknown_one() -> None:
    assert col("a").cast("int32").node.dtype is DType.INT32
    with pytest.raises(ValueError, match="varchar"):
        col("a").cast("varchar")


# ---- operator precedence -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("build", "operators", "fix"),
    [
        (lambda: col("a") == "x" & col("b") == "y", ("&", "=="), '(col("a") == "x") & (col("b") == "y")'),
        (lambda: col("a") > 3 | col("b") <= 4, ("|", ">"), '(col("a") > 3) | (col("b") <= 4)'),
        (lambda: col("a") != "x" & col("b").is_null(), ("&", "!="), '(col("a") != "x") & col("b").is_null()'),
        (lambda: col("a") == 1 & col("b") == 2 & col("c") == 3, ("&", "=="),
         '(col("a") == 1) & (col("b") == 2) & (col("c") == 3)'),
    ],
    ids=["and_eq", "or_gt", "unchained", "three"],
)
def test_a_comparison_slip_on_precedence_says_how_to_write_it(
    build: object, operators: tuple[str, str], fix: str
) -> None:
    """`&` binds tighter than `==`: Python reads `col("a") == "x" & col("b") == "y"` as
    `col("a") == ("x" & col("b")) == "y"`, which used to end in a misleading and/or truth-value error."""
    with pytest.raises(ConfigDefinitionError) as caught:
        build()  # type: ignore[operator]
    message = str(caught.value)
    assert message.startswith(f"`{operators[0]}` binds tighter than `{operators[1]}`: ")
    assert message.endswith(f"; write {fix}")
    assert "truth value" not in message


def test_a_precedence_slip_without_source_still_gets_the_hint() -> None:
    with pytest.raises(ConfigDefinitionError, match=r"`&` binds tighter than `==`: put each comparison in paren"):
        eval('col("a") == "x" & col("b") == "y"', {"col": col})  # no source file to quote


def test_explicit_boolean_combinations_can_still_be_compared() -> None:
    """Only a plain Python value next to & or | marks the slip; expressions written out are left alone."""
    assert ((lit(True) & col("a")) == col("b")).node.op is ExprOp.EQ
    assert ((col("a") == "x") & (col("b") == "y")).node.op is ExprOp.AND
