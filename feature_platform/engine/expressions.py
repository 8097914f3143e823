"""Translate an artefact's expression tree (:class:`ExprNode`) into a polars expression.

This module is THE definition of what each :class:`ExprOp` means at run time; the pure-Python
reference in ``tests/reference`` implements the same rules and the tests hold the two together.

Semantics (``null`` is polars' null, SQL's NULL):

* ``col`` reads a column; ``lit`` is a literal: ints are Int64, floats Float64, strings String,
  bools Boolean, ``None`` a null (typed by the literal's ``dtype`` when it has one; a string literal
  with ``dtype=timestamp`` is parsed like ``cast`` below).
* comparisons (``eq ne lt le gt ge``): null if either side is null. Numbers compare by value across
  int/float. Floats use polars' total order: ``NaN == NaN`` and NaN is greater than every number;
  ``-0.0 == 0.0``.
* ``and`` / ``or`` / ``not``: Kleene three-valued logic (``null & false = false``,
  ``null | true = true``, otherwise null propagates).
* ``is_in``: null if the operand is null; otherwise whether it equals one of the non-null literal
  ``values`` (a null in ``values`` never matches). ``is_null`` / ``is_not_null`` are never null.
* arithmetic (``add sub mul mod neg``): null propagates; int64 overflow wraps (two's complement);
  int with float gives float64. ``div`` is IEEE true division in float64 (``x/0`` is ±inf, ``0/0``
  NaN), also when the divisor is a constant (polars alone would multiply by its reciprocal).
  Signed zeros: polars' scalar arithmetic does not preserve the sign of zero, so the engine never
  exposes it: a zero divisor counts as +0.0 and a zero prints as ``0.0``.
  ``mod`` is floored (the result has the sign of the divisor): ints ``x % 0`` is null; floats are
  computed as ``a - b * floor(a / b)`` (so ``x % 0.0`` is NaN).
* ``cast`` is non-strict: a value that cannot be converted becomes null (and a null key or
  timestamp is then caught by validation as a malformed row). The conversions:

  - string → timestamp: ISO-8601, the grammar :data:`ISO_TIMESTAMP_PATTERN`:
    ``YYYY-MM-DD`` optionally followed by ``T`` or a space, ``HH:MM``, optional ``:SS``, optional
    fraction of 1-9 digits (truncated to microseconds), and an optional zone ``Z``, ``±HH:MM`` or
    ``±HHMM`` (no zone means UTC). The result is converted to UTC. Anything else is null.
  - string → date: exactly ``YYYY-MM-DD`` (a valid calendar date). date → timestamp: midnight UTC.
    timestamp → date: the UTC date.
  - string → int: optional sign and ASCII digits, within the target's range. string → float: what
    polars parses (decimal, exponent, ``inf``/``infinity``/``nan`` in any case).
    string → bool: ``true``/``false`` in any case.
  - float → int truncates toward zero (NaN, ±inf, out of range → null); number → bool is ``!= 0``;
    bool → number is 0/1; int → int32 out of range → null.
  - → string: ints in decimal, bools ``true``/``false``, floats as polars prints them,
    timestamps as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, dates as ``YYYY-MM-DD``.

* ``coalesce``: first non-null argument. ``when``: ``args = [c1, v1, c2, v2, ..., otherwise]``; the
  first condition that is true wins (a null condition counts as false).
* strings: ``str_lower``/``str_upper`` (Unicode), ``str_strip`` (Unicode White_Space both ends),
  ``str_len`` in characters (int32), ``str_contains``/``str_starts_with``/``str_ends_with`` with the
  literal ``value`` (no regex), ``str_concat`` (null if any part is null).
* timestamps (UTC): ``ts_hour`` (int32, 0-23), ``ts_weekday`` (int32, ISO: Monday = 1),
  ``ts_date``, ``ts_to_epoch_ms`` (int64, floored), ``ts_from_epoch_ms`` (int ms → timestamp; values
  outside years 0001-9999 give null).

``schema`` (column name → logical type) lets the translator pick the right conversion for ``cast``,
type ``is_in`` sets and give null literals a type; without it columns are assumed to already have
the types the compiler checked, and a cast to timestamp assumes a string input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.expressions import ExprNode, ExprOp, literal_dtype
from feature_platform.artefact.type_rules import common_type, infer
from feature_platform.engine.dtypes import TIMESTAMP, to_polars_dtype
from feature_platform.errors import ArtefactError

Schema = Mapping[str, DType]

ISO_TIMESTAMP_PATTERN = (
    r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?$"
)
"""Strings a cast to timestamp accepts (years 1000-9999; the calendar date must exist)."""

ISO_DATE_PATTERN = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}$"
"""Strings a cast to date accepts."""

MIN_EPOCH_MS = -62_135_596_800_000
"""0001-01-01T00:00:00Z in epoch milliseconds."""
MAX_EPOCH_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z in epoch milliseconds."""


