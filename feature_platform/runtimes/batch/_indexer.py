"""Index one day of one feature: events, rejects and the sequence snapshot, then the manifest.

Everything is computed in memory first (so a missing partition or a bad file fails before anything is
touched); then the day's manifest is deleted, the three files are replaced one by one (each atomically,
see :mod:`._storage`) and the new manifest is written last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.artefact.loader import seal_artefact
from feature_platform.engine import (
    INGEST_DAY,
    POSITION,
    build_feature_frame,
    dedup_and_rank,
    events_schema,
    required_columns,
    scan_source,
)
from feature_platform.engine.validation import REASON_SEPARATOR
from feature_platform.errors import SourceDataError
from feature_platform.runtimes.batch._locations import (
    EVENTS,
    REJECTS,
    SNAPSHOTS,
    TableLocations,
    relative_partition_file,
)
from feature_platform.runtimes.batch._manifest import DayManifest, FileInfo, inputs_match
from feature_platform.runtimes.batch._tables import FeatureTables, conform, decode_parquet, parquet_bytes, sha256

EVENT_ID = "event_id"
TIMESTAMP = "timestamp"
EVENT_TYPE = "event_type"
EVENTS_ORDER = (TIMESTAMP, EVENT_ID, EVENT_TYPE)
"""Sort order of an events partition (ascending): unique once replays are dropped."""
REJECTS_ORDER = ("source", "event_type", "raw", "reason")
ONE_MICROSECOND = timedelta(microseconds=1)
_ROW = "__row"


@dataclass(frozen=True)
class DayIndexResult:
    """What :func:`index_day` wrote for one day."""

    feature_id: str
    day: date
    artefact_hash: str
    events_rows: int
    rejects_rows: int
    snapshot_users: int
    snapshot_rows: int
    reject_reasons: dict[str, int]
    events_path: str
    snapshot_path: str
    rejects_path: str
    missing_sources: list[str]
    incremental: bool


def index_day(
    artefact: Artefact, day: date, locations: TableLocations, *, allow_missing: bool = False
) -> DayIndexResult:
    """Index ``day`` of ``artefact``'s feature (see the package docstring for the exact semantics)."""
    return _index(artefact, FeatureTables(artefact.feature.id, locations), day, allow_missing=allow_missing)


def index_days(
    artefact: Artefact, start: date, end: date, locations: TableLocations, *, allow_missing: bool = False
) -> list[DayIndexResult]:
    """Index ``start`` … ``end`` (inclusive) in order, each day building on the previous one's snapshot.

    The snapshot a day has just written is handed to the next day in memory (:class:`_Carry`)
    instead of being read back and re-hashed: it is the very frame whose bytes that day's manifest
    describes. The first day of the call checks its base on storage (:func:`usable_snapshot`).
    """
    if end < start:
        msg = f"the last day {end.isoformat()} is before the first {start.isoformat()}"
        raise ValueError(msg)
    tables = FeatureTables(artefact.feature.id, locations)
    count = (end - start).days + 1
    carry = _Carry()
    return [
        _index(artefact, tables, start + timedelta(days=i), allow_missing=allow_missing, carry=carry)
        for i in range(count)
    ]


class _Carry:
    """The snapshot the previous day of an :func:`index_days` call wrote, with its manifest, in memory.

    Taken at most once (and then released, so it does not outlive its use in the next day's snapshot).
    """

    def __init__(self) -> None:
        self._held: tuple[date, DayManifest, pl.DataFrame] | None = None

    def put(self, day: date, manifest: DayManifest, frame: pl.DataFrame) -> None:
        self._held = (day, manifest, frame)

    def take(self, day: date) -> tuple[DayManifest, pl.DataFrame] | None:
        held, self._held = self._held, None
        if held is None or held[0] != day:
            return None
        return held[1], held[2]


def artefact_hash(artefact: Artefact) -> str:
    """The artefact's content hash (computed when the artefact was built in memory without one)."""
    return artefact.content_hash or seal_artefact(artefact)[1]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def retention_first_day(as_of: datetime, artefact: Artefact) -> date:
    """The oldest day partition that can hold an event inside the retention window as of ``as_of``.

    Partition ``p`` holds only events before ``p + 1`` (00:00 UTC); the window starts at
    ``as_of - R``, so partitions before the day of ``as_of - R`` cannot contribute.
    """
    return (as_of - timedelta(seconds=artefact.feature.retention_seconds)).date()


