"""One rulebook for expression types: the compiler, the engine and polars agree on every result type.

The compiler records a field's type in the artefact from :mod:`feature_platform.artefact.type_rules`;
the engine must then produce a column of exactly that type. Random *well-typed* trees (the compiler
finds nothing wrong) over a schema of every scalar type, with numeric widths mixed freely and null
literals anywhere, check the three agree: the type the compiler records, the type the engine infers
and the dtype polars actually gives when the engine evaluates the tree on a small frame.
"""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, date, datetime

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from feature_platform.artefact import DType, ExprNode, ExprOp
from feature_platform.artefact.expressions import STRING_PREDICATE_OPS
from feature_platform.artefact.type_rules import RULES
from feature_platform.compiler.typecheck import infer
from feature_platform.engine import infer_dtype, to_polars, to_polars_dtype
from tests.engine._nodes import cast, col, lit, node

E = ExprOp

SCHEMA: dict[str, DType] = {
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

FRAME = pl.DataFrame(
    {
        "i32": [3, None, -7],
        "i64": [1_704_067_200_000, 0, None],
        "f32": [0.5, None, -2.0],
        "f64": [None, 2.5, -0.0],
        "s": ["12", "2024-01-02T03:04:05Z", None],
        "b": [True, None, False],
        "ts": [datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None, datetime(1999, 12, 31, tzinfo=UTC)],
        "d": [date(2024, 1, 2), date(2000, 2, 29), None],
        "vec": [[1.0, 2.0], None, []],
    },
    schema={name: to_polars_dtype(dtype) for name, dtype in SCHEMA.items()},
)

NULL = st.just(lit(None))
LEAVES: dict[str, st.SearchStrategy[ExprNode]] = {
    "int": st.one_of(
        st.sampled_from([col("i32"), col("i64"), lit(3), lit(-2), lit(7, DType.INT32), lit(None, DType.INT32)]), NULL
    ),
    "num": st.one_of(
        st.sampled_from([col("f32"), col("f64"), lit(0.5), lit(2, DType.FLOAT32), lit(None, DType.FLOAT64)]), NULL
    ),
    "str": st.one_of(st.sampled_from([col("s"), lit("a"), lit("2024-01-02"), lit(None, DType.STRING)]), NULL),
    "bool": st.one_of(st.sampled_from([col("b"), lit(True), lit(None, DType.BOOL)]), NULL),
    "ts": st.one_of(st.sampled_from([col("ts"), lit("2024-01-02T03:04:05Z", DType.TIMESTAMP)]), NULL),
    "date": st.one_of(st.sampled_from([col("d"), lit(None, DType.DATE)]), NULL),
    "list": st.one_of(st.sampled_from([col("vec"), lit(None, DType.LIST_FLOAT32)]), NULL),
}
SCALAR_KINDS = ["int", "num", "str", "bool", "ts", "date"]
CAST_TARGETS = {
    "int": [DType.INT32, DType.INT64],
    "num": [DType.FLOAT32, DType.FLOAT64],
    "str": [DType.STRING],
    "bool": [DType.BOOL],
    "ts": [DType.TIMESTAMP],
    "date": [DType.DATE],
}
CASTABLE_FROM = {
    "ts": ["str", "ts", "date"],
    "bool": ["int", "num", "str", "bool"],  # the compiler accepts timestamp/date → bool; polars cannot cast it
}


@functools.cache
def trees(kind: str, depth: int = 3) -> st.SearchStrategy[ExprNode]:
    """Well-typed trees whose result is of ``kind`` ("num": int or float, widths mixed) or null."""
    if kind == "list":  # only a few operations take a list: no deeper trees
        return st.one_of(LEAVES["list"], _branching("list", 0))
    if depth <= 0:
        return LEAVES[kind]
    return st.one_of(LEAVES[kind], st.deferred(lambda: _composite(kind, depth - 1)))


def _branching(kind: str, d: int) -> st.SearchStrategy[ExprNode]:
    same = trees(kind, d) if kind != "list" else LEAVES["list"]
    return st.one_of(
        st.lists(same, min_size=1, max_size=3).map(lambda args: node(E.COALESCE, *args)),
        st.builds(lambda c, a, b: node(E.WHEN, c, a, b), trees("bool", d), same, same),
        st.builds(lambda c1, a, c2, b, c: node(E.WHEN, c1, a, c2, b, c), *[trees("bool", d), same] * 2, same),
    )


def _composite(kind: str, d: int) -> st.SearchStrategy[ExprNode]:
    targets = st.sampled_from(CAST_TARGETS[kind])
    sources = st.sampled_from(CASTABLE_FROM.get(kind, SCALAR_KINDS)).flatmap(lambda k: trees(k, d))
    casts = st.builds(cast, sources, targets)
    if kind == "int":
        ints = trees("int", d)
        return st.one_of(
            _branching("int", d),
            casts,
            st.builds(node, st.sampled_from([E.ADD, E.SUB, E.MUL, E.MOD]), ints, ints),
            st.builds(node, st.just(E.NEG), ints),
            st.builds(node, st.just(E.STR_LEN), trees("str", d)),
            st.builds(node, st.sampled_from([E.TS_HOUR, E.TS_WEEKDAY, E.TS_TO_EPOCH_MS]), trees("ts", d)),
        )
    if kind == "num":
        nums = st.one_of(trees("int", d), trees("num", d))
        return st.one_of(
            _branching("num", d),
            casts,
            st.builds(node, st.sampled_from([E.ADD, E.SUB, E.MUL, E.DIV, E.MOD]), nums, nums),
            st.builds(node, st.just(E.NEG), nums),
        )
    if kind == "str":
        strs = trees("str", d)
        return st.one_of(
            _branching("str", d),
            casts,
            st.builds(node, st.sampled_from([E.STR_LOWER, E.STR_UPPER, E.STR_STRIP]), strs),
            st.lists(strs, min_size=1, max_size=3).map(lambda parts: node(E.STR_CONCAT, *parts)),
        )
    if kind == "bool":
        return st.one_of(_branching("bool", d), casts, _predicates(d))
    if kind == "ts":
        return st.one_of(_branching("ts", d), casts, st.builds(node, st.just(E.TS_FROM_EPOCH_MS), trees("int", d)))
    return st.one_of(_branching("date", d), casts, st.builds(node, st.just(E.TS_DATE), trees("ts", d)))


def _predicates(d: int) -> st.SearchStrategy[ExprNode]:
    nums, strs, bools = st.one_of(trees("int", d), trees("num", d)), trees("str", d), trees("bool", d)
    ordered = st.one_of(*(st.tuples(t, t) for t in (nums, strs, trees("ts", d), trees("date", d))))
    anything = st.sampled_from([*SCALAR_KINDS, "list"]).flatmap(lambda k: trees(k, d))
    return st.one_of(
        st.builds(lambda op, pair: node(op, *pair), st.sampled_from([E.EQ, E.NE, E.LT, E.LE, E.GT, E.GE]), ordered),
        st.builds(node, st.sampled_from([E.EQ, E.NE]), bools, bools),
        st.builds(node, st.sampled_from([E.AND, E.OR]), bools, bools),
        st.builds(node, st.just(E.NOT), bools),
        st.builds(node, st.sampled_from([E.IS_NULL, E.IS_NOT_NULL]), anything),
        st.builds(lambda a, vs: node(E.IS_IN, a, values=tuple(vs)), nums, st.lists(st.sampled_from([1, 2.5, None]))),
        st.builds(lambda a, vs: node(E.IS_IN, a, values=tuple(vs)), strs, st.lists(st.sampled_from(["a", "", None]))),
        st.builds(lambda op, a, v: node(op, a, value=v),
                  st.sampled_from([E.STR_CONTAINS, E.STR_STARTS_WITH, E.STR_ENDS_WITH]), strs, st.just("a")),
    )


@settings(max_examples=100, deadline=None)
@given(tree=st.sampled_from([*SCALAR_KINDS, "list"]).flatmap(trees))
def test_compiler_engine_and_polars_agree_on_the_result_type(tree: ExprNode) -> None:
    recorded, errors = infer(tree, SCHEMA)
    assert errors == [], f"not well-typed: {tree.render()}: {errors}"

    assert infer_dtype(tree, SCHEMA) == recorded, tree.render()
    if recorded is None:
        return  # an always-null field: the compiler refuses it, so nothing runs it
    produced = FRAME.select(to_polars(tree, SCHEMA).alias("out"))["out"].dtype
    assert produced == to_polars_dtype(recorded), f"{tree.render()}: recorded {recorded}, polars gives {produced}"


ARITIES: dict[ExprOp, tuple[int, ...]] = {
    **{op: (1,) for op in RULES},
    **{op: (2,) for op in (E.EQ, E.NE, E.LT, E.LE, E.GT, E.GE, E.AND, E.OR, E.ADD, E.SUB, E.MUL, E.DIV, E.MOD)},
    E.COALESCE: (1, 2, 3),
    E.WHEN: (3,),
    E.STR_CONCAT: (1, 2),
}
OPERANDS = [*(col(name) for name in SCHEMA), lit(None)]


def _shapes(op: ExprOp) -> list[ExprNode]:
    """``op`` over every combination of operand types (and of its own fields), well-typed or not."""
    found = []
    for arity in ARITIES[op]:
        for args in itertools.product(OPERANDS, repeat=arity):
            if op is E.CAST:
                found += [node(op, *args, dtype=target) for target in DType]
            elif op is E.IS_IN:
                found += [node(op, *args, values=values) for values in [(), (1, 2.5, None), ("a",), (True,)]]
            else:
                found.append(node(op, *args, value="a" if op in STRING_PREDICATE_OPS else None))
    return found


def _polars_cannot(tree: ExprNode) -> bool:
    """Casts the compiler accepts but polars refuses at run time (an engine gap, not a type rule)."""
    source = infer_dtype(tree.args[0], SCHEMA) if tree.op is E.CAST else None
    return source is not None and source.is_temporal and tree.dtype is DType.BOOL


def test_every_rule_agrees_with_polars_for_every_operand_type() -> None:
    """Every row of the table, over one operand of each type: what polars gives is what is recorded."""
    checked: dict[str, tuple[ExprNode, DType]] = {}
    for op in RULES:
        for tree in _shapes(op):
            recorded, errors = infer(tree, SCHEMA)
            assert infer_dtype(tree, SCHEMA) == recorded, tree.render()
            if not errors and recorded is not None and not _polars_cannot(tree):
                checked[f"e{len(checked)}"] = (tree, recorded)
    produced = FRAME.select(to_polars(tree, SCHEMA).alias(name) for name, (tree, _) in checked.items()).schema
    wrong = [
        f"{tree.render()}: recorded {recorded}, polars gives {produced[name]}"
        for name, (tree, recorded) in checked.items()
        if produced[name] != to_polars_dtype(recorded)
    ]
    assert wrong == [], "\n".join(wrong)
    assert {tree.op for tree, _ in checked.values()} == set(RULES)


def test_every_operation_has_a_rule() -> None:
    """A new operation without a row in the table fails here, not in a runtime."""
    assert set(RULES) == set(ExprOp) - {ExprOp.COL, ExprOp.LIT}
