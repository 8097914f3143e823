"""Static typing of expressions: the type an expression has over a schema, and every mistake in it."""

from __future__ import annotations

import pytest

from feature_platform.artefact import DType
from feature_platform.authoring import Expr, coalesce, col, concat, from_epoch_ms, lit, when
from feature_platform.compiler.typecheck import infer

SCHEMA = {
    "i32": DType.INT32,
    "i64": DType.INT64,
    "f32": DType.FLOAT32,
    "f64": DType.FLOAT64,
    "s": DType.STRING,
    "b": DType.BOOL,
    "ts": DType.TIMESTAMP,
    "d": DType.DATE,
    "vec": DType.LIST_FLOAT32,
}


def _ok(expr: Expr) -> DType | None:
    dtype, errors = infer(expr.node, SCHEMA)
    assert errors == [], errors
    return dtype


def _errors(expr: Expr) -> list[str]:
    _, errors = infer(expr.node, SCHEMA)
    assert errors, f"{expr!r} should not type-check"
    return errors


@pytest.mark.parametrize(
    ("expr", "dtype"),
    [
        (col("i32") + col("i32"), DType.INT32),
        (col("i32") + col("i64"), DType.INT64),
        (col("i64") * 2, DType.INT64),
        (col("i32") + col("f32"), DType.FLOAT64),
        (col("i64") - 0.5, DType.FLOAT64),
        (col("i64") / col("i64"), DType.FLOAT64),
        (col("i64") % 7, DType.INT64),
        (-col("f32"), DType.FLOAT32),
        (col("i32") + lit(None), DType.INT32),
    ],
    ids=["i32+i32", "i32+i64", "i64*lit", "i32+f32", "i64-float", "div", "mod", "neg", "plus_null"],
)
def test_numeric_types_widen(expr: Expr, dtype: DType) -> None:
    assert _ok(expr) == dtype


@pytest.mark.parametrize(
    "expr",
    [
        col("i32") == col("f64"),
        col("i64") < 3.5,
        col("s") == "x",
        col("ts") >= col("ts"),
        col("s") == lit(None),
    ],
    ids=["int_float", "int_float_lit", "strings", "timestamps", "null"],
)
def test_comparable_types_give_a_boolean(expr: Expr) -> None:
    assert _ok(expr) == DType.BOOL


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        (col("s") == 3, "cannot compare string field 's' with int64 literal 3"),
        (col("ts") > "2024-01-01", "cannot compare timestamp field 'ts' with string literal '2024-01-01'"),
        (col("d") == col("ts"), "cannot compare date field 'd' with timestamp field 'ts'"),
        (col("b") < True, "cannot order bool field 'b'"),
        (col("vec") > col("vec"), "cannot order list[float32] field 'vec'"),
        (col("s") + 1, "arithmetic 'add' on string field 's'"),
        (-col("s"), "arithmetic 'neg' on string field 's'"),
        (col("b") * 2, "arithmetic 'mul' on bool field 'b'"),
        (col("b") & col("i64"), "'and' needs booleans, got int64 field 'i64'"),
        (~col("s"), "'not' needs booleans, got string field 's'"),
        (col("nope") == 1, "unknown field 'nope' (available: b, d, f32, f64, i32, i64, s, ts, vec)"),
    ],
    ids=[
        "str_vs_int",
        "ts_vs_str",
        "date_vs_ts",
        "order_bool",
        "order_list",
        "str_plus",
        "neg_str",
        "bool_mul",
        "and_int",
        "not_str",
        "unknown_col",
    ],
)
def test_type_errors_are_explained(expr: Expr, complaint: str) -> None:
    assert any(complaint in e for e in _errors(expr)), _errors(expr)


def test_string_plus_suggests_concat() -> None:
    assert "use concat() to join strings" in _errors(col("s") + "x")[0]


def test_an_unknown_column_is_reported_once_not_cascaded() -> None:
    assert len(_errors((col("nope") + 1 > 2) & col("b"))) == 1


def test_every_error_in_an_expression_is_reported() -> None:
    errors = _errors((col("s") == 1) & (col("i64") == "x") & col("nope").is_null())
    assert len(errors) == 3


# ---- when / otherwise, coalesce ------------------------------------------------------------------


def test_when_branches_unify_to_one_type() -> None:
    assert _ok(when(col("b")).then(col("i32")).otherwise(col("i64"))) == DType.INT64
    assert _ok(when(col("b")).then(1).when(col("i64") > 3).then(2.5).otherwise(0)) == DType.FLOAT64
    assert _ok(when(col("b")).then("a").otherwise(lit(None))) == DType.STRING
    assert _ok(when(col("b")).then(lit(None)).otherwise(lit(None))) is None


def test_when_branches_of_different_types_are_an_error() -> None:
    errors = _errors(when(col("b")).then("yes").otherwise(0))
    assert errors == ["'when' mixes string and int64 literal 0; all branches need one type"]


