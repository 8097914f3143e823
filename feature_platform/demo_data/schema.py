"""The raw schemas the demo data is written with.

These are the demo data package's own constants: it must not import ``feature_configs``, the authoring
API or the compiler (the import-linter contract). ``tests/demo_data`` checks that they equal the
sources of the compiled example artefacts, so a drift between the two is caught there.
"""

from __future__ import annotations

import polars as pl

ENGAGEMENT_EVENTS = "engagement_events"
SEARCH_EVENTS = "search_events"
ITEM_EMBEDDINGS = "item_embeddings"
ITEM_CATEGORIES = "item_categories"

EVENT_TABLES: tuple[str, ...] = (ENGAGEMENT_EVENTS, SEARCH_EVENTS)
LOOKUP_TABLES: tuple[str, ...] = (ITEM_EMBEDDINGS, ITEM_CATEGORIES)
ALL_TABLES: tuple[str, ...] = EVENT_TABLES + LOOKUP_TABLES

PARTITION_KEY = "dt"
"""Hive partition column of the event tables: ``<table>/dt=YYYY-MM-DD/part-NNNNN.parquet``."""

EMBEDDING_DIM = 32

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    ENGAGEMENT_EVENTS: {
        "event_id": pl.String(),
        "user_id": pl.Int64(),
        "pin_id": pl.Int64(),
        "action": pl.String(),
        "event_ts_ms": pl.Int64(),
        "surface": pl.String(),
        "device": pl.String(),
        "country": pl.String(),
        "dwell_ms": pl.Int64(),
    },
    SEARCH_EVENTS: {
        "query_id": pl.String(),
        "user_id": pl.Int64(),
        "query_text": pl.String(),
        "event_time": pl.String(),
        "surface": pl.String(),
        "device": pl.String(),
        "country": pl.String(),
        "num_results": pl.Int64(),
    },
    ITEM_EMBEDDINGS: {
        "item_id": pl.Int64(),
        "embedding": pl.List(pl.Float32()),
    },
    ITEM_CATEGORIES: {
        "item_id": pl.Int64(),
        "category": pl.String(),
        "subcategory": pl.String(),
    },
}
"""Column name -> polars type, in the order the columns are written."""

ID_COLUMN: dict[str, str] = {ENGAGEMENT_EVENTS: "event_id", SEARCH_EVENTS: "query_id"}
TIME_COLUMN: dict[str, str] = {ENGAGEMENT_EVENTS: "event_ts_ms", SEARCH_EVENTS: "event_time"}

_LOGICAL: dict[pl.DataType, str] = {
    pl.String(): "string",
    pl.Int64(): "int64",
    pl.Int32(): "int32",
    pl.Float32(): "float32",
    pl.Float64(): "float64",
    pl.Boolean(): "bool",
    pl.List(pl.Float32()): "list[float32]",
    pl.List(pl.Int64()): "list[int64]",
    pl.List(pl.String()): "list[string]",
}


def logical_dtype(dtype: pl.DataType) -> str:
    """The platform's logical type name (``"int64"``, ``"list[float32]"``...) of a polars type."""
    try:
        return _LOGICAL[dtype]
    except KeyError:
        msg = f"no logical type for polars type {dtype}"
        raise ValueError(msg) from None


def logical_schema(table: str) -> dict[str, str]:
    """Column name -> logical type name of one demo table."""
    return {name: logical_dtype(dtype) for name, dtype in SCHEMAS[table].items()}
