"""Static type checking of expression trees against a schema.

Returns a type and a list of error strings rather than raising, so the validator can report every
problem in every expression at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.expressions import (
    ARITHMETIC_OPS,
    BOOLEAN_OPS,
    COMPARISON_OPS,
    STRING_PREDICATE_OPS,
    STRING_UNARY_OPS,
    ExprNode,
    ExprOp,
    literal_dtype,
)

Schema = Mapping[str, DType]

NULL = None
"""The type of ``lit(None)``: compatible with everything."""

_CASTABLE_TO_TIMESTAMP = (DType.STRING, DType.DATE, DType.TIMESTAMP)


def _describe(node: ExprNode, dtype: DType | None) -> str:
    what = "null" if dtype is None else str(dtype)
    if node.op is ExprOp.COL:
        return f"{what} field '{node.name}'"
    if node.op is ExprOp.LIT:
        return f"{what} literal {node.value!r}"
    return f"{what} expression {node.render()}"


def comparable(a: DType | None, b: DType | None) -> bool:
    if a is None or b is None:
        return True
    if a.is_numeric and b.is_numeric:
        return True
    return a == b


def unify(a: DType | None, b: DType | None) -> DType | None:
    """The common type of two branches (numeric types widen), or raise TypeError."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if a.is_numeric and b.is_numeric:
        if a.is_float or b.is_float:
            return DType.FLOAT64
        return DType.INT64
    raise TypeError


def infer(node: ExprNode, schema: Schema) -> tuple[DType | None, list[str]]:
    """The type of ``node`` over ``schema`` and every error found in it."""
    errors: list[str] = []
    dtype = _infer(node, schema, errors)
    return dtype, errors


def _infer(node: ExprNode, schema: Schema, errors: list[str]) -> DType | None:
    op = node.op
    if op is ExprOp.COL:
        if node.name is None or node.name not in schema:
            known = ", ".join(sorted(schema))
            errors.append(f"unknown field '{node.name}' (available: {known})")
            return NULL
        return schema[node.name]
    if op is ExprOp.LIT:
        inferred = literal_dtype(node.value)
        if node.dtype is not None:
            if node.value is not None and not comparable(inferred, node.dtype) and node.dtype is not DType.TIMESTAMP:
                errors.append(f"literal {node.value!r} is not a valid {node.dtype}")
            return node.dtype
        return inferred

    args = [_infer(a, schema, errors) for a in node.args]

    if op in COMPARISON_OPS:
        left, right = args
        if not comparable(left, right):
            errors.append(
                f"cannot compare {_describe(node.args[0], left)} with {_describe(node.args[1], right)} "
                f"in {node.render()}"
            )
        elif op not in (ExprOp.EQ, ExprOp.NE) and left is not None and (left.is_list or left is DType.BOOL):
            errors.append(f"cannot order {_describe(node.args[0], left)} in {node.render()}")
        return DType.BOOL
    if op in BOOLEAN_OPS or op is ExprOp.NOT:
        for sub, t in zip(node.args, args, strict=True):
            if t not in (DType.BOOL, None):
                errors.append(f"'{op.value}' needs booleans, got {_describe(sub, t)}")
        return DType.BOOL
    if op in ARITHMETIC_OPS or op is ExprOp.NEG:
        for sub, t in zip(node.args, args, strict=True):
            if t is not None and not t.is_numeric:
                hint = "; use concat() to join strings" if t is DType.STRING and op is ExprOp.ADD else ""
                errors.append(f"arithmetic '{op.value}' on {_describe(sub, t)} in {node.render()}{hint}")
                return NULL
        if op is ExprOp.DIV:
            return DType.FLOAT64
        result: DType | None = NULL
        for t in args:
            result = unify(result, t)
        return result
    if op is ExprOp.IS_IN:
        (t,) = args
        for value in node.values or ():
            if not comparable(t, literal_dtype(value)):
                errors.append(f"is_in value {value!r} cannot match {_describe(node.args[0], t)}")
        return DType.BOOL
    if op in (ExprOp.IS_NULL, ExprOp.IS_NOT_NULL):
        return DType.BOOL
    if op is ExprOp.CAST:
        (t,) = args
        target = node.dtype
        if target is None:
            errors.append("cast() needs a target type")
            return NULL
        if t is not None and (t.is_list or target.is_list) and t != target:
            errors.append(f"cannot cast {_describe(node.args[0], t)} to {target}")
        elif target is DType.TIMESTAMP and t is not None and t not in _CASTABLE_TO_TIMESTAMP:
            errors.append(f"cannot cast {_describe(node.args[0], t)} to timestamp; use from_epoch_ms()")
        return target
    if op is ExprOp.COALESCE or op is ExprOp.WHEN:
        if op is ExprOp.WHEN:
            conditions = [(node.args[i], args[i]) for i in range(0, len(args) - 1, 2)]
            for sub, t in conditions:
                if t not in (DType.BOOL, None):
                    errors.append(f"when() condition must be boolean, got {_describe(sub, t)}")
            values = [(node.args[i], args[i]) for i in range(1, len(args) - 1, 2)] + [(node.args[-1], args[-1])]
        else:
            values = list(zip(node.args, args, strict=True))
        result = NULL
        for sub, t in values:
            try:
                result = unify(result, t)
            except TypeError:
                errors.append(
                    f"'{op.value}' mixes {result} and {_describe(sub, t)}; all branches need one type"
                )
        return result
    if op in STRING_UNARY_OPS or op in STRING_PREDICATE_OPS or op is ExprOp.STR_LEN or op is ExprOp.STR_CONCAT:
        for sub, t in zip(node.args, args, strict=True):
            if t not in (DType.STRING, None):
                errors.append(f"'{op.value}' needs a string, got {_describe(sub, t)}")
        if op in STRING_PREDICATE_OPS:
            return DType.BOOL
        return DType.INT32 if op is ExprOp.STR_LEN else DType.STRING
    if op in (ExprOp.TS_HOUR, ExprOp.TS_WEEKDAY, ExprOp.TS_DATE, ExprOp.TS_TO_EPOCH_MS):
        (t,) = args
        if t not in (DType.TIMESTAMP, None):
            errors.append(f"'{op.value}' needs a timestamp, got {_describe(node.args[0], t)}")
        return {ExprOp.TS_DATE: DType.DATE, ExprOp.TS_TO_EPOCH_MS: DType.INT64}.get(op, DType.INT32)
    if op is ExprOp.TS_FROM_EPOCH_MS:
        (t,) = args
        if t is not None and not t.is_integer:
            errors.append(f"from_epoch_ms() needs an integer, got {_describe(node.args[0], t)}")
        return DType.TIMESTAMP
    errors.append(f"unsupported operation '{op.value}'")
    return NULL
