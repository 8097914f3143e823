"""The watermark: which days of a feature are certified (complete and past their data contracts).

A certified day is what consumers trust — the online load, training sets, anyone picking "the latest
good snapshot" — so the marker and its reader live here, next to the tables, where those consumers can
reach them without importing the orchestrator that decides *when* a day is certified.

Layout: one single-row Parquet file per certified day, ``<tables_root>/<f>/watermark/dt=D/part-00000.parquet``
(columns ``day, feature_id, artefact_hash, snapshot_users, certified_at, run_id``), readable as a table
by polars and DuckDB like the others.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from feature_platform.runtimes.batch._locations import PART_FILE, PARTITION_KEY, TableLocations, partition_name
from feature_platform.runtimes.batch._tables import parquet_bytes

WATERMARK = "watermark"


@dataclass(frozen=True)
class Certification:
    """One certified day: which artefact built it and how many users its snapshot holds."""

    feature_id: str
    day: date
    artefact_hash: str
    snapshot_users: int
    run_id: str
    certified_at: datetime | None = None


def watermark_key(feature_id: str, day: date) -> str:
    return f"{feature_id}/{WATERMARK}/{partition_name(day)}/{PART_FILE}"


def certify_day(locations: TableLocations, certification: Certification) -> str:
    """Write the day's watermark row (atomically); returns its path."""
    at = certification.certified_at or datetime.now(UTC)
    frame = pl.DataFrame(
        [{
            "day": certification.day,
            "feature_id": certification.feature_id,
            "artefact_hash": certification.artefact_hash,
            "snapshot_users": certification.snapshot_users,
            "certified_at": at,
            "run_id": certification.run_id,
        }]
    )
    storage = locations.storage()
    key = watermark_key(certification.feature_id, certification.day)
    storage.put(key, parquet_bytes(frame))
    return storage.url(key)


def certified_days(feature_id: str, locations: TableLocations) -> list[date]:
    """Every certified day of ``feature_id``, sorted (from the listing: no file is read)."""
    prefix = f"{feature_id}/{WATERMARK}/{PARTITION_KEY}="
    days = set()
    for key in locations.storage().list_keys(prefix):
        name, _, file = key[len(prefix) :].partition("/")
        if file != PART_FILE:
            continue
        with contextlib.suppress(ValueError):
            days.add(date.fromisoformat(name))
    return sorted(days)


def latest_certified_day(feature_id: str, locations: TableLocations) -> date | None:
    """The most recent certified day of ``feature_id``, or None if no day is certified."""
    days = certified_days(feature_id, locations)
    return days[-1] if days else None
