"""One feature's tables at one location: manifests, reading partitions, Parquet bytes.

Readers only ever use *complete* days (those with a manifest). Partition files are always whole (see
:mod:`feature_platform.storage`), and a file read for building on it (a previous snapshot, an events partition of a
full recompute) is checked against the sha256 its manifest recorded, so a day being re-indexed at that
moment is never mixed with its previous content.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import polars as pl

from feature_platform.errors import SourceDataError
from feature_platform.runtimes.batch._locations import (
    EVENTS,
    MANIFESTS,
    PARTITION_KEY,
    TABLES,
    Table,
    TableLocations,
    parse_manifest_name,
)
from feature_platform.runtimes.batch._manifest import DayManifest, changed_inputs
from feature_platform.storage import ObjectStorage

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "statistics": True,
    "row_group_size": 122_880,
}
"""How every table file is written (fixed, so the same frame always gives the same bytes)."""


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, **PARQUET_OPTIONS)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FeatureTables:
    """The tables of ``feature_id`` under ``locations``, with the manifests read so far cached."""

    def __init__(self, feature_id: str, locations: TableLocations, storage: ObjectStorage | None = None) -> None:
        self.feature_id = feature_id
        self.locations = locations
        self.storage = storage or locations.storage()
        self._complete: set[date] | None = None
        self._manifests: dict[date, DayManifest | None] = {}

    # -- manifests ---------------------------------------------------------------------------------

    def complete_days(self) -> list[date]:
        """Days whose manifest exists, sorted."""
        if self._complete is None:
            prefix = f"{self.feature_id}/{MANIFESTS}/"
            names = [key[len(prefix) :] for key in self.storage.list_keys(prefix)]
            self._complete = {d for d in map(parse_manifest_name, names) if d is not None}
        return sorted(self._complete)

    def manifest(self, day: date) -> DayManifest | None:
        if day not in self._manifests:
            if self._complete is not None and day not in self._complete:
                self._manifests[day] = None
            else:
                data = self.storage.get(self.locations.manifest_key(self.feature_id, day))
                origin = self.locations.manifest_file(self.feature_id, day)
                self._manifests[day] = None if data is None else DayManifest.from_bytes(data, origin=origin)
        return self._manifests[day]

    def events_shas(self, first: date, last: date) -> dict[date, str]:
        """sha256 of the events file of every complete day in ``[first, last]``."""
        found: dict[date, str] = {}
        for day in self.complete_days():
            if first <= day <= last:
                manifest = self.manifest(day)
                if manifest is not None:
                    found[day] = manifest.events.sha256
        return found

    def changed_inputs(self, day: date) -> list[date]:
        """The days whose events changed since snapshot(``day``) was built from them (empty: it is current).

        A day of its retention window that was re-indexed with other content, became complete, or stopped
        being complete after the snapshot recorded its inputs makes the snapshot stale.
        """
        manifest = self.manifest(day)
        if manifest is None:
            return []
        first = manifest.window_from or min(manifest.inputs, default=day)
        return changed_inputs(manifest.inputs, self.events_shas(first, day), first, day)

    def commit_day(self, manifest: DayManifest) -> None:
        """Swap the day's manifest to ``manifest`` (one atomic write: readers move from the old version of
        the day to the new one), then remove the files no manifest names any more: the old version's, and
        any left by a run that died between writing its files and its manifest."""
        self.storage.put(self.locations.manifest_key(self.feature_id, manifest.day), manifest.to_bytes())
        self._manifests[manifest.day] = manifest
        if self._complete is not None:
            self._complete.add(manifest.day)
        live = {f"{self.feature_id}/{manifest.file(table).path}" for table in TABLES}
        for table in TABLES:
            prefix = f"{self.locations.partition_dir_key(self.feature_id, table, manifest.day)}/"
            for key in self.storage.list_keys(prefix):
                if key not in live:
                    self.storage.delete(key)

    # -- files -------------------------------------------------------------------------------------

    def key(self, table: Table, day: date) -> str:
        """The live partition file's key in :attr:`storage`, as the day's manifest names it."""
        manifest = self.manifest(day)
        if manifest is None:
            msg = (
                f"feature {self.feature_id} has no complete {table} partition for {day.isoformat()} "
                f"(no manifest at {self.locations.manifest_file(self.feature_id, day)}); "
                "index that day first (feature-platform batch-index)"
            )
            raise SourceDataError(msg)
        return f"{self.feature_id}/{manifest.file(table).path}"

    def path(self, table: Table, day: date) -> str:
        """The partition file's path or URL, for polars."""
        return self.storage.url(self.key(table, day))

    def scan(self, table: Table, day: date) -> pl.LazyFrame:
        return pl.scan_parquet(self.path(table, day), storage_options=self.locations.storage_options)

    def scan_days(
        self, table: Table, days: Iterable[date], schema: pl.Schema, *, with_day: bool = False
    ) -> pl.LazyFrame:
        """The partitions ``days`` of ``table``, each conformed to ``schema`` (plus ``dt`` if asked)."""
        frames = []
        for day in sorted(set(days)):
            frame = conform(self.scan(table, day), schema, where=self.path(table, day))
            frames.append(frame.with_columns(pl.lit(day, dtype=pl.Date).alias(PARTITION_KEY)) if with_day else frame)
        if not frames:
            empty = pl.DataFrame(schema=schema)
            return (empty.with_columns(pl.lit(None, dtype=pl.Date).alias(PARTITION_KEY)) if with_day else empty).lazy()
        return pl.concat(frames, how="vertical")

    def require_complete(self, days: Sequence[date], table: Table = EVENTS) -> None:
        complete = set(self.complete_days())
        missing = [d for d in sorted(set(days)) if d not in complete]
        if missing:
            listed = ", ".join(d.isoformat() for d in missing[:10]) + (" …" if len(missing) > 10 else "")
            msg = (
                f"feature {self.feature_id} has no complete {table} partition for {len(missing)} day(s): {listed} "
                f"(no manifest at {self.locations.manifest_file(self.feature_id, missing[0])}); "
                "index those days first (feature-platform batch-index)"
            )
            raise SourceDataError(msg)


def damaged_table_message(where: str, exc: BaseException) -> str:
    """``<file> is not a readable Parquet file (<first line of the reason>): re-index that day`` — one line,
    for a table file damaged after its day was committed."""
    text = str(exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return f"{where} is not a readable Parquet file ({reason}): it was damaged after it was written; re-index that day"


def conform(frame: pl.LazyFrame, schema: pl.Schema, *, where: str) -> pl.LazyFrame:
    """``frame`` with exactly ``schema``'s columns, in order; a missing column, or a file that is not Parquet
    (damaged after it was written), is a clear error."""
    try:
        present = frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceDataError(damaged_table_message(where, exc)) from exc
    missing = [name for name in schema if name not in present]
    if missing:
        msg = (
            f"{where} lacks column(s) {', '.join(missing)} of the artefact's events schema; it was written "
            "by another version of the feature: re-index that day with this artefact"
        )
        raise SourceDataError(msg)
    return frame.select(
        pl.col(name) if present[name] == dtype else pl.col(name).cast(dtype) for name, dtype in schema.items()
    )
