"""The line of one argument of a config object's constructor call, from the source file's syntax tree.

The definition site records the constructor call's span; this module parses the file once (cached by
path, size and mtime) and walks from the call to the keyword, the tuple element or the dict entry that an
error is about, so an error points at the line to fix rather than at the call's first line.

A site's span may also be that of a value built apart from the call (a dict literal a helper function
returns, a module-level constant): the walk then starts at that expression, so an error inside a shared
value points into the helper that built it.
"""

from __future__ import annotations

import ast
import os
import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feature_platform.authoring._base import SourceLocation

_SEGMENT = re.compile(r"\.args\[(\d+)\]|\.?([^.\[\]]+)|\[(\d+)\]")
"""A path segment: an operand of an expression (``.args[1]``), a keyword or dict key, or a tuple index."""


def argument_line(site: SourceLocation, path: str) -> int | None:
    node = _argument_node(site, path)
    return getattr(node, "lineno", None) if node is not None else None


def argument_span(site: SourceLocation, path: str) -> Span | None:
    """The span of the value written for the argument at ``path`` of the call at ``site`` (for a keyword, its
    value), or None when it is not written out there."""
    node = _argument_node(site, path)
    if isinstance(node, ast.keyword):
        node = node.value
    return _span(node) if isinstance(node, ast.expr) else None


def _argument_node(site: SourceLocation, path: str) -> ast.AST | None:
    if site.call is None:
        return None
    node: ast.AST | None = _nodes_of(site.file).get(site.call)
    if node is None:
        return None
    descended = False
    for match in _SEGMENT.finditer(path):
        operand, key, index = match.group(1), match.group(2), match.group(3)
        if operand is not None:
            child = _operand(node, int(operand))
        else:
            child = _child(node, key, int(index) if index is not None else None)
        if child is None:
            break
        node, descended = child, True
    return node if descended else None


def _operand(node: ast.AST, index: int) -> ast.AST | None:
    """Operand ``index`` of an expression written with an operator (``a & b``, ``a + b``, ``~a``), which builds
    the node with its operands in the written order; else None (a method call or a reflected comparison
    such as ``3 == col("x")`` may reorder them)."""
    if isinstance(node, ast.keyword):
        node = node.value
    if isinstance(node, ast.BinOp) and index in (0, 1):
        return node.left if index == 0 else node.right
    if isinstance(node, ast.UnaryOp) and index == 0:
        return node.operand
    return None


def _child(node: ast.AST, key: str | None, index: int | None) -> ast.AST | None:
    if isinstance(node, ast.keyword):
        node = node.value
    if index is not None:
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and 0 <= index < len(node.elts):
            if any(isinstance(e, ast.Starred) for e in node.elts[: index + 1]):
                return None
            return node.elts[index]
        return None
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg == key:
                return keyword
        for keyword in node.keywords:  # ``obj.model_copy(update={"max_length": 0})``: the key in the update
            if keyword.arg == "update" and isinstance(keyword.value, ast.Dict):
                return _child(keyword.value, key, None)
        return None
    if isinstance(node, ast.Dict):
        for k in node.keys:
            if isinstance(k, ast.Constant) and k.value == key:
                return k
        return None
    return None


Span = tuple[int, int, int, int]
"""(line, end line, column, end column): the order of ``code.co_positions()``."""


def _span(node: ast.AST) -> Span:
    return (node.lineno, node.end_lineno or node.lineno, node.col_offset, node.end_col_offset or 0)  # type: ignore[attr-defined]


def node_at(file: str, span: Span) -> ast.AST | None:
    """The expression of ``file`` at ``span``, if the file can be read."""
    return _nodes_of(file).get(span)


def _nodes_of(file: str) -> dict[Span, ast.AST]:
    try:
        stat = os.stat(file)
    except OSError:
        return {}
    return _nodes(file, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _nodes(file: str, size: int, mtime_ns: int) -> dict[Span, ast.AST]:
    """Every expression of the file by its span (a constructor call, a dict a helper returns...); the
    outermost wins a tie."""
    del size, mtime_ns  # cache keys only
    try:
        with open(file, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=file)
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[Span, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.expr):
            found.setdefault(_span(node), node)
    return found
