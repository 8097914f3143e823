"""Validation of normalised events, and the stable schema of the rows it rejects.

A row an event type selects is *malformed* when any of these holds; it then goes to the rejects
frame (the batch indexer's rejects table, the streaming indexer's dead-letter store) and is never
silently dropped. A rejected row has **exactly one reason**: the first of this table that applies, so
a day's rejects counted per reason add up to its rejects (the raw row, kept whole as JSON, shows
whatever else is wrong with it):

=====================================  ==========================================================
reason, in order                       when
=====================================  ==========================================================
``<column> out of range for <type>``   the raw ``<column>`` holds an integer its declared type
                                       cannot hold (e.g. an int64 file column declared ``int32``,
                                       a ``UInt64`` 2^64-1 declared ``int64``); the first such
                                       column in the source's column order. First, because every
                                       field computed from that value would otherwise read as a
                                       null: an overflowing ``user_id`` is not a ``null user_id``
``null event_id``                      the normalised ``event_id`` is null
``null user_id``                       the normalised entity key is null
``null timestamp``                     the ``timestamp`` is null and every raw column it is
                                       computed from is null
``unparseable timestamp``              the ``timestamp`` is null although a raw column it is
                                       computed from is not (a cast or conversion failed)
``timestamp before 2000-01-01``        ``timestamp < 2000-01-01T00:00:00Z``
``timestamp after max_event_time``     ``timestamp > max_event_time`` (only when one is given)
``null <column>``                      the raw ``<column>``, declared ``nullable=False`` in its
                                       source, is null (the first such column in the source's
                                       column order)
=====================================  ==========================================================

The first and the last are checks of the source's declared schema, made when raw Parquet files are read
and on each decoded streaming micro-batch, by the same code (:func:`feature_platform.engine.io.split_rows`,
:func:`feature_platform.engine.io.contract_rejects`); the others are the plan's own (:func:`reason_expr`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from feature_platform._days import FIRST_DAY
from feature_platform.artefact.format import ColumnSpec
from feature_platform.engine.dtypes import TIMESTAMP

MIN_EVENT_TIME = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
"""Events before this are rejected as out of range (clients with a broken clock)."""

NULL_EVENT_ID = "null event_id"
NULL_USER_ID = "null user_id"
NULL_TIMESTAMP = "null timestamp"
UNPARSEABLE_TIMESTAMP = "unparseable timestamp"
TOO_OLD = "timestamp before 2000-01-01"
TOO_NEW = "timestamp after max_event_time"
REASONS = (NULL_EVENT_ID, NULL_USER_ID, NULL_TIMESTAMP, UNPARSEABLE_TIMESTAMP, TOO_OLD, TOO_NEW)
"""The plan's reasons, in order: a row gets the first that applies."""
REASON_SEPARATOR = "; "
"""Joins the source reasons of a row in :data:`feature_platform.engine.io.SOURCE_REASON` (never in a reject)."""


def null_column_reason(column: str) -> str:
    """The reason of a null in the raw ``column`` declared ``nullable=False``: ``null <column>``."""
    return f"null {column}"


def out_of_range_reason(column: str, spec: ColumnSpec) -> str:
    """The reason of a raw integer its declared type cannot hold: ``<column> out of range for <type>``."""
    return f"{column} out of range for {spec.dtype}"


INGEST_DAY = "_ingest_day"
"""Framework column: the day partition a raw row was read from (Date), carried to events and rejects."""

REJECTS_SCHEMA = pl.Schema(
    [
        ("event_type", pl.String()),
        ("source", pl.String()),
        ("reason", pl.String()),
        ("event_id", pl.String()),
        ("user_id", pl.String()),
        ("raw", pl.String()),
    ]
)
"""Columns of every rejects frame, in order; ``_ingest_day`` (Date) follows when the input has it.

``event_id`` and ``user_id`` are the normalised values as strings (either may be null); ``raw`` is
the raw row as a JSON object (polars ``struct.json_encode``), so nothing about it is lost.
"""


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def reason_expr(
    *,
    event_id: str,
    user_id: str,
    timestamp: str,
    timestamp_inputs_null: pl.Expr,
    max_event_time: datetime | None,
) -> pl.Expr:
    """The ``reason`` of each row: null when the row is valid, else the first reason that applies (the
    order of :data:`REASONS`).

    ``timestamp_inputs_null`` is true when every raw column the timestamp is computed from is null.
    """
    ts = pl.col(timestamp)
    checks: list[tuple[pl.Expr, str]] = [
        (pl.col(event_id).is_null(), NULL_EVENT_ID),
        (pl.col(user_id).is_null(), NULL_USER_ID),
        (ts.is_null() & timestamp_inputs_null, NULL_TIMESTAMP),
        (ts.is_null() & ~timestamp_inputs_null, UNPARSEABLE_TIMESTAMP),
        (ts < pl.lit(MIN_EVENT_TIME, dtype=TIMESTAMP), TOO_OLD),
    ]
    if max_event_time is not None:
        checks.append((ts > pl.lit(as_utc(max_event_time), dtype=TIMESTAMP), TOO_NEW))
    return pl.coalesce([pl.when(condition.fill_null(False)).then(pl.lit(reason)) for condition, reason in checks])
