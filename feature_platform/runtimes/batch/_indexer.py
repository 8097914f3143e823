"""Index one day of one feature: events, rejects and the sequence snapshot, then the manifest.

Everything is computed before anything visible is touched (so a missing partition or a bad file fails
first): the day's events are collected in memory, and the events and snapshot files are streamed to
staged local files (:meth:`feature_platform.storage.ObjectStorage.stage`) a slice at a time; then the day's manifest is
deleted, the three files are published one by one (each atomically, see :mod:`feature_platform.storage`) and the new
manifest is written last.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import BinaryIO

import polars as pl

from feature_platform._days import day_range_problem
from feature_platform.artefact.format import Artefact
from feature_platform.artefact.loader import seal_artefact
from feature_platform.engine import (
    INGEST_DAY,
    build_feature_frame,
    events_schema,
    required_columns,
    scan_source,
)
from feature_platform.engine.io import contract_rejects
from feature_platform.engine.plan import EVENT_ID, EVENT_TYPE, TIMESTAMP
from feature_platform.errors import ContractViolationError, IncompleteHistoryError, SourceDataError, writing
from feature_platform.runtimes.batch._completeness import day_start, missing_days, retention_first_day
from feature_platform.runtimes.batch._locations import (
    EVENTS,
    REJECTS,
    SNAPSHOTS,
    Table,
    TableLocations,
    partition_name,
    relative_partition_file,
)
from feature_platform.runtimes.batch._manifest import DayManifest, FileInfo, inputs_match
from feature_platform.runtimes.batch._parquet_writer import handle_sha256, in_order, write_frames
from feature_platform.runtimes.batch._snapshot import WrittenSnapshot, advance, recompute, write_snapshot
from feature_platform.runtimes.batch._tables import FeatureTables, parquet_bytes, sha256
from feature_platform.runtimes.batch.contracts import (
    ContractReport,
    ContractTally,
    check_frame,
    events_contract,
    snapshot_contract,
)

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
    events_sha256: str = ""
    rejects_sha256: str = ""
    snapshot_sha256: str = ""
    missing_days: list[date] = field(default_factory=list)
    """Days of the window with raw data but not indexed (only with ``allow_gaps``): the snapshot is incomplete."""

    @property
    def complete(self) -> bool:
        return not self.missing_days


def index_day(
    artefact: Artefact,
    day: date,
    locations: TableLocations,
    *,
    allow_missing: bool = False,
    allow_gaps: bool = False,
    check_contracts: bool = True,
) -> DayIndexResult:
    """Index ``day`` of ``artefact``'s feature (see the package docstring for the exact semantics).

    The day's tables are checked against their data contracts before they replace anything
    (:class:`~feature_platform.errors.ContractViolationError` otherwise), and a day whose window has
    unindexed raw days is refused (:class:`~feature_platform.errors.IncompleteHistoryError`) unless
    ``allow_gaps``, which builds a snapshot marked incomplete.
    """
    check_day(day)
    tables = FeatureTables(artefact.feature.id, locations)
    return _index(
        artefact, tables, day, allow_missing=allow_missing, allow_gaps=allow_gaps, check_contracts=check_contracts
    )


def index_days(
    artefact: Artefact,
    start: date,
    end: date,
    locations: TableLocations,
    *,
    allow_missing: bool = False,
    allow_gaps: bool = False,
    check_contracts: bool = True,
    on_day: Callable[[DayIndexResult], None] | None = None,
) -> list[DayIndexResult]:
    """Index ``start`` … ``end`` (inclusive) in order, each day building on the previous one's snapshot.

    The snapshot a day has just written is handed to the next day as an open handle on the bytes it
    committed (:class:`_Carry`) instead of being re-read and re-hashed: its manifest describes exactly
    those bytes. The first day of the call checks its base on storage (:func:`open_current_snapshot`).

    ``on_day`` is called with each day's result as soon as the day is complete (its manifest written),
    so a caller can report progress on a long range without indexing day by day itself — which would
    lose the carried snapshot.
    """
    check_day(start)
    check_day(end)
    if end < start:
        msg = f"the last day {end.isoformat()} is before the first {start.isoformat()}"
        raise ValueError(msg)
    tables = FeatureTables(artefact.feature.id, locations)
    count = (end - start).days + 1
    carry = _Carry()
    results: list[DayIndexResult] = []
    try:
        for i in range(count):
            results.append(
                _index(
                    artefact, tables, start + timedelta(days=i), allow_missing=allow_missing, allow_gaps=allow_gaps,
                    check_contracts=check_contracts, carry=carry,
                )
            )
            if on_day is not None:
                on_day(results[-1])
    finally:
        carry.clear()
    return results


class _Carry:
    """The snapshot the previous day of an :func:`index_days` call wrote: its manifest and a read handle
    on the committed file (locally its inode, which a later replacement does not change).

    Taken at most once; the taker closes the handle.
    """

    def __init__(self) -> None:
        self._held: tuple[date, DayManifest, BinaryIO] | None = None

    def put(self, day: date, manifest: DayManifest, handle: BinaryIO) -> None:
        self.clear()
        self._held = (day, manifest, handle)

    def take(self, day: date) -> tuple[DayManifest, BinaryIO] | None:
        held, self._held = self._held, None
        if held is None:
            return None
        if held[0] != day:
            held[2].close()
            return None
        return held[1], held[2]

    def clear(self) -> None:
        if self._held is not None:
            self._held[2].close()
            self._held = None


def check_day(day: date) -> None:
    """A day the indexer can index (:mod:`feature_platform._days`, the rule ``demo-data`` follows too)."""
    if problem := day_range_problem(day):
        msg = f"cannot index {day.isoformat()}: {problem}"
        raise SourceDataError(msg)


def artefact_hash(artefact: Artefact) -> str:
    """The artefact's content hash (computed when the artefact was built in memory without one)."""
    return artefact.content_hash or seal_artefact(artefact)[1]