class ExpressionError(ArtefactError):
    """An expression tree the engine cannot translate (malformed or from a newer format)."""


# --------------------------------------------------------------------------------------------- types


def infer_dtype(node: ExprNode, schema: Schema | None = None) -> DType | None:
    """The logical type ``node`` evaluates to over ``schema`` (``None``: null or unknown).

    The compiler's rules (:mod:`feature_platform.artefact.type_rules`), so the engine produces the type
    the artefact records; their complaints are the compiler's business and are dropped here.
    """
    return infer(node, schema or {})[0]


# ---------------------------------------------------------------------------------------- translation


def to_polars(node: ExprNode, schema: Schema | None = None) -> pl.Expr:
    """The polars expression computing ``node`` (see the module docstring for the semantics)."""
    return _Translator(schema).expr(node)


class _Translator:
    def __init__(self, schema: Schema | None) -> None:
        self.schema = schema

    def dtype(self, node: ExprNode) -> DType | None:
        return infer_dtype(node, self.schema)

    def expr(self, node: ExprNode) -> pl.Expr:
        handler = _HANDLERS.get(node.op)
        if handler is None:
            msg = f"the engine cannot translate expression operation '{node.op}' in {_show(node)}"
            raise ExpressionError(msg)
        return handler(self, node)

    def typed(self, node: ExprNode, if_null: DType) -> pl.Expr:
        """Translate ``node``; if its type is unknown (a null literal), give it type ``if_null``."""
        expr = self.expr(node)
        return expr.cast(to_polars_dtype(if_null)) if self.dtype(node) is None else expr

    def args(self, node: ExprNode) -> list[pl.Expr]:
        return [self.expr(a) for a in node.args]

    def unary(self, node: ExprNode, expected: DType) -> pl.Expr:
        _arity(node, 1)
        return self.typed(node.args[0], expected)


def _show(node: ExprNode) -> str:
    """``node`` rendered for an error message, even when it is malformed."""
    try:
        return node.render()
    except (IndexError, TypeError):
        return f"{node.op.value}(<{len(node.args)} argument(s)>)"


def _arity(node: ExprNode, n: int) -> None:
    if len(node.args) != n:
        msg = f"'{node.op}' takes {n} argument(s), got {len(node.args)} in {_show(node)}"
        raise ExpressionError(msg)


def _col(t: _Translator, node: ExprNode) -> pl.Expr:
    if not node.name:
        msg = "a 'col' expression has no column name"
        raise ExpressionError(msg)
    return pl.col(node.name)


def _lit(t: _Translator, node: ExprNode) -> pl.Expr:
    value, declared = node.value, node.dtype
    natural = literal_dtype(value)
    if value is None:
        return pl.lit(None, dtype=to_polars_dtype(declared)) if declared is not None else pl.lit(None)
    if natural is None:  # unreachable: value is not None
        return pl.lit(None)
    literal = pl.lit(value, dtype=to_polars_dtype(natural))
    return literal if declared is None else _cast(literal, natural, declared)


