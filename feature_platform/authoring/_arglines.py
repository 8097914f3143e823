"""The line of one argument of a config object's constructor call, from the source file's syntax tree.

The definition site records the constructor call's span; this module parses the file once (cached by
path, size and mtime) and walks from the call to the keyword, the tuple element or the dict entry that an
error is about, so an error points at the line to fix rather than at the call's first line.
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
    calls = _calls(site.file, stat.st_size, stat.st_mtime_ns)
    node: ast.AST | None = calls.get(site.call)
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


@lru_cache(maxsize=256)
def _calls(file: str, size: int, mtime_ns: int) -> dict[tuple[int, int, int, int], ast.Call]:
    del size, mtime_ns  # cache keys only
    try:
        with open(file, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=file)
    except (OSError, SyntaxError, ValueError):
        return {}
    return {
        (n.lineno, n.end_lineno or n.lineno, n.col_offset, n.end_col_offset or 0): n
        for n in ast.walk(tree) if isinstance(n, ast.Call)
    }