def _index(
    artefact: Artefact,
    tables: FeatureTables,
    day: date,
    *,
    allow_missing: bool,
    allow_gaps: bool = False,
    check_contracts: bool = True,
    carry: _Carry | None = None,
) -> DayIndexResult:
    feature_id = artefact.feature.id
    content_hash = artefact_hash(artefact)
    end = day_start(day + timedelta(days=1))
    first = retention_first_day(end, artefact)
    locations = tables.locations

    raw, breaches, missing = _scan_raw(artefact, day, locations, allow_missing=allow_missing)
    gaps = missing_days(artefact, locations, tables.complete_days(), first, day)
    if gaps and not allow_gaps:
        raise IncompleteHistoryError(_gap_message(feature_id, day, gaps))
    lookups = _scan_lookups(artefact, locations)
    plan = build_feature_frame(artefact, raw, lookups, max_event_time=end - ONE_MICROSECOND)
    # rows that break their source's declared schema (a null in a nullable=False column, an integer out
    # of its declared range) are rejects of the event types that select them, never events
    broken = contract_rejects(artefact, breaches, max_event_time=end - ONE_MICROSECOND)
    try:
        events, rejects, broken_rejects = pl.collect_all(
            [
                plan.events.drop(INGEST_DAY, strict=False),
                plan.rejects.drop(INGEST_DAY, strict=False),
                broken.drop(INGEST_DAY, strict=False),
            ]
        )
    except pl.exceptions.PolarsError as exc:  # a file whose footer reads but whose data does not
        damaged = _unreadable(raw_files(artefact, day, locations), locations)
        msg = f"cannot index {feature_id} for {day.isoformat()}: reading its raw data failed: {damaged or exc}"
        raise SourceDataError(msg) from exc
    if broken_rejects.height:
        rejects = pl.concat([rejects, broken_rejects.select(rejects.columns)], how="vertical")
    events = events.rechunk()  # one chunk per column: gathering rows from it is much faster
    raw_events = events.height
    kept = replay_free_order(events)
    rejects = rejects.sort(list(REJECTS_ORDER), nulls_last=True, maintain_order=True)
    context = f"cannot index {feature_id} for {day.isoformat()}"  # an I/O failure names the day and the path
    with writing(f"{locations.table_dir(feature_id, REJECTS)}/{partition_name(day)}", context=context):
        rejects_data = parquet_bytes(rejects)
    reasons = reason_counts(rejects)
    reports = [check_frame(events_contract(artefact, day), events[kept])] if check_contracts else []
    tally = ContractTally(snapshot_contract(artefact, day)) if check_contracts else None

    storage = tables.storage
    with (
        writing(locations.feature_root(feature_id), context=context),
        storage.stage(_pending_key(tables, EVENTS, day)) as events_file,
        storage.stage(_pending_key(tables, SNAPSHOTS, day)) as snapshot_file,
    ):
        sweep_stale_stages(tables, day)
        with writing(os.path.dirname(events_file.local_path), context=context):
            events_sha = write_frames(events_file.local_path, events_schema(artefact), in_order(events, kept)).sha256
        with writing(os.path.dirname(snapshot_file.local_path), context=context):
            snapshot, incremental, inputs = _snapshot(
                artefact, tables, day, events, kept, events_sha, content_hash, snapshot_file.local_path, carry,
                tally,
            )
        del events  # the day's events are on disk now: do not hold them while files are published
        if tally is not None:
            reports.append(tally.report())
        if any(not report.passed for report in reports):  # the staged files are discarded, the live day kept
            raise ContractViolationError(_contract_message(feature_id, day, reports))
        manifest = DayManifest(
            feature_id=feature_id,
            day=day,
            artefact_hash=content_hash,
            events=FileInfo(relative_partition_file(EVENTS, day, events_sha), kept.len(), events_sha),
            rejects=FileInfo(
                relative_partition_file(REJECTS, day, sha256(rejects_data)), rejects.height, sha256(rejects_data)
            ),
            snapshot=FileInfo(relative_partition_file(SNAPSHOTS, day, snapshot.sha256), snapshot.rows, snapshot.sha256),
            duplicate_replays=raw_events - kept.len(),
            reject_reasons=reasons,
            snapshot_users=snapshot.users,
            incremental=incremental,
            inputs=inputs,
            missing_sources=tuple(missing),
            window_from=first,
            missing_days=tuple(gaps),
        )
        written = snapshot_file.open_committed() if carry is not None else None
        try:
            # New files under new names (their hashes) beside the live ones, then the manifest swap.
            root = locations.feature_root(feature_id)
            with writing(f"{root}/{manifest.events.path}", context=context):
                events_file.commit(f"{feature_id}/{manifest.events.path}")
            with writing(f"{root}/{manifest.rejects.path}", context=context):
                storage.put(f"{feature_id}/{manifest.rejects.path}", rejects_data)
            with writing(f"{root}/{manifest.snapshot.path}", context=context):
                snapshot_file.commit(f"{feature_id}/{manifest.snapshot.path}")
            with writing(locations.manifest_file(feature_id, day), context=context):
                tables.commit_day(manifest)
        except BaseException:
            if written is not None:
                written.close()
            raise
    if carry is not None and written is not None:
        carry.put(day, manifest, written)
    return DayIndexResult(
        feature_id=feature_id,
        day=day,
        artefact_hash=content_hash,
        events_rows=kept.len(),
        rejects_rows=rejects.height,
        snapshot_users=snapshot.users,
        snapshot_rows=snapshot.rows,
        reject_reasons=dict(reasons),
        events_path=tables.path(EVENTS, day),
        snapshot_path=tables.path(SNAPSHOTS, day),
        rejects_path=tables.path(REJECTS, day),
        missing_sources=list(missing),
        incremental=incremental,
        events_sha256=manifest.events.sha256,
        rejects_sha256=manifest.rejects.sha256,
        snapshot_sha256=manifest.snapshot.sha256,
        missing_days=list(gaps),
    )


