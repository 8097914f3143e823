"""Logical :class:`~feature_platform.artefact.DType` → polars dtype, in one table.

Timestamps are always ``Datetime("us", "UTC")``: every runtime compares, sorts and writes them in UTC
with microsecond precision, whatever the raw data carried.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.format import ColumnSpec

TIMESTAMP = pl.Datetime("us", "UTC")
"""The one timestamp type of the engine."""

_POLARS: dict[DType, pl.DataType] = {
    DType.STRING: pl.String(),
    DType.INT32: pl.Int32(),
    DType.INT64: pl.Int64(),
    DType.FLOAT32: pl.Float32(),
    DType.FLOAT64: pl.Float64(),
    DType.BOOL: pl.Boolean(),
    DType.TIMESTAMP: TIMESTAMP,
    DType.DATE: pl.Date(),
    DType.LIST_FLOAT32: pl.List(pl.Float32),
    DType.LIST_INT64: pl.List(pl.Int64),
    DType.LIST_STRING: pl.List(pl.String),
}


def to_polars_dtype(dtype: DType) -> pl.DataType:
    """The polars dtype a column of logical type ``dtype`` has in every engine frame."""
    return _POLARS[dtype]


def polars_schema(columns: Iterable[ColumnSpec]) -> pl.Schema:
    """A polars schema for ``columns``, in their order."""
    return pl.Schema([(c.name, to_polars_dtype(c.dtype)) for c in columns])


def empty_frame(columns: Iterable[ColumnSpec]) -> pl.DataFrame:
    """A zero-row frame with the schema of ``columns`` (for a source that has no data in a batch)."""
    return pl.DataFrame(schema=polars_schema(columns))