def _index(
    artefact: Artefact, tables: FeatureTables, day: date, *, allow_missing: bool, carry: _Carry | None = None
) -> DayIndexResult:
    feature_id = artefact.feature.id
    content_hash = artefact_hash(artefact)
    end = day_start(day + timedelta(days=1))
    locations = tables.locations

    raw, missing = _scan_raw(artefact, day, locations, allow_missing=allow_missing)
    lookups = _scan_lookups(artefact, locations)
    plan = build_feature_frame(artefact, raw, lookups, max_event_time=end - ONE_MICROSECOND)
    events, rejects = pl.collect_all(
        [plan.events.drop(INGEST_DAY, strict=False), plan.rejects.drop(INGEST_DAY, strict=False)]
    )
    raw_events = events.height
    events = drop_replays(events)
    rejects = rejects.sort(list(REJECTS_ORDER), nulls_last=True, maintain_order=True)
    events_data = parquet_bytes(events)
    events_sha = sha256(events_data)

    snapshot, incremental, inputs = _snapshot(artefact, tables, day, events, events_sha, content_hash, carry)
    events_rows = events.height
    del events  # only its bytes are needed from here on: do not hold it while the snapshot is encoded
    rejects_data = parquet_bytes(rejects)
    snapshot_data = parquet_bytes(snapshot)
    reasons = reason_counts(rejects)
    users = snapshot.get_column(artefact.feature.entity_key.name).n_unique() if snapshot.height else 0

    manifest = DayManifest(
        feature_id=feature_id,
        day=day,
        artefact_hash=content_hash,
        events=FileInfo(relative_partition_file(EVENTS, day), events_rows, events_sha),
        rejects=FileInfo(relative_partition_file(REJECTS, day), rejects.height, sha256(rejects_data)),
        snapshot=FileInfo(relative_partition_file(SNAPSHOTS, day), snapshot.height, sha256(snapshot_data)),
        duplicate_replays=raw_events - events_rows,
        reject_reasons=reasons,
        snapshot_users=users,
        incremental=incremental,
        inputs=inputs,
        missing_sources=tuple(missing),
    )
    tables.begin_write(day)
    tables.storage.put(tables.path(EVENTS, day), events_data)
    tables.storage.put(tables.path(REJECTS, day), rejects_data)
    tables.storage.put(tables.path(SNAPSHOTS, day), snapshot_data)
    tables.finish_write(manifest)
    if carry is not None:
        carry.put(day, manifest, snapshot)
    return DayIndexResult(
        feature_id=feature_id,
        day=day,
        artefact_hash=content_hash,
        events_rows=events_rows,
        rejects_rows=rejects.height,
        snapshot_users=users,
        snapshot_rows=snapshot.height,
        reject_reasons=dict(reasons),
        events_path=tables.path(EVENTS, day),
        snapshot_path=tables.path(SNAPSHOTS, day),
        rejects_path=tables.path(REJECTS, day),
        missing_sources=list(missing),
        incremental=incremental,
    )


def drop_replays(events: pl.DataFrame) -> pl.DataFrame:
    """One row per (event_id, event_type) — of replays the latest timestamp, then the first read, wins —
    sorted by ``timestamp, event_id, event_type``.

    Only the rows whose key occurs more than once are sorted to resolve replays (ties on the timestamp
    go to the lowest row number: the first read); the sorting is done on the key columns only and the
    wide rows are gathered once at the end. The final order does not depend on which rows were
    resolved: ``timestamp, event_id, event_type`` is unique once replays are dropped.
    """
    slim = events.select(EVENT_ID, EVENT_TYPE, TIMESTAMP).with_row_index(_ROW)
    duplicated = slim.select(pl.struct(EVENT_ID, EVENT_TYPE).is_duplicated()).to_series()
    if duplicated.any():
        kept = (
            slim.filter(duplicated)
            .sort([EVENT_ID, EVENT_TYPE, TIMESTAMP, _ROW], descending=[False, False, True, False])
            .unique(subset=[EVENT_ID, EVENT_TYPE], keep="first", maintain_order=True)
        )
        slim = pl.concat([slim.filter(~duplicated), kept])
    order = slim.sort(list(EVENTS_ORDER)).get_column(_ROW)
    return events[order]