def sweep_stale_stages(tables: FeatureTables, day: date) -> list[str]:
    """Remove the staged files a killed or failed run left in ``day``'s partition directories — by the storage
    layer's rule, only those untouched for an hour: another run may be indexing the same day right now and
    writing its own (:mod:`feature_platform.storage.sweep`)."""
    return [
        removed
        for table in (EVENTS, REJECTS, SNAPSHOTS)
        for removed in tables.storage.sweep_stale_stages(
            tables.locations.partition_dir_key(tables.feature_id, table, day)
        )
    ]


def _pending_key(tables: FeatureTables, table: Table, day: date) -> str:
    """The key a table file is staged for; it is committed under its content-hashed name."""
    return f"{tables.locations.partition_dir_key(tables.feature_id, table, day)}/part-pending.parquet"


def _gap_message(feature_id: str, day: date, gaps: list[date]) -> str:
    listed = ", ".join(d.isoformat() for d in gaps[:10]) + (" …" if len(gaps) > 10 else "")
    return (
        f"cannot index {feature_id} for {day.isoformat()}: {len(gaps)} day(s) of its retention window have raw "
        f"data but are not indexed ({listed}), so its snapshot would silently miss their events; index them "
        f"first (feature-platform batch-index --feature {feature_id} --date {gaps[0].isoformat()} "
        f"--to {day.isoformat()}), or allow gaps (--allow-gaps) to build a snapshot marked incomplete"
    )


