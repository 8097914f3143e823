"""Property: the polars translation and the pure-Python reference agree on random trees and rows."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feature_platform.artefact import ExprNode
from feature_platform.engine import to_polars, to_polars_dtype
from tests.engine.strategies import COLUMNS, ROW, exprs
from tests.reference import canonical, evaluate

KINDS = ["int", "float", "str", "bool", "ts"]


def _engine(expr: ExprNode, rows: list[dict[str, Any]]) -> list[Any]:
    frame = pl.DataFrame(rows, schema={k: to_polars_dtype(v) for k, v in COLUMNS.items()})
    return frame.lazy().with_columns(to_polars(expr, COLUMNS).alias("__out")).collect()["__out"].to_list()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rows=st.lists(ROW, min_size=1, max_size=6))
def test_engine_agrees_with_reference(data: st.DataObject, rows: list[dict[str, Any]]) -> None:
    kind = data.draw(st.sampled_from(KINDS), label="kind")
    expr = data.draw(exprs(kind), label="expr")
    engine = _engine(expr, rows)
    reference = [evaluate(expr, row) for row in rows]
    for row, got, want in zip(rows, engine, reference, strict=True):
        assert canonical(got) == canonical(want), f"{expr.render()} on {row}: engine {got!r}, reference {want!r}"
