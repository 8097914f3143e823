"""Hypothesis strategies: rows of mixed-type values with nulls, and random well-typed expression trees.

Trees are generated *by result type*, the way the compiler's type checker would accept them, so every
tree is one a config could compile to. Two deliberate restrictions keep the reference's modelling
limits out of the comparison (see ``tests/reference/expressions.py``): int32-valued operations are
wrapped in a cast to int64, and ``coalesce``/``when`` branches share one type.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from feature_platform.artefact import DType, ExprNode, ExprOp
from tests.engine._nodes import cast, col, lit, node

E = ExprOp

COLUMNS: dict[str, DType] = {
    "i1": DType.INT64,
    "i2": DType.INT64,
    "f1": DType.FLOAT64,
    "s1": DType.STRING,
    "s2": DType.STRING,
    "b1": DType.BOOL,
    "t1": DType.TIMESTAMP,
}
KIND_COLUMNS = {"int": ["i1", "i2"], "float": ["f1"], "str": ["s1", "s2"], "bool": ["b1"], "ts": ["t1"]}

ALPHABET = "aAbBzZ xé-_.:+,!İ\t\u00a0\u20030123456789TZ"

ISO_TEXT = st.builds(
    lambda moment, shape, fraction, zone: _iso(moment, shape, fraction, zone),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)),
    st.sampled_from(["T", " ", "date"]),
    st.sampled_from(["", ".5", ".123456", ".123456789", "nosec"]),
    st.sampled_from(["", "Z", "+02:00", "-0530", "+00:00"]),
)


def _iso(moment: datetime, shape: str, fraction: str, zone: str) -> str:
    day = moment.strftime("%Y-%m-%d")
    if shape == "date":
        return day
    if fraction == "nosec":
        return f"{day}{shape}{moment.strftime('%H:%M')}{zone}"
    return f"{day}{shape}{moment.strftime('%H:%M:%S')}{fraction}{zone}"


NUMERIC_TEXT = st.sampled_from(
    [
        "12",
        "+12",
        "-0",
        "0012",
        "1.5",
        ".5",
        "5.",
        "1e3",
        "-1.5E-3",
        "inf",
        "-Infinity",
        "nan",
        "1e",
        ".",
        "1_0",
        " 1",
        "9223372036854775808",
        "true",
        "FALSE",
        "True ",
    ]
)

TEXT = st.one_of(st.text(ALPHABET, max_size=8), ISO_TEXT, NUMERIC_TEXT)
INTS = st.one_of(st.integers(-50, 50), st.sampled_from([2**62, -(2**63), 2**63 - 1, 1_704_067_200_000]))
FLOATS = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 0.5, 1e-5, 3e-7, 1e16, 2.5]),
)
TIMESTAMPS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


ROW = st.fixed_dictionaries(
    {
        "i1": nullable(INTS),
        "i2": nullable(INTS),
        "f1": nullable(FLOATS),
        "s1": nullable(TEXT),
        "s2": nullable(TEXT),
        "b1": nullable(st.booleans()),
        "t1": nullable(TIMESTAMPS),
    }
)

_LITERALS: dict[str, st.SearchStrategy[ExprNode]] = {
    "int": st.integers(-5, 5).map(lit),
    "float": st.sampled_from([0.0, -0.0, 0.5, 2.0, -3.25]).map(lit),
    "str": st.sampled_from(["", "a", "A", " ", "2024-01-02T03:04:05Z", "12", "true"]).map(lit),
    "bool": st.booleans().map(lit),
    "ts": st.sampled_from(["2024-01-02T03:04:05Z", "2000-01-01"]).map(lambda v: lit(v, DType.TIMESTAMP)),
}


@functools.cache
def leaf(kind: str) -> st.SearchStrategy[ExprNode]:
    columns = st.sampled_from(KIND_COLUMNS[kind]).map(col)
    null = st.just(lit(None))
    return st.one_of(columns, columns, columns, _LITERALS[kind], _LITERALS[kind], null)


@functools.cache
def exprs(kind: str, depth: int = 3) -> st.SearchStrategy[ExprNode]:
    """Random trees of result type ``kind`` (int, float, str, bool, ts) at most ``depth`` deep."""
    if depth <= 0:
        return leaf(kind)
    return st.one_of(leaf(kind), st.deferred(lambda: _composite(kind, depth - 1)))


def _composite(kind: str, d: int) -> st.SearchStrategy[ExprNode]:
    same = exprs(kind, d)
    branches = [
        st.builds(lambda a, b: node(E.COALESCE, a, b), same, same),
        st.builds(lambda c, a, b: node(E.WHEN, c, a, b), exprs("bool", d), same, same),
    ]
    if kind == "int":
        ints, floats, strs, tss = exprs("int", d), exprs("float", d), exprs("str", d), exprs("ts", d)
        return st.one_of(
            *branches,
            st.builds(lambda op, a, b: node(op, a, b), st.sampled_from([E.ADD, E.SUB, E.MUL, E.MOD]), ints, ints),
            st.builds(lambda a: node(E.NEG, a), ints),
            st.builds(lambda a: cast(node(E.STR_LEN, a), DType.INT64), strs),
            st.builds(lambda op, a: cast(node(op, a), DType.INT64), st.sampled_from([E.TS_HOUR, E.TS_WEEKDAY]), tss),
            st.builds(lambda a: node(E.TS_TO_EPOCH_MS, a), tss),
            st.builds(lambda a: cast(a, DType.INT64), st.one_of(floats, strs, exprs("bool", d))),
            st.builds(lambda a: cast(a, DType.INT32), ints).map(lambda n: cast(n, DType.INT64)),
        )
    if kind == "float":
        nums = st.one_of(exprs("int", d), exprs("float", d))
        floats = exprs("float", d)
        return st.one_of(
            *branches,
            st.builds(lambda op, a, b: node(op, a, b), st.sampled_from([E.ADD, E.SUB, E.MUL, E.MOD]), floats, nums),
            st.builds(lambda a, b: node(E.DIV, a, b), nums, nums),
            st.builds(lambda a: node(E.NEG, a), floats),
            st.builds(lambda a: cast(a, DType.FLOAT64), st.one_of(exprs("int", d), exprs("str", d))),
        )
    if kind == "str":
        strs = exprs("str", d)
        return st.one_of(
            *branches,
            st.builds(lambda op, a: node(op, a), st.sampled_from([E.STR_LOWER, E.STR_UPPER, E.STR_STRIP]), strs),
            st.builds(lambda parts: node(E.STR_CONCAT, *parts), st.lists(strs, min_size=2, max_size=3)),
            st.builds(
                lambda a: cast(a, DType.STRING),
                st.one_of(exprs("int", d), exprs("float", d), exprs("bool", d), exprs("ts", d)),
            ),
        )
    if kind == "bool":
        return st.one_of(*branches, _predicates(d))
    tss = exprs("ts", d)
    return st.one_of(
        *branches,
        st.builds(lambda a: node(E.TS_FROM_EPOCH_MS, a), exprs("int", d)),
        st.builds(lambda a: cast(a, DType.TIMESTAMP), exprs("str", d)),
        st.builds(lambda a: cast(cast(a, DType.DATE), DType.TIMESTAMP), st.one_of(tss, exprs("str", d))),
    )


def _predicates(d: int) -> st.SearchStrategy[ExprNode]:
    compare = st.sampled_from([E.EQ, E.NE, E.LT, E.LE, E.GT, E.GE])
    nums = st.one_of(exprs("int", d), exprs("float", d))
    bools, strs = exprs("bool", d), exprs("str", d)
    pairs = st.one_of(
        st.tuples(nums, nums),
        st.tuples(strs, strs),
        st.tuples(exprs("ts", d), exprs("ts", d)),
        st.tuples(bools, bools),
        st.tuples(exprs("ts", d).map(lambda t: node(E.TS_DATE, t)), exprs("ts", d).map(lambda t: node(E.TS_DATE, t))),
    )
    any_kind = st.one_of(nums, strs, bools, exprs("ts", d))
    return st.one_of(
        st.builds(lambda op, pair: node(op, *pair), compare, pairs),
        st.builds(lambda op, a, b: node(op, a, b), st.sampled_from([E.AND, E.OR]), bools, bools),
        st.builds(lambda a: node(E.NOT, a), bools),
        st.builds(lambda op, a: node(op, a), st.sampled_from([E.IS_NULL, E.IS_NOT_NULL]), any_kind),
        st.builds(
            lambda a, values: node(E.IS_IN, a, values=tuple(values)),
            exprs("int", d),
            st.lists(st.one_of(st.none(), st.integers(-5, 5), st.just(2.0)), max_size=3),
        ),
        st.builds(
            lambda a, values: node(E.IS_IN, a, values=tuple(values)),
            strs,
            st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "A", "12"])), max_size=3),
        ),
        st.builds(
            lambda op, a, v: node(op, a, value=v),
            st.sampled_from([E.STR_CONTAINS, E.STR_STARTS_WITH, E.STR_ENDS_WITH]),
            strs,
            st.sampled_from(["", "a", ".", "2024", "Z"]),
        ),
        st.builds(lambda a: cast(a, DType.BOOL), st.one_of(exprs("int", d), exprs("float", d), strs)),
    )
