"""The type rules of the expression language: one table, read by the compiler and by every runtime.

The compiler records the type of every compiled field and a runtime must produce exactly that type, so
the rules may be stated only once. :data:`RULES` says, for each :class:`ExprOp`, what its operands must
be and what it returns; :func:`infer` walks a tree with it. The compiler reports the complaints, a
runtime keeps only the type (it runs trees that already passed). Adding an operator means adding one
row here; ``tests/test_type_rules.py`` holds the table to what the polars engine actually produces.

Types are :class:`DType` or ``None``: the type of an untyped ``lit(None)``, which fits everywhere
(its real type comes from its context) and never causes a complaint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.expressions import (
    COMPARISON_OPS,
    STRING_PREDICATE_OPS,
    STRING_UNARY_OPS,
    ExprNode,
    ExprOp,
    literal_dtype,
)

Schema = Mapping[str, DType]
Types = Sequence[DType | None]
Report = Callable[[str], None]


def comparable(a: DType | None, b: DType | None) -> bool:
    """Whether values of types ``a`` and ``b`` can be compared (numbers compare across widths)."""
    if a is None or b is None:
        return True
    if a.is_numeric and b.is_numeric:
        return True
    return a == b


def common_type(types: Iterable[DType | None], mismatch: Callable[[DType, int], None] | None = None) -> DType | None:
    """The one type values of ``types`` share: numbers widen (any float → float64, else int64).

    A type that fits nothing before it is passed to ``mismatch`` (with the type so far and its index)
    and skipped, so the type stays the first branch's and one mistake is reported once.
    """
    result: DType | None = None
    for index, t in enumerate(types):
        if t is None or t == result:
            continue
        if result is None:
            result = t
        elif result.is_numeric and t.is_numeric:
            result = DType.FLOAT64 if result.is_float or t.is_float else DType.INT64
        elif mismatch is not None:
            mismatch(result, index)
    return result


def describe(node: ExprNode, dtype: DType | None) -> str:
    """An operand as a complaint names it: its type and what it is."""
    what = "null" if dtype is None else str(dtype)
    if node.op is ExprOp.COL:
        return f"{what} field '{node.name}'"
    if node.op is ExprOp.LIT:
        return f"{what} literal {node.value!r}"
    return f"{what} expression {node.render()}"


@dataclass(frozen=True)
class Need:
    """What every operand of an operation must be (a null always fits).

    ``complaint`` is formatted with ``op``, ``operand`` (see :func:`describe`) and ``expr`` (the whole
    node rendered); ``string_hint`` is appended when the offending operand is a string. A ``fatal``
    misfit leaves the result unknown (null) and only the first is reported, so arithmetic on a string
    is one complaint rather than one per enclosing expression.
    """

    accepts: Callable[[DType], bool]
    complaint: str
    string_hint: str = ""
    fatal: bool = False

    def misfits(self, node: ExprNode, types: Types) -> list[str]:
        """A complaint for each operand of ``node`` this need refuses, in order."""
        return [
            self.complaint.format(op=node.op.value, operand=describe(arg, t), expr=node.render())
            + (self.string_hint if t is DType.STRING else "")
            for arg, t in zip(node.args, types, strict=True)
            if t is not None and not self.accepts(t)
        ]


class Derived(Enum):
    """Result types that depend on the node rather than being one fixed :class:`DType`."""

    WIDENED = "the operands' common numeric type"
    TARGET = "the node's own dtype (a cast's target)"
    BRANCHES = "the common type of the value branches (coalesce: every argument; when: the values)"


Relate = Callable[[ExprNode, Types, Report], None]
"""A check between operands (or of the node's own fields) that a per-operand :class:`Need` cannot say."""


@dataclass(frozen=True)
class Rule:
    """How one operation is typed: what each operand must be, how operands relate, what it returns."""

    result: DType | Derived
    need: Need | None = None
    relate: Relate | None = None


# ------------------------------------------------------------------------------------------- checks


def _compare(node: ExprNode, types: Types, report: Report) -> None:
    (left, right), (a, b) = types, node.args
    if not comparable(left, right):
        report(f"cannot compare {describe(a, left)} with {describe(b, right)} in {node.render()}")
    elif node.op not in (ExprOp.EQ, ExprOp.NE) and left is not None and (left.is_list or left is DType.BOOL):
        report(f"cannot order {describe(a, left)} in {node.render()}")


def _is_in(node: ExprNode, types: Types, report: Report) -> None:
    for value in node.values or ():
        if not comparable(types[0], literal_dtype(value)):
            report(f"is_in value {value!r} cannot match {describe(node.args[0], types[0])}")


_CASTABLE_TO_TIMESTAMP = (DType.STRING, DType.DATE, DType.TIMESTAMP)


def _cast(node: ExprNode, types: Types, report: Report) -> None:
    source, target = types[0], node.dtype
    if target is None:
        report("cast() needs a target type")
    elif source is not None and (source.is_list or target.is_list) and source != target:
        report(f"cannot cast {describe(node.args[0], source)} to {target}")
    elif target is DType.TIMESTAMP and source is not None and source not in _CASTABLE_TO_TIMESTAMP:
        report(f"cannot cast {describe(node.args[0], source)} to timestamp; use from_epoch_ms()")


def _when_conditions(node: ExprNode, types: Types, report: Report) -> None:
    for index in range(0, len(types) - 1, 2):
        if types[index] not in (DType.BOOL, None):
            report(f"when() condition must be boolean, got {describe(node.args[index], types[index])}")


def branch_indices(node: ExprNode) -> list[int]:
    """Which arguments of a ``coalesce`` or ``when`` are values (rather than conditions)."""
    n = len(node.args)
    return [*range(1, n - 1, 2), n - 1] if node.op is ExprOp.WHEN else list(range(n))


def _branches(node: ExprNode, types: Types, report: Report) -> DType | None:
    indices = branch_indices(node)

    def mismatch(so_far: DType, at: int) -> None:
        index = indices[at]
        report(f"'{node.op.value}' mixes {so_far} and {describe(node.args[index], types[index])}; "
               "all branches need one type")

    return common_type([types[i] for i in indices], mismatch)


# -------------------------------------------------------------------------------------------- table

_BOOLEANS = Need(lambda t: t is DType.BOOL, "'{op}' needs booleans, got {operand}")
_NUMBERS = Need(lambda t: t.is_numeric, "arithmetic '{op}' on {operand} in {expr}", fatal=True)
_ADDENDS = Need(_NUMBERS.accepts, _NUMBERS.complaint, "; use concat() to join strings", fatal=True)
_STRING = Need(lambda t: t is DType.STRING, "'{op}' needs a string, got {operand}")
_TIMESTAMP = Need(lambda t: t is DType.TIMESTAMP, "'{op}' needs a timestamp, got {operand}")
_INTEGER = Need(lambda t: t.is_integer, "from_epoch_ms() needs an integer, got {operand}")

RULES: Mapping[ExprOp, Rule] = {
    **{op: Rule(DType.BOOL, relate=_compare) for op in COMPARISON_OPS},
    ExprOp.AND: Rule(DType.BOOL, _BOOLEANS),
    ExprOp.OR: Rule(DType.BOOL, _BOOLEANS),
    ExprOp.NOT: Rule(DType.BOOL, _BOOLEANS),
    ExprOp.IS_IN: Rule(DType.BOOL, relate=_is_in),
    ExprOp.IS_NULL: Rule(DType.BOOL),
    ExprOp.IS_NOT_NULL: Rule(DType.BOOL),
    ExprOp.ADD: Rule(Derived.WIDENED, _ADDENDS),
    ExprOp.SUB: Rule(Derived.WIDENED, _NUMBERS),
    ExprOp.MUL: Rule(Derived.WIDENED, _NUMBERS),
    ExprOp.MOD: Rule(Derived.WIDENED, _NUMBERS),
    ExprOp.DIV: Rule(DType.FLOAT64, _NUMBERS),
    ExprOp.NEG: Rule(Derived.WIDENED, _NUMBERS),
    ExprOp.CAST: Rule(Derived.TARGET, relate=_cast),
    ExprOp.COALESCE: Rule(Derived.BRANCHES),
    ExprOp.WHEN: Rule(Derived.BRANCHES, relate=_when_conditions),
    **{op: Rule(DType.STRING, _STRING) for op in STRING_UNARY_OPS},
    ExprOp.STR_LEN: Rule(DType.INT32, _STRING),
    **{op: Rule(DType.BOOL, _STRING) for op in STRING_PREDICATE_OPS},
    ExprOp.STR_CONCAT: Rule(DType.STRING, _STRING),
    ExprOp.TS_HOUR: Rule(DType.INT32, _TIMESTAMP),
    ExprOp.TS_WEEKDAY: Rule(DType.INT32, _TIMESTAMP),
    ExprOp.TS_DATE: Rule(DType.DATE, _TIMESTAMP),
    ExprOp.TS_TO_EPOCH_MS: Rule(DType.INT64, _TIMESTAMP),
    ExprOp.TS_FROM_EPOCH_MS: Rule(DType.TIMESTAMP, _INTEGER),
}
"""Every operation except the leaves ``col`` (typed by the schema) and ``lit`` (by its value or dtype)."""


# --------------------------------------------------------------------------------------------- walk


def infer(node: ExprNode, schema: Schema) -> tuple[DType | None, list[str]]:
    """The type of ``node`` over ``schema`` and every complaint about it (all of them, in tree order)."""
    errors: list[str] = []
    return _infer(node, schema, errors.append), errors


def _infer(node: ExprNode, schema: Schema, report: Report) -> DType | None:
    if node.op is ExprOp.COL:
        if node.name is None or node.name not in schema:
            report(f"unknown field '{node.name}' (available: {', '.join(sorted(schema))})")
            return None
        return schema[node.name]
    if node.op is ExprOp.LIT:
        natural = literal_dtype(node.value)
        declared = node.dtype
        if declared is None:
            return natural
        if node.value is not None and not comparable(natural, declared) and declared is not DType.TIMESTAMP:
            report(f"literal {node.value!r} is not a valid {declared}")
        return declared

    types = [_infer(arg, schema, report) for arg in node.args]
    rule = RULES.get(node.op)
    if rule is None:
        report(f"unsupported operation '{node.op.value}'")
        return None
    if rule.need is not None:
        misfits = rule.need.misfits(node, types)
        if misfits and rule.need.fatal:
            report(misfits[0])
            return None
        for complaint in misfits:
            report(complaint)
    if rule.relate is not None:
        rule.relate(node, types, report)
    if isinstance(rule.result, DType):
        return rule.result
    if rule.result is Derived.WIDENED:
        return common_type(types)
    if rule.result is Derived.TARGET:
        return node.dtype
    return _branches(node, types, report)
