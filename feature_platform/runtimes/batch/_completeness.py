"""Completeness: which days of a snapshot's window have raw data, and which of those are indexed.

A snapshot of day D is *complete* when every day of its retention window before D that has raw data
(a partition of any of the feature's events sources) has an indexed events partition. A day with no
raw data at all — before the source began, or a day whose raw partition never arrived and was indexed
with ``allow_missing`` — is not expected, so a new feature is complete from its first day of data on,
and a feature indexed from the middle of its sources' history is not.

The raw partitions are found by listing (through :mod:`feature_platform.storage`), never by reading
them, under the one rule of :mod:`feature_platform.engine.partitions`: the check costs two listings per
source (its folder, and its files).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from feature_platform.artefact.format import Artefact
from feature_platform.engine import table_root
from feature_platform.engine.partitions import RawDays, list_raw_days
from feature_platform.runtimes.batch._locations import TableLocations
from feature_platform.storage import open_storage


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def retention_first_day(as_of: datetime, artefact: Artefact) -> date:
    """The oldest day partition that can hold an event inside the retention window as of ``as_of``.

    Partition ``p`` holds only events before ``p + 1`` (00:00 UTC); the window starts at
    ``as_of - R``, so partitions before the day of ``as_of - R`` cannot contribute.
    """
    return (as_of - timedelta(seconds=artefact.feature.retention_seconds)).date()


def source_raw_days(artefact: Artefact, locations: TableLocations) -> dict[str, RawDays]:
    """The day partitions of each events source of the feature (by source name), listed under the one rule
    of :mod:`feature_platform.engine.partitions` (a mis-named partition or a stray entry is refused)."""
    found: dict[str, RawDays] = {}
    for name in sorted({artefact.event_types[t].source for t in artefact.feature.event_types}):
        source = artefact.sources[name]
        if source.batch is None:
            continue
        root = table_root(source, locations.raw_root)
        storage = open_storage(root, locations.s3, client_factory=locations.s3_client_factory, what="raw source")
        found[name] = list_raw_days(storage, source.batch.partition_key, source=name, root=root)
    return found


def raw_days(artefact: Artefact, locations: TableLocations, first: date, last: date) -> set[date]:
    """Days in ``[first, last]`` with at least one raw Parquet file of an events source of the feature."""
    return {
        day for listed in source_raw_days(artefact, locations).values() for day in listed.days if first <= day <= last
    }


def missing_days(
    artefact: Artefact, locations: TableLocations, indexed: set[date] | list[date], first: date, before: date
) -> list[date]:
    """The days in ``[first, before)`` with raw data but no indexed events partition, sorted."""
    if before <= first:
        return []
    last = date.fromordinal(before.toordinal() - 1)
    done = set(indexed)
    return sorted(d for d in raw_days(artefact, locations, first, last) if d not in done)


def raw_days_in_window(
    artefact: Artefact, locations: TableLocations, last: date, not_before: date | None = None
) -> set[date]:
    """Days with raw data in the retention window of the snapshot of ``last`` (as of ``last`` + 1 day,
    00:00 UTC), and not before ``not_before``: the days a (re)published feature must be indexed over."""
    first = retention_first_day(day_start(last + timedelta(days=1)), artefact)
    if not_before is not None:
        first = max(first, not_before)
    return raw_days(artefact, locations, first, last)
