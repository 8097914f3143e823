"""The declarative expression language configs use for filters, mappings and derived fields.

An :class:`Expr` only *describes* a computation: operators build an :class:`ExprNode` tree that
serialises to JSON, is type-checked against a source schema by the compiler, and is turned into a
polars expression by the engine. It never runs Python on event payloads, which is what keeps configs
portable across runtimes; logic that cannot be said this way belongs in an executor plugin.

>>> (col("action") == "save") & col("dwell_ms").is_not_null()
((col('action') == 'save') & is_not_null(col('dwell_ms')))
"""

from __future__ import annotations

import ast
import datetime
import linecache
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.expressions import ExprNode, ExprOp, JsonScalar
from feature_platform.errors import ConfigDefinitionError

BOUNDARY_HINT = (
    "Configs are declarative: filters, mappings and derived fields must be expressions built with "
    "col(), lit(), when(), operators and the .str/.dt helpers, so every runtime can run them from the "
    "compiled JSON. Logic that needs real Python belongs in an executor plugin registered in "
    "feature_platform.plugins and referenced from config by name with parameters."
)


MAX_EXPRESSION_DEPTH = 100
"""How deeply one expression may nest. Every runtime (the engine's translator, the type checker, JSON
readers in other languages) walks the tree recursively; a tree deeper than this is refused when the config
object is built, with a message, instead of overflowing a stack somewhere later."""