def rank(candidates: pl.DataFrame, artefact: Artefact, *, as_of: datetime) -> pl.DataFrame:
    """``dedup_and_rank(candidates, as_of=as_of)`` in the snapshot's columns, sorted by user and position.

    The ranking runs on the sort and de-duplication columns only; the kept rows are gathered after.
    """
    slim = candidates.select(_slim_columns(artefact)).with_row_index(_ROW)
    kept = dedup_and_rank(slim.lazy(), artefact, as_of=as_of).select(_ROW, POSITION).collect()
    return _gather(candidates, kept, artefact)


def _slim_columns(artefact: Artefact) -> list[str]:
    """What ordering and de-duplication read: the entity key, the sort key and the ``dedup_by`` fields."""
    user = artefact.feature.entity_key.name
    return list(dict.fromkeys([user, TIMESTAMP, EVENT_ID, EVENT_TYPE, *artefact.feature.dedup_by]))


def _gather(rows: pl.DataFrame, kept: pl.DataFrame, artefact: Artefact) -> pl.DataFrame:
    """The rows ``kept[__row]`` of ``rows``, with ``kept[position]``, in the snapshot's columns."""
    return rows[kept.get_column(_ROW)].with_columns(kept.get_column(POSITION)).select(snapshot_columns(artefact))


def reason_counts(rejects: pl.DataFrame) -> dict[str, int]:
    """Rejected rows per reason; a row with several reasons counts once under each."""
    if rejects.height == 0:
        return {}
    counts = (
        rejects.select(pl.col("reason").str.split(REASON_SEPARATOR).alias("reason"))
        .explode("reason")
        .group_by("reason")
        .len()
        .sort("reason")
    )
    return {str(reason): int(n) for reason, n in counts.iter_rows()}


def snapshot_columns(artefact: Artefact) -> list[str]:
    """The snapshot's columns: the entity key, ``position``, then the other events columns."""
    user = artefact.feature.entity_key.name
    return [user, POSITION, *(c for c in events_schema(artefact) if c != user)]


def _snapshot(
    artefact: Artefact,
    tables: FeatureTables,
    day: date,
    events: pl.DataFrame,
    events_sha: str,
    content_hash: str,
    carry: _Carry | None = None,
) -> tuple[pl.DataFrame, bool, dict[date, str]]:
    """snapshot(D) = dedup_and_rank(snapshot(D-1) + events(D), as_of=D+1), or a full recompute."""
    end = day_start(day + timedelta(days=1))
    schema = events_schema(artefact)
    first = retention_first_day(end, artefact)
    previous = day - timedelta(days=1)
    carried = carry.take(previous) if carry is not None else None
    if carried is not None:
        base = carried_snapshot(artefact, tables, previous, *carried, content_hash)
    else:
        base = usable_snapshot(artefact, tables, previous, content_hash)
    if base is not None:
        frame, recorded = base
        snapshot = _advance(artefact, conform(frame.lazy(), schema, where="previous snapshot").collect(),
                            frame.get_column(POSITION), events, end)
        inputs = {d: s for d, s in recorded.items() if d >= first}
        incremental = True
    else:
        shas = tables.events_shas(first, previous)
        older = tables.scan_days(EVENTS, shas, schema).collect()
        snapshot = rank(pl.concat([older, events]), artefact, as_of=end)
        inputs = dict(shas)
        incremental = False
    inputs[day] = events_sha
    return snapshot, incremental, inputs


def _advance(
    artefact: Artefact, previous: pl.DataFrame, positions: pl.Series, events: pl.DataFrame, end: datetime
) -> pl.DataFrame:
    """The snapshot as of ``end`` from the previous snapshot (events schema + its positions) and new events.

    A user with no new event keeps its previous rows minus those that left the window: they are the
    oldest, so the positions of the others do not change. Only the users of the new events are ranked.
    """
    user = artefact.feature.entity_key.name
    slim = _slim_columns(artefact)
    old = previous.select(slim).with_columns(positions).with_row_index(_ROW)
    new = events.select(slim).with_row_index(_ROW, offset=previous.height)
    active = pl.col(user).is_in(events.get_column(user).unique().implode())
    oldest = end - timedelta(seconds=artefact.feature.retention_seconds)
    untouched = old.filter(~active & (pl.col(TIMESTAMP) >= oldest)).select(_ROW, user, POSITION)
    touched = pl.concat([old.filter(active).drop(POSITION), new])
    ranked = dedup_and_rank(touched.lazy(), artefact, as_of=end).select(_ROW, user, POSITION).collect()
    del old, new, touched  # free the ranking's copies before the wide gather (the peak of memory)
    # Both are sorted by (user, position) and share no user (the entity key is never null: a null key is
    # rejected), so merging them on the user alone is the (user, position) order without a full sort.
    order = untouched.merge_sorted(ranked, key=user)
    del untouched, ranked
    return _gather(pl.concat([previous, events], rechunk=False), order, artefact)


