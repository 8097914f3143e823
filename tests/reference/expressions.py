"""Reference evaluator of the expression language, one row at a time, in plain Python.

It implements the semantics written in :mod:`feature_platform.engine.expressions` with nothing but
the standard library, so a bug in the polars translation shows up as a disagreement. Values are
plain Python: ``None`` (null), ``bool``, ``int``, ``float``, ``str``, timezone-aware UTC
``datetime``, ``date`` and ``list``.

Modelling limits (deliberate, documented so nobody trusts the reference beyond them):

* ints are int64 and wrap on overflow; int32 intermediate results (``str_len``, ``ts_hour`` …) are
  not wrapped at 32 bits (they are small in practice);
* ``coalesce``/``when`` return the chosen branch's value as is: when branches mix int and float the
  engine widens to float, the reference does not (the compiler unifies types; tests keep branches
  of one type);
* float32 is modelled by rounding to the nearest float32 on a cast only;
* the sign of a zero is not modelled where polars does not keep it (scalar arithmetic shortcuts);
  the engine hides it where it would show (a zero divisor is +0.0, a zero prints as ``0.0``), and
  comparisons of results treat -0.0 and 0.0 as equal.
"""

from __future__ import annotations

import math
import re
import struct
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from feature_platform.artefact import DType, ExprNode, ExprOp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_EPOCH_MS = -62_135_596_800_000
MAX_EPOCH_MS = 253_402_300_799_999

WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
"""The Unicode White_Space property: what ``str_strip`` strips (Python's ``str.strip()`` differs)."""

_ISO = re.compile(
    r"(?P<date>[1-9][0-9]{3}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?P<h>[01][0-9]|2[0-3]):(?P<mi>[0-5][0-9])(?::(?P<s>[0-5][0-9])(?:\.(?P<f>[0-9]{1,9}))?)?"
    r"(?:Z|(?P<sign>[+-])(?P<th>[01][0-9]|2[0-3]):?(?P<tm>[0-5][0-9]))?)?"
)
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)", re.I)
_INT_RANGE = {DType.INT32: (-(2**31), 2**31 - 1), DType.INT64: (-(2**63), 2**63 - 1)}


def evaluate(node: ExprNode, row: dict[str, Any]) -> Any:
    """The value of ``node`` for one ``row`` (column name → value)."""
    op = node.op
    args = node.args
    if op is ExprOp.COL:
        return row[node.name]  # type: ignore[index]
    if op is ExprOp.LIT:
        return node.value if node.dtype is None else cast(node.value, node.dtype)
    if op in _COMPARE:
        return _compare(op, evaluate(args[0], row), evaluate(args[1], row))
    if op is ExprOp.AND:
        return _and(evaluate(args[0], row), evaluate(args[1], row))
    if op is ExprOp.OR:
        return _or(evaluate(args[0], row), evaluate(args[1], row))
    if op is ExprOp.NOT:
        value = evaluate(args[0], row)
        return None if value is None else not value
    if op is ExprOp.IS_IN:
        value = evaluate(args[0], row)
        if value is None:
            return None
        return any(_compare(ExprOp.EQ, value, v) for v in node.values or () if v is not None)
    if op is ExprOp.IS_NULL:
        return evaluate(args[0], row) is None
    if op is ExprOp.IS_NOT_NULL:
        return evaluate(args[0], row) is not None
    if op in (ExprOp.ADD, ExprOp.SUB, ExprOp.MUL, ExprOp.DIV, ExprOp.MOD):
        return _arithmetic(op, evaluate(args[0], row), evaluate(args[1], row))
    if op is ExprOp.NEG:
        value = evaluate(args[0], row)
        if value is None:
            return None
        return _wrap(-value) if _is_int(value) else -value
    if op is ExprOp.CAST:
        return cast(evaluate(args[0], row), node.dtype)  # type: ignore[arg-type]
    if op is ExprOp.COALESCE:
        for arg in args:
            value = evaluate(arg, row)
            if value is not None:
                return value
        return None
    if op is ExprOp.WHEN:
        for i in range(0, len(args) - 1, 2):
            if evaluate(args[i], row) is True:
                return evaluate(args[i + 1], row)
        return evaluate(args[-1], row)
    if op is ExprOp.STR_CONCAT:
        parts = [evaluate(a, row) for a in args]
        return None if any(p is None for p in parts) else "".join(parts)
    if op in _STRING_FUNCTIONS:
        value = evaluate(args[0], row)
        return None if value is None else _STRING_FUNCTIONS[op](value, node.value)
    if op in _TIMESTAMP_FUNCTIONS:
        value = evaluate(args[0], row)
        return None if value is None else _TIMESTAMP_FUNCTIONS[op](value)
    if op is ExprOp.TS_FROM_EPOCH_MS:
        value = evaluate(args[0], row)
        if value is None or not MIN_EPOCH_MS <= value <= MAX_EPOCH_MS:
            return None
        return EPOCH + timedelta(milliseconds=value)
    raise NotImplementedError(op)


# ------------------------------------------------------------------------------------ logic, compare

_COMPARE = {
    ExprOp.EQ: lambda c: c == 0,
    ExprOp.NE: lambda c: c != 0,
    ExprOp.LT: lambda c: c < 0,
    ExprOp.LE: lambda c: c <= 0,
    ExprOp.GT: lambda c: c > 0,
    ExprOp.GE: lambda c: c >= 0,
}


def _compare(op: ExprOp, a: Any, b: Any) -> bool | None:
    """SQL-style: null if a side is null. Floats in total order (NaN == NaN, NaN above all numbers)."""
    if a is None or b is None:
        return None
    if _is_number(a) and _is_number(b) and (isinstance(a, float) or isinstance(b, float)):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return bool(_COMPARE[op](int(math.isnan(a)) - int(math.isnan(b))))
    return bool(_COMPARE[op]((a > b) - (a < b)))