def _contract_message(feature_id: str, day: date, reports: list[ContractReport]) -> str:
    broken = "; ".join(
        f"{report.contract}: " + ", ".join(f"{rule} ({n} rows)" for rule, n in sorted(report.failures.items()))
        for report in reports
        if not report.passed
    )
    return (
        f"the tables of {feature_id} for {day.isoformat()} break their data contract — {broken}; nothing of "
        "that day was replaced (its previous version, if any, stays live)"
    )


def replay_free_order(events: pl.DataFrame) -> pl.Series:
    """The row numbers of ``events`` to keep — one per (event_id, event_type); of replays the latest
    timestamp, then the first read, wins — in the events partition's order
    (``timestamp, event_id, event_type``).

    Only the rows whose key occurs more than once are sorted to resolve replays (ties on the timestamp
    go to the lowest row number: the first read); the sorting is done on the key columns only, and the
    wide rows are never copied here. The final order does not depend on which rows were resolved:
    ``timestamp, event_id, event_type`` is unique once replays are dropped.
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
    return slim.sort(list(EVENTS_ORDER)).get_column(_ROW)


def drop_replays(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` without replays, in the events partition's order (see :func:`replay_free_order`)."""
    return events[replay_free_order(events)]


def reason_counts(rejects: pl.DataFrame) -> dict[str, int]:
    """Rejected rows per reason. A row has exactly one reason (:mod:`feature_platform.engine.validation`),
    so the counts add up to the rejects."""
    if rejects.height == 0:
        return {}
    counts = rejects.group_by("reason").len().sort("reason")
    return {str(reason): int(n) for reason, n in counts.iter_rows()}


def _snapshot(
    artefact: Artefact,
    tables: FeatureTables,
    day: date,
    events: pl.DataFrame,
    kept: pl.Series,
    events_sha: str,
    content_hash: str,
    path: str,
    carry: _Carry | None = None,
    tally: ContractTally | None = None,
) -> tuple[WrittenSnapshot, bool, dict[date, str]]:
    """Write snapshot(D) to ``path``: advanced from snapshot(D-1) + events(D), or a full recompute.

    Each user range is checked against the snapshot contract (``tally``) on its way to the file."""
    end = day_start(day + timedelta(days=1))
    first = retention_first_day(end, artefact)
    previous = day - timedelta(days=1)
    carried = carry.take(previous) if carry is not None else None
    base = carried_snapshot(artefact, tables, previous, *carried, content_hash) if carried is not None else None
    if base is None:
        base = open_current_snapshot(artefact, tables, previous, content_hash)
    if base is not None:
        handle, recorded = base
        with handle:
            written = write_snapshot(artefact, path, _checked(advance(artefact, handle, events, kept, end), tally))
        inputs = {d: s for d, s in recorded.items() if d >= first}
        incremental = True
    else:
        shas = tables.events_shas(first, previous)
        older = tables.scan_days(EVENTS, shas, events_schema(artefact)).collect()
        ranges = recompute(artefact, pl.concat([older, events[kept]]), end)
        written = write_snapshot(artefact, path, _checked(ranges, tally))
        inputs = dict(shas)
        incremental = False
    inputs[day] = events_sha
    return written, incremental, inputs


def _checked(ranges: Iterator[pl.DataFrame], tally: ContractTally | None) -> Iterator[pl.DataFrame]:
    for frame in ranges:
        if tally is not None:
            tally.check(frame)
        yield frame