def expression_depth(node: ExprNode) -> int:
    """The number of levels of ``node``'s tree (a column is 1), computed without recursion."""
    deepest = 0
    stack: list[tuple[ExprNode, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((arg, depth + 1) for arg in current.args)
    return deepest


INT64_RANGE = (-(2**63), 2**63 - 1)


def _check_int(value: object, where: str) -> None:
    """Integers in configs are 64-bit (the engine's int64, the artefact's JSON); a larger one is refused."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
        shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:10]}…({len(str(value))} digits)"
        msg = f"{where} {shown} is outside the 64-bit integer range (-2**63 .. 2**63-1) every runtime uses"
        raise ConfigDefinitionError(msg)


def _to_node(value: object) -> ExprNode:
    if isinstance(value, Expr):
        return value.node
    if isinstance(value, ExprNode):
        return value
    if value is None or isinstance(value, str | bool | int | float):
        return lit(value).node
    if callable(value):
        msg = f"a Python callable ({callable_name(value)}) cannot be used in an expression. {BOUNDARY_HINT}"
        raise ConfigDefinitionError(msg)
    shown = value if isinstance(value, datetime.timedelta | datetime.date) else repr(value)
    if " at 0x" in str(shown):
        shown = "an object"
    msg = f"cannot use {type(value).__name__} value {shown} in an expression; {BOUNDARY_HINT}"
    raise ConfigDefinitionError(msg)


def _dtype(value: object, where: str) -> DType:
    """``value`` as a DType, or an error naming the types (and the one probably meant: "int" -> int64)."""
    try:
        return DType(value)  # type: ignore[arg-type]  # anything a config passes; refused below
    except ValueError:
        pass
    import difflib

    options = [d.value for d in DType]
    text = value.__name__ if isinstance(value, type) else str(value)
    close = difflib.get_close_matches(text, options, n=1, cutoff=0.6)
    close = close or [o for o in options if o.startswith(text)][:1] if text else close
    mean = f"; did you mean '{close[0]}'?" if close else ""
    shown = f"the Python type {text}" if isinstance(value, type) else repr(value)
    msg = f"{where}: {shown} is not a type (one of {', '.join(options)}){mean}"
    raise ConfigDefinitionError(msg)


def callable_name(value: object) -> str:
    """A callable as a config author wrote it (``.str.lower`` not called, ``my_function``), never its repr (which
    holds a memory address)."""
    owner = getattr(value, "__self__", None)
    name = getattr(value, "__name__", type(value).__name__)
    if isinstance(owner, StringFunctions | TimestampFunctions):
        accessor = "str" if isinstance(owner, StringFunctions) else "dt"
        return f".{accessor}.{name} without its parentheses: call it, .{accessor}.{name}()"
    if isinstance(owner, Expr | When):
        return f".{name} without its parentheses: call it, .{name}(...)"
    if name == "<lambda>":
        return "a lambda"
    return f"{name}()" if not isinstance(value, type) else f"the class {name}"


def _binary(op: ExprOp, left: object, right: object) -> Expr:
    return Expr(ExprNode(op=op, args=(_to_node(left), _to_node(right))))


_COMPARISON_SYMBOLS = {ExprOp.EQ: "==", ExprOp.NE: "!=", ExprOp.LT: "<", ExprOp.LE: "<=", ExprOp.GT: ">",
                       ExprOp.GE: ">="}
_BOOLEAN_SYMBOLS = {ExprOp.AND: "&", ExprOp.OR: "|"}


def _compare(op: ExprOp, left: object, right: object) -> Expr:
    """A comparison, refusing the classic precedence slip ``col("a") == "x" & col("b") == "y"``, and a
    comparison with ``None`` (null compares as null, never true: the filter would drop every row).

    ``&`` and ``|`` bind tighter than comparisons, so Python reads that as ``col("a") == ("x" & col("b")) ==
    "y"``: a comparison of an ``&`` applied to a plain Python value, which no config means. It is refused
    here, with the rewrite, rather than later as a puzzling truth-value or type error."""
    for side in (left, right):
        if isinstance(side, Expr) and side.bare_literal_operand:
            raise ConfigDefinitionError(_precedence_message(op, side))
    if left is None or right is None:
        other = right if left is None else left
        test = "is_not_null" if op is ExprOp.NE else "is_null"
        msg = (f"`{_COMPARISON_SYMBOLS[op]} None` compares with null, which is never true (a null compares as "
               f"null): write {other!r}.{test}()")
        raise ConfigDefinitionError(msg)
    return _binary(op, left, right)


def _boolean(op: ExprOp, left: object, right: object) -> Expr:
    """``&`` or ``|``, remembering when a plain Python value was an operand (``"x" & col("b")``): nobody
    means that, but it is what Python makes of ``col("a") == "x" & col("b") == "y"``."""
    result = _binary(op, left, right)
    result.bare_literal_operand = any(
        side.bare_literal_operand if isinstance(side, Expr) else not isinstance(side, ExprNode)
        for side in (left, right)
    )
    return result


def _precedence_message(op: ExprOp, slip: Expr) -> str:
    symbol, boolean = _COMPARISON_SYMBOLS[op], _BOOLEAN_SYMBOLS[slip.node.op]
    head = f"`{boolean}` binds tighter than `{symbol}`"
    written = _written_comparison()
    if written is not None:
        source, reads, fix = written
        return f"{head}: `{source}` reads as `{reads}`; write {fix}"
    return f"{head}: put each comparison in parentheses, e.g. (col('a') == 'x') {boolean} (col('b') == 'y')"


_AST_SYMBOLS: dict[type, str] = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
                                 ast.GtE: ">=", ast.BitAnd: "&", ast.BitOr: "|"}


def _config_frame_node() -> tuple[ast.AST, str] | None:
    """The expression of the config frame being run (the innermost frame outside the platform), and the
    source of its file; None when that cannot be read."""
    from feature_platform.authoring._arglines import node_at

    package = str(Path(__file__).resolve().parent.parent)
    frame = sys._getframe(1)
    while frame is not None and (frame.f_code.co_filename.startswith("<") or
                                 str(Path(frame.f_code.co_filename).resolve()).startswith(package)):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    try:
        span = list(frame.f_code.co_positions())[frame.f_lasti // 2]
        file = frame.f_code.co_filename
        node = node_at(file, span)  # type: ignore[arg-type]
    except (IndexError, OSError, ValueError):
        return None
    if node is None:
        return None
    return node, "".join(linecache.getlines(file))


_TRUTH_ADVICE = "use the operators & | ~ instead of and/or/not, and when(...).then(...).otherwise(...) instead of if"


def _truth_value_slip() -> str:
    """What the config wrote that made Python ask an expression for its truth value, in its own words: ``x in
    [...]``, ``and``/``or``, ``not``, ``max()``/``min()``, ``if``; "" when that cannot be told."""
    found = _config_frame_node()
    if found is None:
        return ""
    node, source = found
    written = " ".join((ast.get_source_segment(source, node) or "").split())
    if len(written) > 80:
        written = written[:77] + "..."
    if isinstance(node, ast.Compare) and any(isinstance(o, ast.In | ast.NotIn) for o in node.ops):
        negate = "~" if any(isinstance(o, ast.NotIn) for o in node.ops) else ""
        left = " ".join((ast.get_source_segment(source, node.left) or "col(...)").split())
        return f"`{written}` asks Python, not the data: write {negate}{left}.is_in([...]) for membership in a list"
    if isinstance(node, ast.BoolOp):
        symbol = "&" if isinstance(node.op, ast.And) else "|"
        word = "and" if isinstance(node.op, ast.And) else "or"
        return (f"`{written}`: `{word}` asks Python, not the data; write {symbol}, with each comparison in "
                f"parentheses ({_TRUTH_ADVICE})")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return f"`{written}`: `not` asks Python, not the data; write ~(...) ({_TRUTH_ADVICE})"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("max", "min", "sorted"):
        return (f"`{written}`: {node.func.id}() compares in Python, not over the data; write "
                "when(a > b).then(a).otherwise(b)")
    return ""


def _written_comparison() -> tuple[str, str, str] | None:
    """The comparison as the config wrote it, as Python reads it, and as it was meant — from the source line
    of the config frame making it; None when the source cannot be read."""
    found = _config_frame_node()
    if found is None:
        return None
    node, source = found
    if not isinstance(node, ast.Compare):
        return None
    try:
        def text(part: ast.AST) -> str:
            segment = ast.get_source_segment(source, part)
            if segment is None:
                raise ValueError
            return " ".join(segment.split())

        def operand(part: ast.expr) -> str:  # an operand that is itself a comparison keeps its parentheses
            return f"({text(part)})" if isinstance(part, ast.Compare | ast.BoolOp | ast.IfExp) else text(part)

        groups: list[list[str]] = [[operand(node.left)]]
        joins: list[str] = []
        reads = [text(node.left)]
        for operator, comparator in zip(node.ops, node.comparators, strict=True):
            symbol = _AST_SYMBOLS[type(operator)]
            leaves, ops = _boolean_chain(comparator)
            reads += [symbol, f"({text(comparator)})" if ops else text(comparator)]
            groups[-1] += [symbol, operand(leaves[0])]
            for boolean, leaf in zip(ops, leaves[1:], strict=True):
                joins.append(boolean)
                groups.append([operand(leaf)])
        parts = [f"({' '.join(g)})" if len(g) > 1 else g[0] for g in groups]
        fix = parts[0] + "".join(f" {j} {p}" for j, p in zip(joins, parts[1:], strict=True))
        return text(node), " ".join(reads), fix
    except (KeyError, ValueError, IndexError, TypeError):
        return None


def _boolean_chain(node: ast.expr) -> tuple[list[ast.expr], list[str]]:
    """``a & b | c`` as its leaves [a, b, c] and operators ["&", "|"] (left-associative chain)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
        leaves, ops = _boolean_chain(node.left)
        return [*leaves, node.right], [*ops, _AST_SYMBOLS[type(node.op)]]
    return [node], []


class Expr:
    """A node of the expression tree, with operators that build larger trees."""

    __slots__ = ("bare_literal_operand", "node")
    __hash__ = None  # type: ignore[assignment]  # == builds an expression, so Expr cannot be hashed

    def __init__(self, node: ExprNode) -> None:
        self.node = node
        self.bare_literal_operand = False  # an & or | with a plain Python value as an operand (see _boolean)

    def __repr__(self) -> str:
        return self.node.render()

    def __bool__(self) -> bool:
        msg = (
            f"the truth value of expression {self!r} is unknown when the config is written; use the "
            "operators & | ~ instead of and/or/not, and when(...).then(...).otherwise(...) instead of if"
        )
        raise ConfigDefinitionError(_truth_value_slip() or msg)

    def __len__(self) -> int:
        msg = (f"len({self!r}) asks Python, not the data: use {self!r}.str.len() for the length of a string "
               "field")
        raise ConfigDefinitionError(msg)

    def __contains__(self, item: object) -> bool:
        msg = (f"`{item!r} in {self!r}` asks Python, not the data: use {self!r}.str.contains({item!r}) for a "
               f"substring, or {self!r}.is_in([...]) for membership in a list of values")
        raise ConfigDefinitionError(msg)

    def __iter__(self) -> Any:
        msg = f"expression {self!r} cannot be iterated when the config is written; use .is_in([...]) or a plugin"
        raise ConfigDefinitionError(msg)

    # comparisons
    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return _compare(ExprOp.EQ, self, other)

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return _compare(ExprOp.NE, self, other)

    def __lt__(self, other: object) -> Expr:
        return _compare(ExprOp.LT, self, other)

    def __le__(self, other: object) -> Expr:
        return _compare(ExprOp.LE, self, other)

    def __gt__(self, other: object) -> Expr:
        return _compare(ExprOp.GT, self, other)

    def __ge__(self, other: object) -> Expr:
        return _compare(ExprOp.GE, self, other)

    # boolean logic
    def __and__(self, other: object) -> Expr:
        return _boolean(ExprOp.AND, self, other)

    def __rand__(self, other: object) -> Expr:
        return _boolean(ExprOp.AND, other, self)

    def __or__(self, other: object) -> Expr:
        return _boolean(ExprOp.OR, self, other)

    def __ror__(self, other: object) -> Expr:
        return _boolean(ExprOp.OR, other, self)

    def __invert__(self) -> Expr:
        return Expr(ExprNode(op=ExprOp.NOT, args=(self.node,)))

    # arithmetic
    def __add__(self, other: object) -> Expr:
        return _binary(ExprOp.ADD, self, other)

    def __radd__(self, other: object) -> Expr:
        return _binary(ExprOp.ADD, other, self)

    def __sub__(self, other: object) -> Expr:
        return _binary(ExprOp.SUB, self, other)

    def __rsub__(self, other: object) -> Expr:
        return _binary(ExprOp.SUB, other, self)

    def __mul__(self, other: object) -> Expr:
        return _binary(ExprOp.MUL, self, other)

    def __rmul__(self, other: object) -> Expr:
        return _binary(ExprOp.MUL, other, self)

    def __truediv__(self, other: object) -> Expr:
        return _binary(ExprOp.DIV, self, other)

    def __rtruediv__(self, other: object) -> Expr:
        return _binary(ExprOp.DIV, other, self)

    def __mod__(self, other: object) -> Expr:
        return _binary(ExprOp.MOD, self, other)

    def __neg__(self) -> Expr:
        return Expr(ExprNode(op=ExprOp.NEG, args=(self.node,)))

    # membership, nulls, casts
    def is_in(self, values: Iterable[JsonScalar]) -> Expr:
        """Membership in a list of literal values. Only a list or a tuple is taken: a string would be split
        into its characters, and a set (or a generator over one) has no fixed order, so the compiled
        artefact, and its hash, would change from run to run."""
        if isinstance(values, str | bytes):
            msg = f"is_in() takes a list of values, got the string {values!r}; did you mean [{values!r}]?"
            raise ConfigDefinitionError(msg)
        if not isinstance(values, list | tuple):
            what = "a set" if isinstance(values, set | frozenset) else f"a {type(values).__name__}"
            msg = (f"is_in() takes a list of values, got {what}; a set, dict view or generator has no fixed "
                   "order, so the compiled artefact would change from run to run: write a list, e.g. "
                   "[\"a\", \"b\"] (or sorted(...))")
            raise ConfigDefinitionError(msg)
        items = tuple(values)
        for item in items:
            if item is not None and not isinstance(item, str | bool | int | float):
                if isinstance(item, list | tuple | set | frozenset | dict):
                    inner = "a set" if isinstance(item, set | frozenset) else f"a {type(item).__name__}"
                    msg = (f"is_in() takes a flat list of literal values, got {inner} inside the list: write the "
                           "values themselves, e.g. .is_in([\"a\", \"b\"])")
                else:
                    what = repr(item) if isinstance(item, Expr) else f"a value of type {type(item).__name__}"
                    msg = (f"is_in() takes literal values only (strings, numbers, booleans, None), got {what}; "
                           "to compare with another field, use == and |")
                raise ConfigDefinitionError(msg)
            if isinstance(item, float) and not math.isfinite(item):
                msg = f"is_in() values must be finite (JSON cannot hold {item!r})"
                raise ConfigDefinitionError(msg)
            _check_int(item, "is_in() value")
        return Expr(ExprNode(op=ExprOp.IS_IN, args=(self.node,), values=items))

    def is_null(self) -> Expr:
        return Expr(ExprNode(op=ExprOp.IS_NULL, args=(self.node,)))

    def is_not_null(self) -> Expr:
        return Expr(ExprNode(op=ExprOp.IS_NOT_NULL, args=(self.node,)))

    def cast(self, dtype: DType | str) -> Expr:
        return Expr(ExprNode(op=ExprOp.CAST, args=(self.node,), dtype=_dtype(dtype, "cast()")))

    def fill_null(self, value: object) -> Expr:
        return coalesce(self, value)

    @property
    def str(self) -> StringFunctions:
        return StringFunctions(self)

    @property
    def dt(self) -> TimestampFunctions:
        return TimestampFunctions(self)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Let config models hold expressions: accept an Expr (or a bare literal), dump the JSON tree."""
        return core_schema.no_info_plain_validator_function(
            lambda v: v if isinstance(v, Expr) else Expr(_to_node(v)),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda e: e.node.model_dump(mode="json", exclude_defaults=True)
            ),
        )


class StringFunctions:
    """``expr.str.*``: string functions."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def _unary(self, op: ExprOp) -> Expr:
        return Expr(ExprNode(op=op, args=(self._expr.node,)))

    def _predicate(self, op: ExprOp, literal: str) -> Expr:
        if not isinstance(literal, str):
            scalar = isinstance(literal, int | float | bool) or literal is None
            shown = repr(literal) if scalar else type(literal).__name__
            msg = f".str.{op.value.removeprefix('str_')}() takes a string literal, got {shown}"
            raise ConfigDefinitionError(msg)
        return Expr(ExprNode(op=op, args=(self._expr.node,), value=literal))

    def lower(self) -> Expr:
        return self._unary(ExprOp.STR_LOWER)

    def upper(self) -> Expr:
        return self._unary(ExprOp.STR_UPPER)

    def strip(self) -> Expr:
        return self._unary(ExprOp.STR_STRIP)

    def len(self) -> Expr:
        return self._unary(ExprOp.STR_LEN)

    def contains(self, literal: str) -> Expr:
        return self._predicate(ExprOp.STR_CONTAINS, literal)

    def starts_with(self, literal: str) -> Expr:
        return self._predicate(ExprOp.STR_STARTS_WITH, literal)

    def ends_with(self, literal: str) -> Expr:
        return self._predicate(ExprOp.STR_ENDS_WITH, literal)


class TimestampFunctions:
    """``expr.dt.*``: timestamp functions (UTC)."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def _unary(self, op: ExprOp) -> Expr:
        return Expr(ExprNode(op=op, args=(self._expr.node,)))

    def hour(self) -> Expr:
        return self._unary(ExprOp.TS_HOUR)

    def weekday(self) -> Expr:
        """ISO weekday, Monday = 1."""
        return self._unary(ExprOp.TS_WEEKDAY)

    def date(self) -> Expr:
        return self._unary(ExprOp.TS_DATE)

    def epoch_ms(self) -> Expr:
        return self._unary(ExprOp.TS_TO_EPOCH_MS)


def col(name: str) -> Expr:
    """A column of the input: a raw source column in mappings and filters, a normalised field elsewhere."""
    if not isinstance(name, str) or not name:
        msg = f"col() takes a non-empty column name, got {name!r}"
        raise ConfigDefinitionError(msg)
    return Expr(ExprNode(op=ExprOp.COL, name=name))


def lit(value: JsonScalar, dtype: DType | str | None = None) -> Expr:
    """A literal. Its type is inferred from the Python value unless ``dtype`` says otherwise."""
    if value is not None and not isinstance(value, str | bool | int | float):
        _to_node(value)  # raises the specific error
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"{value!r} literals are not allowed (JSON cannot hold them); use lit(None) for a missing value"
        raise ConfigDefinitionError(msg)
    _check_int(value, "integer literal")
    return Expr(ExprNode(op=ExprOp.LIT, value=value, dtype=_dtype(dtype, "lit()") if dtype is not None else None))


def coalesce(*exprs: object) -> Expr:
    """The first non-null of ``exprs``."""
    if len(exprs) < 2:
        msg = "coalesce() needs at least two expressions"
        raise ConfigDefinitionError(msg)
    return Expr(ExprNode(op=ExprOp.COALESCE, args=tuple(_to_node(e) for e in exprs)))


def concat(*exprs: object) -> Expr:
    """String concatenation of ``exprs`` (null if any is null)."""
    if len(exprs) < 2:
        msg = "concat() needs at least two expressions"
        raise ConfigDefinitionError(msg)
    return Expr(ExprNode(op=ExprOp.STR_CONCAT, args=tuple(_to_node(e) for e in exprs)))


def from_epoch_ms(expr: object) -> Expr:
    """A timestamp from integer milliseconds since the Unix epoch."""
    return Expr(ExprNode(op=ExprOp.TS_FROM_EPOCH_MS, args=(_to_node(expr),)))


class When:
    """Builder for ``when(c1).then(v1).when(c2).then(v2).otherwise(v)``."""

    __slots__ = ("_branches", "_pending")

    def __init__(self, branches: tuple[ExprNode, ...], pending: ExprNode | None) -> None:
        self._branches = branches
        self._pending = pending

    def then(self, value: object) -> When:
        if self._pending is None:
            msg = "then() must follow when()"
            raise ConfigDefinitionError(msg)
        return When((*self._branches, self._pending, _to_node(value)), None)

    def when(self, condition: object) -> When:
        if self._pending is not None:
            msg = "when() must be followed by then() before another when()"
            raise ConfigDefinitionError(msg)
        return When(self._branches, _to_node(condition))

    def otherwise(self, value: object) -> Expr:
        if self._pending is not None or not self._branches:
            msg = "otherwise() must follow when(...).then(...)"
            raise ConfigDefinitionError(msg)
        return Expr(ExprNode(op=ExprOp.WHEN, args=(*self._branches, _to_node(value))))


def when(condition: object) -> When:
    """Start a conditional: ``when(cond).then(value)...otherwise(default)``."""
    return When((), _to_node(condition))
