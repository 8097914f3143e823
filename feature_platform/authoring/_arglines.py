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

_SEGMENT = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def argument_line(site: SourceLocation, path: str) -> int | None:
    if site.call is None:
        return None
    try:
        stat = os.stat(site.file)
    except OSError:
        return None
    node: ast.AST | None = _nodes(site.file, stat.st_size, stat.st_mtime_ns).get(site.call)
    if node is None:
        return None
    descended = False
    for match in _SEGMENT.finditer(path):
        key, index = match.group(1), match.group(2)
        child = _child(node, key, int(index) if index is not None else None)
        if child is None:
            break
        node, descended = child, True
    return getattr(node, "lineno", None) if descended else None


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