def carried_snapshot(
    artefact: Artefact,
    tables: FeatureTables,
    day: date,
    written: DayManifest,
    handle: BinaryIO,
    content_hash: str,
) -> tuple[BinaryIO, dict[date, str]] | None:
    """snapshot(``day``) as this process has just written it: ``handle`` reads the very bytes it
    committed under the manifest ``written`` (``written.snapshot.sha256`` is their hash), so it is used
    under the conditions of :func:`seed_manifest` without reading the file back to hash it.

    The day must still be complete with that very manifest.
    """
    manifest = seed_manifest(artefact, tables, day, content_hash)
    if manifest is None or manifest != written:
        handle.close()
        return None
    return handle, dict(manifest.inputs)


def seed_manifest(artefact: Artefact, tables: FeatureTables, day: date, content_hash: str) -> DayManifest | None:
    """The manifest of snapshot(``day``) if that snapshot may seed the next day, else None.

    The one statement of when a stored snapshot can be built on (here and in training sets): its day
    is complete, it was built by this artefact, and the events files of its retention window are still
    the ones it recorded. Its file must also be intact: the callers check the bytes they read against
    the manifest's sha256.
    """
    manifest = tables.manifest(day)
    if manifest is None or manifest.artefact_hash != content_hash:
        return None
    first = retention_first_day(day_start(day + timedelta(days=1)), artefact)
    if not inputs_match(manifest.inputs, tables.events_shas(first, day), first, day):
        return None
    return manifest


def current_snapshot_bytes(
    artefact: Artefact, tables: FeatureTables, day: date, content_hash: str
) -> tuple[bytes, DayManifest] | None:
    """The file of snapshot(``day``) and its manifest if it may seed the next day (:func:`seed_manifest`)."""
    manifest = seed_manifest(artefact, tables, day, content_hash)
    if manifest is None:
        return None
    data = tables.storage.get(tables.key(SNAPSHOTS, day))
    if data is None or sha256(data) != manifest.snapshot.sha256:
        return None
    return data, manifest


def open_current_snapshot(
    artefact: Artefact, tables: FeatureTables, day: date, content_hash: str
) -> tuple[BinaryIO, dict[date, str]] | None:
    """A handle on the file of snapshot(``day``), checked against its manifest, and its recorded inputs,
    if it may seed the next day (:func:`seed_manifest`). The handle reads the bytes that were hashed,
    whatever replaces the file meanwhile."""
    manifest = seed_manifest(artefact, tables, day, content_hash)
    if manifest is None:
        return None
    handle = tables.storage.open_read(tables.key(SNAPSHOTS, day))
    if handle is None:
        return None
    if handle_sha256(handle) != manifest.snapshot.sha256:
        handle.close()
        return None
    return handle, dict(manifest.inputs)


def _scan_raw(
    artefact: Artefact, day: date, locations: TableLocations, *, allow_missing: bool
) -> tuple[dict[str, pl.LazyFrame], dict[str, pl.LazyFrame], list[str]]:
    names = sorted({artefact.event_types[t].source for t in artefact.feature.event_types})
    frames: dict[str, pl.LazyFrame] = {}
    breaches: dict[str, pl.LazyFrame] = {}
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
        if scan.breaches is not None:
            breaches[name] = scan.breaches
        if scan.missing_days:
            missing.append(name)
    return frames, breaches, missing


def raw_files(artefact: Artefact, day: date, locations: TableLocations) -> list[str]:
    """Every raw file ``day`` of ``artefact``'s feature reads (its events sources' partitions, its lookups)."""
    names = {artefact.event_types[t].source for t in artefact.feature.event_types}
    names |= {
        enrichment.lookup.source
        for t in artefact.feature.event_types
        for e in artefact.event_types[t].enrichments
        if (enrichment := artefact.enrichments[e]).lookup is not None
    }
    files: list[str] = []
    for name in sorted(names):
        source = artefact.sources[name]
        days = [day] if source.kind == "events" else None
        try:
            scan = scan_source(source, locations.raw_root, days, locations.storage_options, allow_missing=True)
        except SourceDataError:
            continue
        files.extend(scan.files)
    return files


def _unreadable(files: list[str], locations: TableLocations) -> str | None:
    """The first of ``files`` whose data cannot be read, with polars' reason (``None``: all read)."""
    for path in files:
        try:
            pl.scan_parquet(path, storage_options=locations.storage_options).collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            text = str(exc).strip()
            return f"file {path} is damaged ({text.splitlines()[0] if text else type(exc).__name__})"
    return None


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