def test_when_conditions_must_be_boolean() -> None:
    errors = _errors(when(col("s")).then(1).otherwise(0))
    assert errors == ["when() condition must be boolean, got string field 's'"]


def test_coalesce_unifies_like_when() -> None:
    assert _ok(coalesce(col("i32"), col("i32"))) == DType.INT32
    assert _ok(coalesce(col("i32"), 0)) == DType.INT64  # an int literal is int64, and int32 widens to it
    assert _ok(col("f32").fill_null(0)) == DType.FLOAT64
    assert "'coalesce' mixes string and int64 literal 0" in _errors(coalesce(col("s"), 0))[0]


# ---- is_in -----------------------------------------------------------------------------------------


def test_is_in_values_must_match_the_operand_type() -> None:
    assert _ok(col("s").is_in(["a", "b", None])) == DType.BOOL
    assert _ok(col("i64").is_in([1, 2.5])) == DType.BOOL
    assert _errors(col("s").is_in(["a", 1])) == ["is_in value 1 cannot match string field 's'"]
    assert len(_errors(col("i32").is_in(["1", "2"]))) == 2


# ---- casts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "dtype"),
    [
        (col("s").cast("int64"), DType.INT64),
        (col("f64").cast(DType.INT32), DType.INT32),
        (col("i64").cast("string"), DType.STRING),
        (col("s").cast("timestamp"), DType.TIMESTAMP),
        (col("d").cast("timestamp"), DType.TIMESTAMP),
        (col("vec").cast("list[float32]"), DType.LIST_FLOAT32),
    ],
)
def test_allowed_casts(expr: Expr, dtype: DType) -> None:
    assert _ok(expr) == dtype


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        (col("i64").cast("timestamp"), "cannot cast int64 field 'i64' to timestamp; use from_epoch_ms()"),
        (col("f64").cast("timestamp"), "cannot cast float64 field 'f64' to timestamp; use from_epoch_ms()"),
        (col("vec").cast("string"), "cannot cast list[float32] field 'vec' to string"),
        (col("s").cast("list[string]"), "cannot cast string field 's' to list[string]"),
        (col("vec").cast("list[int64]"), "cannot cast list[float32] field 'vec' to list[int64]"),
    ],
)
def test_refused_casts(expr: Expr, complaint: str) -> None:
    assert _errors(expr) == [complaint]


def test_typed_literals() -> None:
    assert _ok(lit(None, "int64")) == DType.INT64
    assert _ok(lit(3, "float32")) == DType.FLOAT32
    assert _ok(lit("2024-01-01T00:00:00Z", "timestamp")) == DType.TIMESTAMP
    assert _errors(lit("x", "int64")) == ["literal 'x' is not a valid int64"]


# ---- string and timestamp functions ---------------------------------------------------------------


def test_string_functions() -> None:
    assert _ok(col("s").str.lower()) == DType.STRING
    assert _ok(col("s").str.len()) == DType.INT32
    assert _ok(col("s").str.starts_with("a")) == DType.BOOL
    assert _ok(concat(col("s"), "-", col("s"))) == DType.STRING


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        (col("i64").str.lower(), "'str_lower' needs a string, got int64 field 'i64'"),
        (col("b").str.len(), "'str_len' needs a string, got bool field 'b'"),
        (col("ts").str.contains("x"), "'str_contains' needs a string, got timestamp field 'ts'"),
        (concat(col("s"), col("i32")), "'str_concat' needs a string, got int32 field 'i32'"),
    ],
)
def test_string_functions_on_other_types(expr: Expr, complaint: str) -> None:
    assert _errors(expr) == [complaint]


def test_timestamp_functions() -> None:
    assert _ok(col("ts").dt.hour()) == DType.INT32
    assert _ok(col("ts").dt.weekday()) == DType.INT32
    assert _ok(col("ts").dt.date()) == DType.DATE
    assert _ok(col("ts").dt.epoch_ms()) == DType.INT64
    assert _ok(from_epoch_ms(col("i64"))) == DType.TIMESTAMP
    assert _ok(from_epoch_ms(col("i32"))) == DType.TIMESTAMP


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        (col("s").dt.hour(), "'ts_hour' needs a timestamp, got string field 's'"),
        (col("d").dt.weekday(), "'ts_weekday' needs a timestamp, got date field 'd'"),
        (col("i64").dt.date(), "'ts_date' needs a timestamp, got int64 field 'i64'"),
        (from_epoch_ms(col("s")), "from_epoch_ms() needs an integer, got string field 's'"),
        (from_epoch_ms(col("f64")), "from_epoch_ms() needs an integer, got float64 field 'f64'"),
    ],
)
def test_timestamp_functions_on_other_types(expr: Expr, complaint: str) -> None:
    assert _errors(expr) == [complaint]
