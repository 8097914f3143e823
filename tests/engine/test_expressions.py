"""Every expression operation against hand-written expected values, in the engine and the reference."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from feature_platform.artefact import DType, ExprNode, ExprOp
from feature_platform.engine import infer_dtype, to_polars, to_polars_dtype
from feature_platform.engine.expressions import ExpressionError
from tests.engine._nodes import cast, col, lit, node
from tests.reference import canonical, evaluate

SCHEMA = {
    "i": DType.INT64,
    "j": DType.INT64,
    "f": DType.FLOAT64,
    "s": DType.STRING,
    "b": DType.BOOL,
    "c": DType.BOOL,
    "t": DType.TIMESTAMP,
    "ms": DType.INT64,
    "txt": DType.STRING,
}


def ts(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


ROWS: list[dict[str, Any]] = [
    {
        "i": 7, "j": 3, "f": 2.5, "s": " Hello ", "b": True, "c": None, "t": ts(2024, 1, 1, 10, 30),
        "ms": 1_704_105_000_123, "txt": "2024-01-02T03:04:05Z",
    },
    {
        "i": -7, "j": 0, "f": None, "s": "abc", "b": False, "c": True, "t": ts(2024, 3, 9, 23, 59, 59, 999_999),
        "ms": -1, "txt": "2024-01-02 03:04:05.5+02:00",
    },
    {
        "i": None, "j": 2, "f": -0.5, "s": None, "b": None, "c": False, "t": None,
        "ms": None, "txt": "nope",
    },
]

E = ExprOp
CASES: list[tuple[str, ExprNode, list[Any]]] = [
    # columns and literals
    ("col", col("i"), [7, -7, None]),
    ("lit int", lit(5), [5, 5, 5]),
    ("lit float", lit(1.5), [1.5, 1.5, 1.5]),
    ("lit str", lit("x"), ["x", "x", "x"]),
    ("lit bool", lit(True), [True, True, True]),
    ("lit null", node(E.IS_NULL, lit(None)), [True, True, True]),
    ("lit timestamp text", lit("2024-05-06T07:08:09Z", DType.TIMESTAMP), [ts(2024, 5, 6, 7, 8, 9)] * 3),
    # comparisons: null on either side gives null
    ("eq", node(E.EQ, col("i"), lit(7)), [True, False, None]),
    ("ne", node(E.NE, col("i"), lit(7)), [False, True, None]),
    ("lt", node(E.LT, col("i"), col("j")), [False, True, None]),
    ("le", node(E.LE, col("i"), lit(-7)), [False, True, None]),
    ("gt int vs float", node(E.GT, col("f"), col("i")), [False, None, None]),
    ("ge", node(E.GE, col("s"), lit("abc")), [False, True, None]),
    ("eq null literal", node(E.EQ, col("j"), lit(None)), [None, None, None]),
    # Kleene logic
    ("and", node(E.AND, col("b"), col("c")), [None, False, False]),
    ("or", node(E.OR, col("b"), col("c")), [True, True, None]),
    ("not", node(E.NOT, col("b")), [False, True, None]),
    # membership and nulls
    ("is_in str", node(E.IS_IN, col("s"), values=("abc", "x")), [False, True, None]),
    ("is_in null value never matches", node(E.IS_IN, col("i"), values=(7, None)), [True, False, None]),
    ("is_in int vs float", node(E.IS_IN, col("j"), values=(3.0, 2.5)), [True, False, False]),
    ("is_null", node(E.IS_NULL, col("f")), [False, True, False]),
    ("is_not_null", node(E.IS_NOT_NULL, col("f")), [True, False, True]),
    # arithmetic
    ("add", node(E.ADD, col("i"), col("j")), [10, -7, None]),
    ("sub", node(E.SUB, col("i"), col("j")), [4, -7, None]),
    ("mul", node(E.MUL, col("i"), col("j")), [21, 0, None]),
    ("mul int with float", node(E.MUL, col("j"), col("f")), [7.5, None, -1.0]),
    ("div is true division", node(E.DIV, col("i"), col("j")), [7 / 3, -math.inf, None]),
    ("mod by zero is null", node(E.MOD, col("i"), col("j")), [1, None, None]),
    ("mod is floored", node(E.MOD, col("i"), lit(3)), [1, 2, None]),
    ("mod float", node(E.MOD, col("f"), lit(2.0)), [0.5, None, 1.5]),
    ("neg", node(E.NEG, col("i")), [-7, 7, None]),
    ("int64 wraps", node(E.MUL, lit(2**62), lit(4)), [0, 0, 0]),
    # casts (non-strict)
    ("cast int to string", cast(col("i"), DType.STRING), ["7", "-7", None]),
    (
        "cast iso text to timestamp",
        cast(col("txt"), DType.TIMESTAMP),
        [ts(2024, 1, 2, 3, 4, 5), ts(2024, 1, 2, 1, 4, 5, 500_000), None],
    ),
    ("cast float to int truncates", cast(col("f"), DType.INT64), [2, None, 0]),
    ("cast unparseable text to int", cast(col("s"), DType.INT64), [None, None, None]),
    ("cast text to int", cast(lit("+0012"), DType.INT64), [12, 12, 12]),
    ("cast bool to int", cast(col("b"), DType.INT64), [1, 0, None]),
    ("cast int to bool", cast(col("i"), DType.BOOL), [True, True, None]),
    ("cast text to bool", cast(lit("TRUE"), DType.BOOL), [True, True, True]),
    ("cast float to string", cast(col("f"), DType.STRING), ["2.5", None, "-0.5"]),
    ("cast timestamp to date", cast(col("t"), DType.DATE), [date(2024, 1, 1), date(2024, 3, 9), None]),
    (
        "cast timestamp to string",
        cast(col("t"), DType.STRING),
        ["2024-01-01T10:30:00.000000Z", "2024-03-09T23:59:59.999999Z", None],
    ),
    ("cast text to date", cast(lit("2024-02-29"), DType.DATE), [date(2024, 2, 29)] * 3),
    ("cast int to int32 out of range", cast(lit(2**40), DType.INT32), [None, None, None]),
    ("cast int to float", cast(col("i"), DType.FLOAT64), [7.0, -7.0, None]),
    # conditionals
    ("coalesce", node(E.COALESCE, col("f"), lit(0.0)), [2.5, 0.0, -0.5]),
    (
        "when: first true condition wins; null counts as false",
        node(E.WHEN, col("b"), lit("b"), col("c"), lit("c"), lit("neither")),
        ["b", "c", "neither"],
    ),
    # strings
    ("str_lower", node(E.STR_LOWER, col("s")), [" hello ", "abc", None]),
    ("str_upper", node(E.STR_UPPER, col("s")), [" HELLO ", "ABC", None]),
    ("str_strip", node(E.STR_STRIP, col("s")), ["Hello", "abc", None]),
    ("str_len", node(E.STR_LEN, col("s")), [7, 3, None]),
    ("str_len counts characters", node(E.STR_LEN, lit("héllo✓")), [6, 6, 6]),
    ("str_contains is literal", node(E.STR_CONTAINS, col("s"), value="l."), [False, False, None]),
    ("str_contains", node(E.STR_CONTAINS, col("s"), value="ll"), [True, False, None]),
    ("str_starts_with", node(E.STR_STARTS_WITH, col("s"), value=" H"), [True, False, None]),
    ("str_ends_with", node(E.STR_ENDS_WITH, col("s"), value="c"), [False, True, None]),
    ("str_concat: null if any part is", node(E.STR_CONCAT, col("s"), lit("|"), col("txt")),
     [" Hello |2024-01-02T03:04:05Z", "abc|2024-01-02 03:04:05.5+02:00", None]),
    # timestamps
    ("ts_hour", node(E.TS_HOUR, col("t")), [10, 23, None]),
    ("ts_weekday is ISO", node(E.TS_WEEKDAY, col("t")), [1, 6, None]),
    ("ts_date", node(E.TS_DATE, col("t")), [date(2024, 1, 1), date(2024, 3, 9), None]),
    ("ts_to_epoch_ms", node(E.TS_TO_EPOCH_MS, col("t")), [1_704_105_000_000, 1_710_028_799_999, None]),
    (
        "ts_from_epoch_ms",
        node(E.TS_FROM_EPOCH_MS, col("ms")),
        [ts(2024, 1, 1, 10, 30, 0, 123_000), ts(1969, 12, 31, 23, 59, 59, 999_000), None],
    ),
    ("ts_from_epoch_ms out of range", node(E.TS_FROM_EPOCH_MS, lit(10**17)), [None, None, None]),
]


def _frame() -> pl.DataFrame:
    return pl.DataFrame(ROWS, schema={k: to_polars_dtype(v) for k, v in SCHEMA.items()})


def _same(actual: list[Any], expected: list[Any]) -> bool:
    return canonical(actual) == canonical(expected)


@pytest.mark.parametrize(("name", "expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_engine_matches_hand_written_values(name: str, expr: ExprNode, expected: list[Any]) -> None:
    actual = _frame().lazy().with_columns(to_polars(expr, SCHEMA).alias("out")).collect()["out"].to_list()
    assert _same(actual, expected), f"{name}: {expr.render()} gave {actual}, expected {expected}"


@pytest.mark.parametrize(("name", "expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_reference_matches_hand_written_values(name: str, expr: ExprNode, expected: list[Any]) -> None:
    actual = [evaluate(expr, row) for row in ROWS]
    assert _same(actual, expected), f"{name}: {expr.render()} gave {actual}, expected {expected}"


def test_every_operation_is_in_the_table() -> None:
    seen: set[ExprOp] = set()
    stack = [c[1] for c in CASES]
    while stack:
        n = stack.pop()
        seen.add(n.op)
        stack.extend(n.args)
    assert seen == set(ExprOp), f"untested: {sorted(set(ExprOp) - seen)}"


@pytest.mark.parametrize(
    ("expr", "dtype"),
    [
        (lit(1), pl.Int64),
        (lit(1.0), pl.Float64),
        (node(E.DIV, col("i"), col("j")), pl.Float64),
        (node(E.STR_LEN, col("s")), pl.Int32),
        (node(E.TS_HOUR, col("t")), pl.Int32),
        (node(E.TS_WEEKDAY, col("t")), pl.Int32),
        (node(E.TS_FROM_EPOCH_MS, col("ms")), pl.Datetime("us", "UTC")),
        (cast(col("txt"), DType.TIMESTAMP), pl.Datetime("us", "UTC")),
        (node(E.TS_TO_EPOCH_MS, col("t")), pl.Int64),
    ],
)
def test_result_types(expr: ExprNode, dtype: pl.DataType) -> None:
    assert _frame().lazy().with_columns(to_polars(expr, SCHEMA).alias("out")).collect_schema()["out"] == dtype
    inferred = infer_dtype(expr, SCHEMA)
    assert inferred is not None and to_polars_dtype(inferred) == dtype


ISO_CASES = [
    ("2024-01-02T03:04:05Z", ts(2024, 1, 2, 3, 4, 5)),
    ("2024-01-02T03:04:05", ts(2024, 1, 2, 3, 4, 5)),
    ("2024-01-02 03:04:05", ts(2024, 1, 2, 3, 4, 5)),
    ("2024-01-02T03:04Z", ts(2024, 1, 2, 3, 4)),
    ("2024-01-02", ts(2024, 1, 2)),
    ("2024-01-02T03:04:05.123456789+02:00", ts(2024, 1, 2, 1, 4, 5, 123_456)),
    ("2024-01-02T03:04:05.9999999Z", ts(2024, 1, 2, 3, 4, 5, 999_999)),
    ("2024-01-02T03:04:05-0530", ts(2024, 1, 2, 8, 34, 5)),
    ("2024-01-01T00:30:00+01:00", ts(2023, 12, 31, 23, 30)),
    ("2024-02-30T00:00:00Z", None),
    ("2024-01-02T24:00:00Z", None),
    ("2024-01-02T03:04:60Z", None),
    ("2024-01-02T03:04:05.Z", None),
    ("2024-01-02T03:04:05.1234567890Z", None),
    (" 2024-01-02T03:04:05Z", None),
    ("2024-01-02T03:04:05Z\n", None),
    ("2024-1-2", None),
    ("20240102T030405Z", None),
    ("0999-01-01", None),
    ("yesterday", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), ISO_CASES, ids=[repr(c[0]) for c in ISO_CASES])
def test_iso_timestamp_grammar(text: str, expected: datetime | None) -> None:
    engine = pl.DataFrame({"x": [text]}).select(to_polars(cast(col("x"), DType.TIMESTAMP), {"x": DType.STRING}))
    assert engine.item() == expected
    assert evaluate(cast(col("x"), DType.TIMESTAMP), {"x": text}) == expected


def test_untranslatable_tree_is_a_clear_error() -> None:
    with pytest.raises(ExpressionError, match="takes 2 argument"):
        to_polars(node(E.ADD, col("i")))
