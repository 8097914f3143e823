"""Terse builders of expression nodes for tests (the engine never sees the authoring API)."""

from __future__ import annotations

from typing import Any

from feature_platform.artefact import DType, ExprNode, ExprOp


def col(name: str) -> ExprNode:
    return ExprNode(op=ExprOp.COL, name=name)


def lit(value: Any, dtype: DType | None = None) -> ExprNode:
    return ExprNode(op=ExprOp.LIT, value=value, dtype=dtype)


def node(op: ExprOp, *args: ExprNode, **extra: Any) -> ExprNode:
    return ExprNode(op=op, args=args, **extra)


def cast(arg: ExprNode, dtype: DType) -> ExprNode:
    return node(ExprOp.CAST, arg, dtype=dtype)
