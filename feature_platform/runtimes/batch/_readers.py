"""Reading the tables back: what Dagster checks, the demo and consumers use.

The tables need no help to be read — ``pl.scan_parquet('<root>/<f>/events/*/*.parquet',
hive_partitioning=True)`` or DuckDB's ``read_parquet(..., hive_partitioning=true)`` work as they are;
these functions only restrict reads to *complete* days (those with a manifest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine import events_schema
from feature_platform.errors import SourceDataError, StaleSnapshotError
from feature_platform.runtimes.batch._completeness import day_start, retention_first_day
from feature_platform.runtimes.batch._locations import EVENTS, SNAPSHOTS, TableLocations
from feature_platform.runtimes.batch._snapshot import recompute, snapshot_schema
from feature_platform.runtimes.batch._tables import FeatureTables, damaged_table_message


def recompute_snapshot(artefact: Artefact, tables: FeatureTables, day: date) -> pl.DataFrame:
    """snapshot(``day``) from the complete events partitions of its window, as they are now."""
    end = day_start(day + timedelta(days=1))
    first = retention_first_day(end, artefact)
    events = tables.scan_days(EVENTS, tables.events_shas(first, day), events_schema(artefact)).collect()
    ranges = list(recompute(artefact, events, end))
    return pl.concat(ranges, how="vertical") if ranges else pl.DataFrame(schema=snapshot_schema(artefact))


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


def read_snapshot(
    feature_id: str, day: date, locations: TableLocations, *, recompute_with: Artefact | None = None
) -> pl.DataFrame:
    """The sequence snapshot as of the end of ``day`` (long form, sorted by user and position).

    A snapshot whose recorded inputs no longer hold — a day of its window was re-indexed after it was
    built — is refused with :class:`~feature_platform.errors.StaleSnapshotError` naming the days to
    re-index, unless ``recompute_with`` (the feature's artefact) is given: then the sequences are
    recomputed from the current events partitions of the window (in memory), exactly as the indexer would.
    """
    tables = FeatureTables(feature_id, locations)
    tables.require_complete([day], SNAPSHOTS)
    changed = tables.changed_inputs(day)
    if not changed:
        path = tables.path(SNAPSHOTS, day)
        try:
            return pl.read_parquet(path, storage_options=locations.storage_options)
        except (pl.exceptions.PolarsError, OSError) as exc:
            where = f"the snapshot of {feature_id} for {day.isoformat()}, {path},"
            msg = (f"{damaged_table_message(where, exc)} (feature-platform batch-index --feature {feature_id} "
                   f"--date {day.isoformat()})")
            raise SourceDataError(msg) from exc
    if recompute_with is None:
        first, last = changed[0] + timedelta(days=1), day
        listed = ", ".join(d.isoformat() for d in changed[:5]) + (" …" if len(changed) > 5 else "")
        msg = (
            f"the snapshot of {feature_id} for {day.isoformat()} is stale: the events of {listed} changed after "
            f"it was built; re-index {first.isoformat()}..{last.isoformat()} "
            f"(feature-platform batch-index --feature {feature_id} --date {first.isoformat()} --to {last.isoformat()})"
        )
        raise StaleSnapshotError(msg, reindex_from=first, reindex_to=last)
    return recompute_snapshot(recompute_with, tables, day)


def stale_snapshots(feature_id: str, locations: TableLocations, *, after: date | None = None) -> dict[date, list[date]]:
    """Every indexed day (after ``after``) whose snapshot is stale, with the days whose events changed
    since it was built — what a re-index of an earlier day leaves to re-index."""
    tables = FeatureTables(feature_id, locations)
    found: dict[date, list[date]] = {}
    for day in tables.complete_days():
        if after is None or day > after:
            changed = tables.changed_inputs(day)
            if changed:
                found[day] = changed
    return found
