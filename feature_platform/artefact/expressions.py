"""The expression tree as it is stored in an artefact.

One uniform node shape (``op`` plus optional ``args``, ``name``, ``value``, ``values``, ``dtype``) keeps
the JSON Schema small and lets a non-Python runtime translate the tree with one ``switch``. The authoring
API builds these nodes (``feature_platform.authoring.expressions``), the compiler type-checks them with
the rules in ``feature_platform.artefact.type_rules`` and the engine turns them into polars expressions.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from feature_platform.artefact.dtypes import DType

JsonScalar = str | int | float | bool | None


class ExprOp(StrEnum):
    """Every operation the expression language has. Adding one is a format minor version bump."""

    COL = "col"
    LIT = "lit"
    # comparison
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    # boolean
    AND = "and"
    OR = "or"
    NOT = "not"
    # membership and nulls
    IS_IN = "is_in"
    IS_NULL = "is_null"
    IS_NOT_NULL = "is_not_null"
    # arithmetic
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MOD = "mod"
    NEG = "neg"
    # conversion and conditionals
    CAST = "cast"
    COALESCE = "coalesce"
    WHEN = "when"
    # strings
    STR_LOWER = "str_lower"
    STR_UPPER = "str_upper"
    STR_STRIP = "str_strip"
    STR_LEN = "str_len"
    STR_CONTAINS = "str_contains"
    STR_STARTS_WITH = "str_starts_with"
    STR_ENDS_WITH = "str_ends_with"
    STR_CONCAT = "str_concat"
    # timestamps
    TS_HOUR = "ts_hour"
    TS_WEEKDAY = "ts_weekday"
    TS_DATE = "ts_date"
    TS_FROM_EPOCH_MS = "ts_from_epoch_ms"
    TS_TO_EPOCH_MS = "ts_to_epoch_ms"


COMPARISON_OPS = frozenset({ExprOp.EQ, ExprOp.NE, ExprOp.LT, ExprOp.LE, ExprOp.GT, ExprOp.GE})
BOOLEAN_OPS = frozenset({ExprOp.AND, ExprOp.OR})
ARITHMETIC_OPS = frozenset({ExprOp.ADD, ExprOp.SUB, ExprOp.MUL, ExprOp.DIV, ExprOp.MOD})
STRING_PREDICATE_OPS = frozenset({ExprOp.STR_CONTAINS, ExprOp.STR_STARTS_WITH, ExprOp.STR_ENDS_WITH})
STRING_UNARY_OPS = frozenset({ExprOp.STR_LOWER, ExprOp.STR_UPPER, ExprOp.STR_STRIP})


class ExprNode(BaseModel):
    """One node of an expression tree.

    ``when`` stores its branches flat: ``args = [cond1, value1, cond2, value2, ..., otherwise]``.
    ``is_in`` keeps its literal set in ``values``; string predicates keep their literal in ``value``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: ExprOp = Field(description="The operation.")
    args: tuple[ExprNode, ...] = Field(default=(), description="Operand sub-expressions, in order.")
    name: str | None = Field(default=None, description="Column name, for `col`.")
    value: JsonScalar = Field(default=None, description="Literal value, for `lit` and string predicates.")
    values: tuple[JsonScalar, ...] | None = Field(default=None, description="Literal set, for `is_in`.")
    dtype: DType | None = Field(default=None, description="Target type for `cast`; declared type of a `lit`.")

    def columns(self) -> frozenset[str]:
        """Every column this expression reads."""
        found: set[str] = set()
        stack: list[ExprNode] = [self]
        while stack:
            node = stack.pop()
            if node.op is ExprOp.COL and node.name is not None:
                found.add(node.name)
            stack.extend(node.args)
        return frozenset(found)

    def render(self) -> str:
        """A short human-readable form, for error messages and plans."""
        return _render(self)


def literal_dtype(value: JsonScalar) -> DType | None:
    """The logical type of a bare literal (``None`` for a null, which fits any type).

    One definition for the compiler's type checker and every runtime's translation, so a literal can
    never be typed one way at compile time and another at run time.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return DType.BOOL
    if isinstance(value, int):
        return DType.INT64
    if isinstance(value, float):
        return DType.FLOAT64
    return DType.STRING


def _render(node: ExprNode) -> str:
    op = node.op
    args = [_render(a) for a in node.args]
    if op is ExprOp.COL:
        return f"col({node.name!r})"
    if op is ExprOp.LIT:
        return repr(node.value)
    symbols = {
        ExprOp.EQ: "==", ExprOp.NE: "!=", ExprOp.LT: "<", ExprOp.LE: "<=", ExprOp.GT: ">", ExprOp.GE: ">=",
        ExprOp.AND: "&", ExprOp.OR: "|", ExprOp.ADD: "+", ExprOp.SUB: "-", ExprOp.MUL: "*",
        ExprOp.DIV: "/", ExprOp.MOD: "%",
    }
    if op in symbols:
        return f"({args[0]} {symbols[op]} {args[1]})"
    if op is ExprOp.NOT:
        return f"~{args[0]}"
    if op is ExprOp.NEG:
        return f"-{args[0]}"
    if op is ExprOp.IS_IN:
        return f"{args[0]}.is_in({list(node.values or ())!r})"
    if op is ExprOp.CAST:
        return f"{args[0]}.cast({node.dtype})"
    if node.value is not None:
        return f"{op.value}({', '.join([*args, repr(node.value)])})"
    return f"{op.value}({', '.join(args)})"