def _binary(fn: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> Callable[[_Translator, ExprNode], pl.Expr]:
    def handler(t: _Translator, node: ExprNode) -> pl.Expr:
        _arity(node, 2)
        left, right = t.args(node)
        return fn(left, right)

    return handler


def _arith(fn: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> Callable[[_Translator, ExprNode], pl.Expr]:
    def handler(t: _Translator, node: ExprNode) -> pl.Expr:
        _arity(node, 2)
        operands = t.args(node)  # translated first: that checks the subtrees before they are typed
        # A null operand takes the result's type, so ``i32 + null`` stays the int32 the compiler records.
        if_null = to_polars_dtype(t.dtype(node) or DType.INT64)
        left, right = (e.cast(if_null) if t.dtype(a) is None else e for e, a in zip(operands, node.args, strict=True))
        return fn(left, right)

    return handler


def _div(t: _Translator, node: ExprNode) -> pl.Expr:
    _arity(node, 2)
    left, right = (t.typed(a, DType.FLOAT64).cast(pl.Float64) for a in node.args)
    # polars divides by a *constant* column (a literal, or a when/then that happened to pick one
    # branch for every row) as x * (1 / c), which can differ from x / c in the last bit. Subtracting
    # a real zero column makes the divisor an ordinary column (exact for every value, -0.0 and NaN
    # included), so the result is IEEE division whatever the batch looks like.
    materialised = right - pl.int_range(pl.len()).cast(pl.Float64) * 0.0
    return left / _unsigned_zero(materialised)


def _unsigned_zero(expr: pl.Expr) -> pl.Expr:
    """``expr`` with -0.0 replaced by 0.0: polars does not keep the sign of zero reliably (scalar
    arithmetic shortcuts), so the engine never lets it show (in division and in float → string)."""
    return pl.when(expr == 0.0).then(pl.lit(0.0, dtype=pl.Float64)).otherwise(expr)


def _neg(t: _Translator, node: ExprNode) -> pl.Expr:
    return -t.unary(node, DType.INT64)


def _and(t: _Translator, node: ExprNode) -> pl.Expr:
    _arity(node, 2)
    left, right = (t.typed(a, DType.BOOL) for a in node.args)
    return left & right


def _or(t: _Translator, node: ExprNode) -> pl.Expr:
    _arity(node, 2)
    left, right = (t.typed(a, DType.BOOL) for a in node.args)
    return left | right


def _not(t: _Translator, node: ExprNode) -> pl.Expr:
    return ~t.unary(node, DType.BOOL)


def _is_in(t: _Translator, node: ExprNode) -> pl.Expr:
    _arity(node, 1)
    operand = t.expr(node.args[0])
    values = [v for v in (node.values or ()) if v is not None]
    dtype = common_type([t.dtype(node.args[0]), *(literal_dtype(v) for v in values)])
    if dtype is None:  # a null operand and no values: nothing to match
        return pl.when(operand.is_null()).then(None).otherwise(False).cast(pl.Boolean)
    polars_dtype = to_polars_dtype(dtype)
    if dtype.is_float:
        values = [float(v) for v in values if not isinstance(v, str)]
    literal_set = pl.lit(pl.Series(values, dtype=polars_dtype)).implode()
    return operand.cast(polars_dtype).is_in(literal_set)


def _is_null(t: _Translator, node: ExprNode) -> pl.Expr:
    _arity(node, 1)
    return t.expr(node.args[0]).is_null()


def _is_not_null(t: _Translator, node: ExprNode) -> pl.Expr:
    _arity(node, 1)
    return t.expr(node.args[0]).is_not_null()


def _cast_node(t: _Translator, node: ExprNode) -> pl.Expr:
    _arity(node, 1)
    if node.dtype is None:
        msg = f"cast without a target type in {_show(node)}"
        raise ExpressionError(msg)
    operand = t.expr(node.args[0])  # translated first: that checks the subtree before it is typed
    source = t.dtype(node.args[0])
    if source is None and node.dtype is DType.TIMESTAMP:
        source = DType.STRING
    return _cast(operand, source, node.dtype)


def _coalesce(t: _Translator, node: ExprNode) -> pl.Expr:
    if not node.args:
        msg = "coalesce() without arguments"
        raise ExpressionError(msg)
    return pl.coalesce(_branches(t, node, list(node.args)))


def _when(t: _Translator, node: ExprNode) -> pl.Expr:
    args = list(node.args)
    if len(args) < 3 or len(args) % 2 == 0:
        msg = f"when() needs [cond, value, ..., otherwise], got {len(args)} argument(s) in {_show(node)}"
        raise ExpressionError(msg)
    values = _branches(t, node, [*args[1:-1:2], args[-1]])
    conditions = [t.typed(c, DType.BOOL) for c in args[0:-1:2]]
    chain: Any = pl.when(conditions[0]).then(values[0])
    for condition, value in zip(conditions[1:], values[1:-1], strict=True):
        chain = chain.when(condition).then(value)
    result: pl.Expr = chain.otherwise(values[-1])
    return result


def _branches(t: _Translator, node: ExprNode, nodes: list[ExprNode]) -> list[pl.Expr]:
    """The value branches of ``node`` cast to its type (translated first: that checks the subtrees)."""
    exprs = [t.expr(n) for n in nodes]
    result_type = t.dtype(node)
    if result_type is None:
        return exprs
    return [e.cast(to_polars_dtype(result_type)) for e in exprs]


def _str_unary(fn: Callable[[pl.Expr], pl.Expr]) -> Callable[[_Translator, ExprNode], pl.Expr]:
    def handler(t: _Translator, node: ExprNode) -> pl.Expr:
        return fn(t.unary(node, DType.STRING))

    return handler


def _str_predicate(op: ExprOp) -> Callable[[_Translator, ExprNode], pl.Expr]:
    def handler(t: _Translator, node: ExprNode) -> pl.Expr:
        operand = t.unary(node, DType.STRING)
        if not isinstance(node.value, str):
            msg = f"'{op}' needs a string literal in 'value', got {node.value!r}"
            raise ExpressionError(msg)
        if op is ExprOp.STR_CONTAINS:
            return operand.str.contains(node.value, literal=True)
        if op is ExprOp.STR_STARTS_WITH:
            return operand.str.starts_with(node.value)
        return operand.str.ends_with(node.value)

    return handler


def _str_concat(t: _Translator, node: ExprNode) -> pl.Expr:
    if not node.args:
        msg = "str_concat() without arguments"
        raise ExpressionError(msg)
    return pl.concat_str([t.typed(a, DType.STRING) for a in node.args], ignore_nulls=False)


def _ts_unary(fn: Callable[[pl.Expr], pl.Expr]) -> Callable[[_Translator, ExprNode], pl.Expr]:
    def handler(t: _Translator, node: ExprNode) -> pl.Expr:
        return fn(t.unary(node, DType.TIMESTAMP))

    return handler


def _ts_from_epoch_ms(t: _Translator, node: ExprNode) -> pl.Expr:
    ms = t.unary(node, DType.INT64).cast(pl.Int64)
    in_range = (ms >= MIN_EPOCH_MS) & (ms <= MAX_EPOCH_MS)
    return pl.when(in_range).then(ms * 1000).otherwise(None).cast(TIMESTAMP)


_HANDLERS: dict[ExprOp, Callable[[_Translator, ExprNode], pl.Expr]] = {
    ExprOp.COL: _col,
    ExprOp.LIT: _lit,
    ExprOp.EQ: _binary(lambda a, b: a == b),
    ExprOp.NE: _binary(lambda a, b: a != b),
    ExprOp.LT: _binary(lambda a, b: a < b),
    ExprOp.LE: _binary(lambda a, b: a <= b),
    ExprOp.GT: _binary(lambda a, b: a > b),
    ExprOp.GE: _binary(lambda a, b: a >= b),
    ExprOp.AND: _and,
    ExprOp.OR: _or,
    ExprOp.NOT: _not,
    ExprOp.IS_IN: _is_in,
    ExprOp.IS_NULL: _is_null,
    ExprOp.IS_NOT_NULL: _is_not_null,
    ExprOp.ADD: _arith(lambda a, b: a + b),
    ExprOp.SUB: _arith(lambda a, b: a - b),
    ExprOp.MUL: _arith(lambda a, b: a * b),
    ExprOp.DIV: _div,
    ExprOp.MOD: _arith(lambda a, b: a % b),  # polars: floored; floats as a - b * floor(a / b)
    ExprOp.NEG: _neg,
    ExprOp.CAST: _cast_node,
    ExprOp.COALESCE: _coalesce,
    ExprOp.WHEN: _when,
    ExprOp.STR_LOWER: _str_unary(lambda e: e.str.to_lowercase()),
    ExprOp.STR_UPPER: _str_unary(lambda e: e.str.to_uppercase()),
    ExprOp.STR_STRIP: _str_unary(lambda e: e.str.strip_chars()),
    ExprOp.STR_LEN: _str_unary(lambda e: e.str.len_chars().cast(pl.Int32)),
    ExprOp.STR_CONTAINS: _str_predicate(ExprOp.STR_CONTAINS),
    ExprOp.STR_STARTS_WITH: _str_predicate(ExprOp.STR_STARTS_WITH),
    ExprOp.STR_ENDS_WITH: _str_predicate(ExprOp.STR_ENDS_WITH),
    ExprOp.STR_CONCAT: _str_concat,
    ExprOp.TS_HOUR: _ts_unary(lambda e: e.dt.hour().cast(pl.Int32)),
    ExprOp.TS_WEEKDAY: _ts_unary(lambda e: e.dt.weekday().cast(pl.Int32)),
    ExprOp.TS_DATE: _ts_unary(lambda e: e.dt.date()),
    ExprOp.TS_TO_EPOCH_MS: _ts_unary(lambda e: e.dt.epoch("ms")),
    ExprOp.TS_FROM_EPOCH_MS: _ts_from_epoch_ms,
}


# ------------------------------------------------------------------------------------------------ casts


def _cast(expr: pl.Expr, source: DType | None, target: DType) -> pl.Expr:
    """Non-strict conversion of ``expr`` (of logical type ``source``) to ``target``."""
    polars_target = to_polars_dtype(target)
    if source == target:
        return expr
    if source is None:
        return expr.cast(polars_target, strict=False)
    if target is DType.TIMESTAMP:
        if source is DType.STRING:
            return parse_iso_timestamp(expr)
        return expr.cast(polars_target, strict=False)
    if target is DType.DATE:
        if source is DType.STRING:
            return pl.when(expr.str.contains(ISO_DATE_PATTERN)).then(expr.str.to_date("%Y-%m-%d", strict=False))
        return expr.cast(pl.Date, strict=False)
    if target is DType.BOOL and source is DType.STRING:
        lowered = expr.str.to_lowercase()
        return pl.when(lowered == "true").then(True).when(lowered == "false").then(False).otherwise(None)
    if target is DType.STRING:
        if source.is_float:
            return _unsigned_zero(expr.cast(pl.Float64)).cast(pl.String)
        if source is DType.TIMESTAMP:
            return expr.dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ")
        if source is DType.DATE:
            return expr.dt.to_string("%Y-%m-%d")
    return expr.cast(polars_target, strict=False)


def parse_iso_timestamp(text: pl.Expr) -> pl.Expr:
    """Parse ISO-8601 strings (the grammar :data:`ISO_TIMESTAMP_PATTERN`) to UTC; anything else → null.

    The accepted shapes are first rewritten to one canonical form, ``YYYY-MM-DDTHH:MM:SS[.f]±HH:MM``,
    and parsed with a single fixed format, so the result never depends on which format polars would
    infer from the first row of a batch.
    """
    date = r"([0-9]{4}-[0-9]{2}-[0-9]{2})"
    s = text.cast(pl.String)
    s = s.str.replace(rf"^{date}$", "${1}T00:00:00+00:00")
    s = s.str.replace(rf"^{date} ", "${1}T")
    s = s.str.replace(r"T([0-9]{2}:[0-9]{2})(Z|[+-]|$)", "T${1}:00${2}")
    s = s.str.replace(r"Z$", "+00:00")
    s = s.str.replace(r"([+-][0-9]{2})([0-9]{2})$", "${1}:${2}")
    s = pl.when(s.str.contains(r"[+-][0-9]{2}:[0-9]{2}$")).then(s).otherwise(s + "+00:00")
    parsed = s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC", time_unit="us", strict=False)
    return pl.when(text.cast(pl.String).str.contains(ISO_TIMESTAMP_PATTERN)).then(parsed).cast(TIMESTAMP)