def carried_snapshot(
    artefact: Artefact,
    tables: FeatureTables,
    day: date,
    written: DayManifest,
    frame: pl.DataFrame,
    content_hash: str,
) -> tuple[pl.DataFrame, dict[date, str]] | None:
    """snapshot(``day``) from memory: ``frame`` is what this process has just written for ``day``
    under the manifest ``written``, so it is used under the conditions of :func:`usable_snapshot`
    except the read-back and sha256 check (``written.snapshot.sha256`` is the hash of ``frame``'s bytes).

    The day must still be complete with that very manifest, of this artefact and current.
    """
    manifest = tables.manifest(day)
    if manifest is None or manifest != written or manifest.artefact_hash != content_hash:
        return None
    if frame.height != manifest.snapshot.rows:
        return None
    first = retention_first_day(day_start(day + timedelta(days=1)), artefact)
    if not inputs_match(manifest.inputs, tables.events_shas(first, day), first, day):
        return None
    return frame, dict(manifest.inputs)


def current_snapshot_bytes(
    artefact: Artefact, tables: FeatureTables, day: date, content_hash: str
) -> tuple[bytes, DayManifest] | None:
    """The file of snapshot(``day``) and its manifest if it may be built on, else None.

    The one statement of when a stored snapshot can seed the next day (here and in training sets):
    its day is complete, it was built by this artefact, the events files of its retention window are
    still the ones it recorded, and the file is intact.
    """
    manifest = tables.manifest(day)
    if manifest is None or manifest.artefact_hash != content_hash:
        return None
    first = retention_first_day(day_start(day + timedelta(days=1)), artefact)
    if not inputs_match(manifest.inputs, tables.events_shas(first, day), first, day):
        return None
    data = tables.storage.get(tables.path(SNAPSHOTS, day))
    if data is None or sha256(data) != manifest.snapshot.sha256:
        return None
    return data, manifest


def usable_snapshot(
    artefact: Artefact, tables: FeatureTables, day: date, content_hash: str
) -> tuple[pl.DataFrame, dict[date, str]] | None:
    """snapshot(``day``) decoded, with its recorded inputs, if :func:`current_snapshot_bytes` allows it."""
    found = current_snapshot_bytes(artefact, tables, day, content_hash)
    if found is None:
        return None
    data, manifest = found
    return decode_parquet(data), dict(manifest.inputs)


def _scan_raw(
    artefact: Artefact, day: date, locations: TableLocations, *, allow_missing: bool
) -> tuple[dict[str, pl.LazyFrame], list[str]]:
    names = sorted({artefact.event_types[t].source for t in artefact.feature.event_types})
    frames: dict[str, pl.LazyFrame] = {}
    missing: list[str] = []
    for name in names:
        try:
            scan = scan_source(
                artefact.sources[name],
                locations.raw_root,
                [day],
                locations.storage_options,
                needed_by=required_columns(artefact, name),
                allow_missing=allow_missing,
            )
        except SourceDataError as exc:
            msg = f"cannot index {artefact.feature.id} for {day.isoformat()}: {exc}"
            raise SourceDataError(msg) from exc
        frames[name] = scan.frame
        if scan.missing_days:
            missing.append(name)
    return frames, missing


def _scan_lookups(artefact: Artefact, locations: TableLocations) -> dict[str, pl.LazyFrame]:
    names = sorted(
        {
            enrichment.lookup.source
            for t in artefact.feature.event_types
            for e in artefact.event_types[t].enrichments
            if (enrichment := artefact.enrichments[e]).lookup is not None
        }
    )
    lookups: dict[str, pl.LazyFrame] = {}
    for name in names:
        try:
            lookups[name] = scan_source(
                artefact.sources[name],
                locations.raw_root,
                storage_options=locations.storage_options,
                needed_by=required_columns(artefact, name),
            ).frame
        except SourceDataError as exc:
            msg = f"cannot index {artefact.feature.id}: {exc}"
            raise SourceDataError(msg) from exc
    return lookups
