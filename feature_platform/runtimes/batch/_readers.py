"""Reading the tables back: what Dagster checks, the demo and consumers use.

The tables need no help to be read — ``pl.scan_parquet('<root>/<f>/events/*/*.parquet',
hive_partitioning=True)`` or DuckDB's ``read_parquet(..., hive_partitioning=true)`` work as they are;
these functions only restrict reads to *complete* days (those with a manifest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from feature_platform.errors import SourceDataError
from feature_platform.runtimes.batch._locations import EVENTS, SNAPSHOTS, TableLocations
from feature_platform.runtimes.batch._tables import FeatureTables


def read_events(feature_id: str, locations: TableLocations, days: Sequence[date] | None = None) -> pl.LazyFrame:
    """The events of the given complete days (default: every complete day), with the partition ``dt`` (Date).

    A requested day that is not complete (never indexed, or being re-indexed) is a
    :class:`~feature_platform.errors.SourceDataError`.
    """
    tables = FeatureTables(feature_id, locations)
    if days is None:
        wanted = tables.complete_days()
    else:
        wanted = sorted(set(days))
        tables.require_complete(wanted)
    if not wanted:
        msg = f"feature {feature_id} has no indexed day at {locations.feature_root(feature_id)}"
        raise SourceDataError(msg)
    return pl.scan_parquet(
        [tables.path(EVENTS, d) for d in wanted],
        storage_options=locations.storage_options,
        hive_partitioning=True,
    )


def read_snapshot(feature_id: str, day: date, locations: TableLocations) -> pl.DataFrame:
    """The sequence snapshot as of the end of ``day`` (long form, sorted by user and position)."""
    tables = FeatureTables(feature_id, locations)
    tables.require_complete([day], SNAPSHOTS)
    return pl.read_parquet(tables.path(SNAPSHOTS, day), storage_options=locations.storage_options)