def _and(a: bool | None, b: bool | None) -> bool | None:
    """Kleene AND: false wins over null."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: bool | None, b: bool | None) -> bool | None:
    """Kleene OR: true wins over null."""
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


# --------------------------------------------------------------------------------------- arithmetic


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def _wrap(value: int) -> int:
    """Two's complement int64 wrap-around, like polars."""
    return (value + 2**63) % 2**64 - 2**63


def _ieee_div(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _floor(x: float) -> float:
    return x if not math.isfinite(x) else float(math.floor(x))


def _arithmetic(op: ExprOp, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if op is ExprOp.DIV:
        return _ieee_div(float(a), float(b) + 0.0)  # + 0.0: a zero divisor counts as +0.0
    if _is_int(a) and _is_int(b):
        if op is ExprOp.MOD:
            return None if b == 0 else _wrap(a % b)
        return _wrap({ExprOp.ADD: a + b, ExprOp.SUB: a - b, ExprOp.MUL: a * b}[op])
    x, y = float(a), float(b)
    if op is ExprOp.MOD:  # floored, computed as polars does: a - b * floor(a / b)
        return x - y * _floor(_ieee_div(x, y))
    return {ExprOp.ADD: x + y, ExprOp.SUB: x - y, ExprOp.MUL: x * y}[op]


# ------------------------------------------------------------------------------ strings, timestamps


def _strip(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] in WHITE_SPACE:
        start += 1
    while end > start and text[end - 1] in WHITE_SPACE:
        end -= 1
    return text[start:end]


_STRING_FUNCTIONS = {
    ExprOp.STR_LOWER: lambda s, _: s.lower(),
    ExprOp.STR_UPPER: lambda s, _: s.upper(),
    ExprOp.STR_STRIP: lambda s, _: _strip(s),
    ExprOp.STR_LEN: lambda s, _: len(s),
    ExprOp.STR_CONTAINS: lambda s, lit: lit in s,
    ExprOp.STR_STARTS_WITH: lambda s, lit: s.startswith(lit),
    ExprOp.STR_ENDS_WITH: lambda s, lit: s.endswith(lit),
}

_TIMESTAMP_FUNCTIONS = {
    ExprOp.TS_HOUR: lambda t: t.astimezone(UTC).hour,
    ExprOp.TS_WEEKDAY: lambda t: t.astimezone(UTC).isoweekday(),
    ExprOp.TS_DATE: lambda t: t.astimezone(UTC).date(),
    ExprOp.TS_TO_EPOCH_MS: lambda t: (t - EPOCH) // timedelta(milliseconds=1),
}


def parse_iso_timestamp(text: str) -> datetime | None:
    """ISO-8601 text → UTC datetime, per the grammar in the engine's docstring; else ``None``."""
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    try:
        day = date.fromisoformat(match["date"])
    except ValueError:
        return None
    fraction = (match["f"] or "")[:6].ljust(6, "0")
    moment = datetime(
        day.year,
        day.month,
        day.day,
        int(match["h"] or 0),
        int(match["mi"] or 0),
        int(match["s"] or 0),
        int(fraction),
        tzinfo=UTC,
    )
    if match["sign"]:
        offset = timedelta(hours=int(match["th"]), minutes=int(match["tm"]))
        moment = moment - offset if match["sign"] == "+" else moment + offset
    return moment


# -------------------------------------------------------------------------------------------- casts


def _float32(value: float) -> float:
    if not math.isfinite(value):
        return value
    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


def format_float(value: float) -> str:
    """A float as polars prints it: shortest round-trip digits, scientific below 1e-5 and from 1e16."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    if value != 0 and 1e-5 <= abs(value) < 1e-4:
        return format(Decimal(text), "f")
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", text)


def cast(value: Any, target: DType) -> Any:
    """Non-strict conversion of a value to ``target`` (what cannot convert becomes ``None``)."""
    if value is None:
        return None
    if target is DType.STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return format_float(value + 0.0)  # + 0.0: zero prints as 0.0 whatever its sign
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if isinstance(value, date):
            return value.isoformat()
        return None
    if target in _INT_RANGE:
        low, high = _INT_RANGE[target]
        number: int | None
        if isinstance(value, bool):
            number = int(value)
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float):
            number = int(value) if math.isfinite(value) else None
        elif isinstance(value, str):
            number = int(value) if _INT_TEXT.fullmatch(value) else None
        elif isinstance(value, datetime):
            number = (value - EPOCH) // timedelta(microseconds=1)
        else:
            number = None
        return number if number is not None and low <= number <= high else None
    if target in (DType.FLOAT32, DType.FLOAT64):
        result: float | None
        if isinstance(value, bool | int | float):
            result = float(value)
        elif isinstance(value, str):
            result = float(value) if _FLOAT_TEXT.fullmatch(value) else None
        else:
            result = None
        if result is not None and target is DType.FLOAT32:
            result = _float32(result)
        return result
    if target is DType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if isinstance(value, str):
            return {"true": True, "false": False}.get(value.lower())
        return None
    if target is DType.TIMESTAMP:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            return parse_iso_timestamp(value)
        if _is_int(value):
            return EPOCH + timedelta(microseconds=value)
        return None
    if target is DType.DATE:
        if isinstance(value, datetime):
            return value.astimezone(UTC).date()
        if isinstance(value, date):
            return value
        if isinstance(value, str) and re.fullmatch(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}", value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                return None
        return None
    if target is DType.LIST_FLOAT32:
        return [None if v is None else _float32(float(v)) for v in value]
    if target.is_list:
        return list(value)
    raise NotImplementedError(target)
