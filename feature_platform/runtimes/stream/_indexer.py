"""The streaming indexer: event log -> the engine's micro-batch plan -> the online store's tail.

One **unit** per live feature (that reads a source with a stream): its own consumer group
``<group_prefix>.<feature id>`` on each of its sources' streams, so a new feature id (a version bump)
starts its own group at the start of the log and its own tail, and features never hold each other
back. Per micro-batch (at most ``batch_count`` entries — more under lag, see below — waiting at most
``batch_ms`` for the first):

1. decode the entries into a raw frame of the source's declared columns as read (integers wide enough
   that one out of its declared range is kept, not nulled), plus the entry id (``_fp_entry``, carried
   into the rejects' raw JSON so a reject names its entry) and the arrival day (``_ingest_day``);
2. per arrival day, the feature's :class:`feature_platform.engine.MicroBatchPlan` with
   ``max_event_time`` = the end of that day minus 1 µs — the very plan and bounds the batch indexer
   uses for that arrival partition, with the batch reader's checks of the source's declared schema
   (``check_sources``: a null in a ``nullable=False`` column, an integer out of range), so the same rows
   are events and the same rows are rejects, with the same reasons. The plan is built once per artefact
   and lookup-table version and bound to each micro-batch; the tail encoding (:func:`tail_rows`) runs in
   the same query;
3. write malformed rows to the dead letters (idempotent by stream/entry/event type) and the events to
   the tail (``append_tail``, idempotent by event id; the entry's arrival instant is the start of its
   arrival day, so a rewrite after a crash writes the same bytes);
4. only then acknowledge the entries.

A crash anywhere before 4 leaves the entries pending: the same consumer re-reads them on restart, or
a live consumer of the group claims them after ``claim_idle_ms``; the rewrite is a no-op. A crash
after 4 loses nothing (the writes are done). So what is served is exactly-once although delivery is
at-least-once.

Reading is synchronous with writing (read, process, write, ack, then read again), so the indexer never
holds more than one micro-batch per unit: that is the backpressure. SIGTERM finishes the micro-batch
in flight, then stops.

**Adaptive micro-batch size.** Caught up, a read returns what arrived since the last one (fewer than
``batch_count``): small micro-batches, each event waits for at most one micro-batch in flight — the
latency regime. A read that comes back full means the log holds more: the next read asks for twice as
many, up to ``batch_count x batch_growth``, so a lagging indexer amortises the fixed cost of a micro-batch
(a query, a tail-write round trip, an acknowledgement) over more entries — the throughput regime. The
first read that is not full drops back to ``batch_count``. Memory stays bounded by the ceiling.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from feature_platform.artefact.format import Artefact, CompiledSource
from feature_platform.engine import (
    INGEST_DAY,
    MicroBatchPlan,
    events_schema,
    polars_schema,
    required_columns,
    scan_source,
    table_root,
    wide_schema,
)
from feature_platform.engine.plan import EVENT_ID
from feature_platform.errors import FeaturePlatformError, StoreError
from feature_platform.runtimes.online import OnlineStore, OnlineStoreError, StreamStatus, TailEvent
from feature_platform.runtimes.stream._log import DeadLetter, EventLog, EventLogError, LogEntry
from feature_platform.runtimes.stream._metrics import StreamMetrics
from feature_platform.store import ArtefactStore

logger = logging.getLogger(__name__)

ENTRY = "_fp_entry"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNDECODABLE = "undecodable payload"
DEDUP_TAIL_FACTOR = 4
_DAY_US = 86_400_000_000


@dataclass(frozen=True)
class IndexerConfig:
    env: str
    consumer: str = "indexer-0"
    features: tuple[str, ...] = ()
    """Feature ids or names to index (empty: every live feature reading a stream)."""
    group_prefix: str = "fp-indexer"
    batch_count: int = 2_000
    batch_growth: int = 8
    """Under lag a micro-batch grows (doubling per full read) up to ``batch_count x batch_growth``; 1: fixed."""
    batch_ms: int = 20
    reload_seconds: float = 2.0
    lookup_refresh_seconds: float = 30.0
    claim_idle_ms: int = 30_000
    claim_every_seconds: float = 1.0
    status_seconds: float = 1.0
    trim_every_seconds: float = 60.0
    """How often the event log is trimmed of the entries every group has acknowledged (``EventLog.trim``)."""
    log_keep_seconds: float = 172_800.0
    """Acknowledged entries appended within this long are kept anyway (0: none), so a group created later
    (a new feature version starts at the beginning of the log) still builds its tail from the recent ones:
    two days cover the day the batch has not loaded yet and the one before it."""
    raw_root: str = "fp_data/raw"
    storage_options: dict[str, str] | None = None

    def __post_init__(self) -> None:
        # A count of 0 is an unbounded read for XREADGROUP: the backpressure bound must be a real one.
        for name in ("batch_count", "batch_growth"):
            if getattr(self, name) < 1:
                msg = f"{name} must be at least 1, got {getattr(self, name)}"
                raise ValueError(msg)


def tail_bound(artefact: Artefact) -> int:
    """How many tail events a user keeps (the newest, by the ranking's order).

    ``dedup_by`` always holds a field (the compiler requires one; the default is the event id alone). When
    it is the event id alone, ``max_length`` is exact: the tail is keyed by event id, so its N newest events
    have N distinct ids, and each of them (or a newer batch copy of it) ranks ahead of any older tail event,
    which therefore can never be among the N served. With other
    ``dedup_by`` fields several tail events may collapse into one, so the tail keeps ``4 x max_length``
    (capped at 10 000): exact unless more than 3 N of a user's events in one day's tail are duplicates of
    newer ones."""
    feature = artefact.feature
    if set(feature.dedup_by) <= {EVENT_ID}:
        return feature.max_length
    return min(10_000, DEDUP_TAIL_FACTOR * feature.max_length)


def streamed_sources(artefact: Artefact) -> dict[str, str]:
    """Source name -> stream name, for every events source of the feature that has a stream."""
    names = {artefact.event_types[t].source for t in artefact.feature.event_types}
    return {n: s.stream.stream for n in sorted(names) if (s := artefact.sources[n]).stream is not None}


def day_of(micros: int) -> date:
    return (EPOCH + timedelta(microseconds=micros)).date()


def day_start_us(day: date) -> int:
    return int((datetime(day.year, day.month, day.day, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1))


@dataclass
class Unit:
    """One live feature: its artefact and its consumer group on each of its sources' streams."""

    artefact: Artefact
    group: str
    streams: dict[str, str]
    recover: set[str] = field(default_factory=set)
    """Streams whose own pending entries must be re-read first (at start, after an error)."""
    newest_event_us: int | None = None
    last_committed_arrival_us: int | None = None
    events_written: int = 0
    entries_processed: int = 0
    batch_size: dict[str, int] = field(default_factory=dict)
    """Per stream: how many entries the next read asks for (adaptive, see the module docstring)."""
    plan: MicroBatchPlan | None = None
    plan_key: tuple[Any, ...] | None = None
    """The engine plan of this artefact over one version of its lookup tables (see :meth:`plan_for`)."""

    @property
    def feature_id(self) -> str:
        return self.artefact.feature.id

    def plan_for(self, lookups: Lookups) -> MicroBatchPlan:
        """The micro-batch plan, built once per artefact and lookup-table version and reused by every
        micro-batch until either changes (a hot reload makes a new unit; a lookup refresh a new version)."""
        tables, version = lookups.versioned(self.artefact)
        key = (self.artefact.content_hash, version)
        if self.plan is None or self.plan_key != key or self.plan.artefact is not self.artefact:
            self.plan = MicroBatchPlan(
                self.artefact, tables, finish_events=tail_rows(self.artefact), check_sources=True
            )
            self.plan_key = key
        return self.plan


class Lookups:
    """Lookup tables held in memory, reloaded when their files change (checked every ``refresh`` seconds).

    Staleness is bounded by ``refresh`` plus one load: a new lookup partition is used by the micro-batches
    that start after it is noticed. Batch and stream read the same tables."""

    def __init__(
        self,
        raw_root: str,
        storage_options: dict[str, str] | None,
        refresh: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._raw_root = raw_root
        self._options = storage_options
        self._refresh = refresh
        self._clock = clock
        self._tables: dict[str, tuple[Any, float, pl.DataFrame, int]] = {}  # by source name + definition
        self.reloads = 0

    def _signature(self, source: CompiledSource) -> Any:
        root = table_root(source, self._raw_root)
        if "://" in root:
            return None  # object storage: reloaded every ``refresh`` seconds
        return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in Path(root).glob("*.parquet")))

    def get(self, artefact: Artefact, name: str) -> pl.DataFrame:
        return self._get(artefact, name)[0]

    def _get(self, artefact: Artefact, name: str) -> tuple[pl.DataFrame, int]:
        """The table and its version (a number that changes whenever it is loaded again)."""
        source = artefact.sources[name]
        now = self._clock()
        key = f"{name}:{source.model_dump_json()}"  # two versions may declare one source differently
        cached = self._tables.get(key)
        if cached is not None and now - cached[1] < self._refresh:
            return cached[2], cached[3]
        signature = self._signature(source)
        if cached is not None and signature is not None and signature == cached[0]:
            self._tables[key] = (signature, now, cached[2], cached[3])
            return cached[2], cached[3]
        frame = scan_source(
            source, self._raw_root, storage_options=self._options, needed_by=required_columns(artefact, name)
        ).frame.collect()
        self.reloads += 1
        self._tables[key] = (signature, now, frame, self.reloads)
        logger.info("lookup table %s loaded (%d rows)", name, frame.height)
        return frame, self.reloads

    def for_artefact(self, artefact: Artefact) -> dict[str, pl.DataFrame]:
        return self.versioned(artefact)[0]

    def versioned(self, artefact: Artefact) -> tuple[dict[str, pl.DataFrame], tuple[tuple[str, int], ...]]:
        """The artefact's lookup tables and their version: equal versions mean the very same tables."""
        names = sorted(
            {
                enrichment.lookup.source
                for t in artefact.feature.event_types
                for e in artefact.event_types[t].enrichments
                if (enrichment := artefact.enrichments[e]).lookup is not None
            }
        )
        loaded = {n: self._get(artefact, n) for n in names}
        return {n: t for n, (t, _) in loaded.items()}, tuple((n, v) for n, (_, v) in loaded.items())


class StreamIndexer:
    def __init__(
        self,
        config: IndexerConfig,
        store: ArtefactStore,
        log: EventLog,
        online: OnlineStore,
        *,
        metrics: StreamMetrics | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.log = log
        self.online = online
        self.metrics = metrics or StreamMetrics()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.units: dict[str, Unit] = {}
        self.refused: dict[str, str] = {}
        self.lookups = Lookups(config.raw_root, config.storage_options, config.lookup_refresh_seconds)
        self.stopping = False
        self._last_reload = -1e18
        self._last_claim = -1e18
        self._last_status = -1e18
        self._last_trim = time.monotonic()  # the first trim one interval after start
        self._rotation = 0
        self._failpoint_hits: dict[str, int] = {}
        stage, _, rest = os.environ.get("FP_STREAM_FAILPOINT", "").partition(":")
        nth, _, mode = rest.partition(":")
        self._failpoint = (stage, int(nth or 1), mode or "hang") if stage else None

    def failpoint(self, stage: str) -> None:
        """Fault-injection hook for the crash tests (``FP_STREAM_FAILPOINT=read|dead|tail[:N[:MODE]]``): the
        N-th time a micro-batch reaches ``stage`` the process writes ``FP_STREAM_FAILPOINT_FILE`` and waits
        there, holding the micro-batch's pending entries. ``MODE`` says until when: ``hang`` (default) until
        the test kills it; ``stop`` until a SIGTERM/SIGINT has arrived, then the micro-batch goes on (the
        graceful-stop test); ``resume`` until ``<FP_STREAM_FAILPOINT_FILE>.resume`` exists, then it goes on
        (the Redis-restart test stops Redis under a micro-batch in flight). Unset (always in production):
        a no-op."""
        if self._failpoint is None or self._failpoint[0] != stage:
            return
        self._failpoint_hits[stage] = hits = self._failpoint_hits.get(stage, 0) + 1
        if hits != self._failpoint[1]:
            return
        marker = os.environ.get("FP_STREAM_FAILPOINT_FILE")
        if marker:
            Path(marker).write_text(stage)
        mode = self._failpoint[2]
        if mode == "stop":
            while not self.stopping:
                time.sleep(0.01)
        elif mode == "resume" and marker:
            resume = Path(f"{marker}.resume")
            while not resume.exists():
                time.sleep(0.01)
        else:
            while True:
                time.sleep(3600)

    # control ---------------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def stop(signum: int, frame: Any) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Index until SIGTERM (or ``until()``): each loop finishes its micro-batch before checking."""
        backoff = 0.05
        while not self.stopping and not (until is not None and until()):
            try:
                self.step()
                backoff = 0.05
            except (EventLogError, OnlineStoreError, ConnectionError, OSError) as exc:
                self.metrics.errors.inc()
                logger.warning("stream indexer: %s; retrying in %.2fs", exc, backoff)
                for unit in self.units.values():
                    unit.recover.update(unit.streams.values())
                time.sleep(backoff)
                backoff = min(2.0, backoff * 2)
        self.write_status(force=True, quiet=True)

    def step(self) -> int:
        """One round: reload, claim, one micro-batch per unit; block briefly when idle. Returns entries done."""
        now = time.monotonic()
        if now - self._last_reload >= self.config.reload_seconds:
            self.reload()
            self._last_reload = now
        claim = now - self._last_claim >= self.config.claim_every_seconds
        if claim:
            self._last_claim = now
        if now - self._last_trim >= self.config.trim_every_seconds:
            self._last_trim = now
            self.trim_log()
        done = 0
        for unit in list(self.units.values()):
            for source, stream in unit.streams.items():
                if self.stopping:  # SIGTERM: the micro-batch in flight is done; start no other
                    return done
                done += self._serve_one(unit, source, stream, claim=claim, block_ms=0)
        if self.stopping:
            return done
        if done == 0 and self.units:
            pairs = [(u, s, st) for u in self.units.values() for s, st in u.streams.items()]
            unit, source, stream = pairs[self._rotation % len(pairs)]
            self._rotation += 1
            done += self._serve_one(unit, source, stream, claim=False, block_ms=self.config.batch_ms)
        elif not self.units:
            time.sleep(self.config.batch_ms / 1000)
        self.write_status()
        return done

    def trim_log(self) -> int:
        """Trim every stream the units read of what all its groups have acknowledged (keeping the last
        ``log_keep_seconds`` of appends); returns how many entries went. A failure is counted and logged,
        and the next interval tries again: trimming never holds up indexing."""
        keep = self.config.log_keep_seconds
        keep_after_ms = int(self.clock().timestamp() * 1000 - keep * 1000) if keep > 0 else None
        trimmed = 0
        for stream in sorted({s for unit in self.units.values() for s in unit.streams.values()}):
            try:
                count = self.log.trim(stream, keep_after_ms=keep_after_ms)
            except EventLogError as exc:
                self.metrics.errors.inc()
                logger.warning("could not trim the event log's stream %s (retrying next interval): %s", stream, exc)
                continue
            self.metrics.trimmed.labels(stream).inc(count)
            trimmed += count
        return trimmed

    # artefacts --------------------------------------------------------------------------------------

    def _wanted(self, artefact: Artefact) -> bool:
        chosen = self.config.features
        return not chosen or artefact.feature.id in chosen or artefact.feature.name in chosen

    def reload(self) -> None:
        """Follow the environment's pointers: swap in changed artefacts; refuse ones that do not load."""
        live: set[str] = set()
        try:
            feature_ids = self.store.list_features(self.config.env)
        except StoreError as exc:  # the artefact store is unreachable: keep indexing what runs, ask again later
            self.metrics.errors.inc()
            logger.warning("cannot read the pointers of %s (the loaded artefacts keep running): %s",
                           self.config.env, exc)
            return
        for feature_id in feature_ids:
            try:
                entry = self.store.current(self.config.env, feature_id)
                if entry is None:
                    continue
                current = self.units.get(feature_id)
                if current is not None and current.artefact.content_hash == entry.to_hash:
                    live.add(feature_id)
                    self.refused.pop(feature_id, None)
                    continue
                artefact = self.store.get_artefact(entry.to_hash)
                if artefact.feature.id != feature_id:
                    msg = f"pointer names artefact of feature {artefact.feature.id!r}"
                    raise FeaturePlatformError(msg)
                live.add(feature_id)
                if not self._wanted(artefact) or not streamed_sources(artefact):
                    continue
                self._activate(artefact, current)
                self.refused.pop(feature_id, None)
            except (EventLogError, OnlineStoreError):
                raise  # the log or the store is down, not the artefact: run() retries with backoff
            except (FeaturePlatformError, ValueError, OSError) as exc:
                if feature_id in self.units:
                    live.add(feature_id)  # the previous version keeps running
                if self.refused.get(feature_id) != str(exc):
                    self.metrics.reload_refusals.inc()
                    logger.error(
                        "refused to load %s in %s (the previous version keeps running): %s",
                        feature_id,
                        self.config.env,
                        exc,
                    )
                self.refused[feature_id] = str(exc)
        for gone in set(self.units) - live:
            logger.info("%s is no longer live in %s: stopped", gone, self.config.env)
            del self.units[gone]

    def _activate(self, artefact: Artefact, previous: Unit | None) -> None:
        feature_id = artefact.feature.id
        self.lookups.for_artefact(artefact)  # fail here (refused) rather than in a micro-batch
        streams = streamed_sources(artefact)
        group = f"{self.config.group_prefix}.{feature_id}"
        for stream in streams.values():
            self.log.ensure_group(stream, group)
        unit = Unit(artefact=artefact, group=group, streams=streams, recover=set(streams.values()))
        if previous is not None:
            unit.newest_event_us = previous.newest_event_us
            unit.events_written = previous.events_written
            unit.entries_processed = previous.entries_processed
        else:
            status = self.online.get_stream_status(feature_id)
            if status is not None and status.newest_event_at is not None:
                unit.newest_event_us = int((status.newest_event_at - EPOCH) // timedelta(microseconds=1))
        self.units[feature_id] = unit
        self.metrics.artefact(feature_id, artefact.content_hash or "")
        logger.info(
            "indexing %s at %s from %s", feature_id, (artefact.content_hash or "")[:12], ", ".join(streams.values())
        )

    # micro-batches ----------------------------------------------------------------------------------

    def _serve_one(self, unit: Unit, source: str, stream: str, *, claim: bool, block_ms: int) -> int:
        count = base = self.config.batch_count
        entries: list[LogEntry] = []
        if stream in unit.recover:
            entries = self.log.read(stream, unit.group, self.config.consumer, count, pending=True)
            if not entries:
                unit.recover.discard(stream)
        if not entries and claim:
            entries = self.log.claim(
                stream, unit.group, self.config.consumer, min_idle_ms=self.config.claim_idle_ms, count=count
            )
            if entries:
                self.metrics.claimed.inc(len(entries))
        if not entries:
            count = unit.batch_size.get(stream, base)
            entries = self.log.read(stream, unit.group, self.config.consumer, count, block_ms=block_ms)
            ceiling = base * max(1, self.config.batch_growth)
            unit.batch_size[stream] = min(ceiling, 2 * count) if len(entries) >= count else base
        if entries:
            self.process(unit, source, stream, entries)
        return len(entries)

    def process(self, unit: Unit, source_name: str, stream: str, entries: list[LogEntry]) -> None:
        """Run the plan over ``entries``, write dead letters and the tail, then acknowledge."""
        started = time.perf_counter()
        self.failpoint("read")
        artefact = unit.artefact
        source = artefact.sources[source_name]
        plan = unit.plan_for(self.lookups)
        frame, undecodable = decode_entries(source, entries)
        letters = [
            DeadLetter(
                key=f"{stream}/{e.id}/",
                feature_id=unit.feature_id,
                stream=stream,
                entry_id=e.id,
                event_type="",
                source=source_name,
                reason=UNDECODABLE,
                event_id=None,
                user_id=None,
                raw=e.payload.decode("utf-8", "replace"),
            )
            for e in undecodable
        ]
        events_parts: list[pl.DataFrame] = []
        for day, part in by_arrival_day(frame):
            end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            rows, rejects = plan.run({source_name: part}, max_event_time=end - timedelta(microseconds=1))
            events_parts.append(rows)
            letters.extend(dead_letters(unit.feature_id, stream, rejects))
        self.log.put_dead_letters(letters)
        self.failpoint("dead")
        written = self._write_tail(unit, events_parts)
        self.failpoint("tail")
        self.log.ack(stream, unit.group, [e.id for e in entries])
        unit.entries_processed += len(entries)
        unit.events_written += written
        unit.last_committed_arrival_us = max(e.arrived_us for e in entries)
        self.metrics.entries.labels(unit.feature_id).inc(len(entries))
        self.metrics.events.labels(unit.feature_id).inc(written)
        self.metrics.dead.labels(unit.feature_id).inc(len(letters))
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    def _write_tail(self, unit: Unit, parts: list[pl.DataFrame]) -> int:
        """Write the micro-batch's tail rows (:func:`tail_rows` of each arrival day's events)."""
        artefact = unit.artefact
        if not parts:
            return 0
        encoded = parts[0]
        if len(parts) > 1:  # several arrival days in one micro-batch: the replay rule across them too
            encoded = latest_per_event(pl.concat(parts, how="vertical").lazy(), "e", "t").collect()
        if encoded.height == 0:
            return 0
        bound = tail_bound(artefact)
        users, ids, times, arrivals, jsons = (encoded.get_column(c).to_list() for c in ("u", "e", "t", "a", "j"))
        by_user: dict[str, list[TailEvent]] = {}
        for user, event in zip(users, map(TailEvent, ids, arrivals, times, jsons), strict=True):
            tail = by_user.get(user)
            if tail is None:
                by_user[user] = [event]
            else:
                tail.append(event)
        self.online.append_tails(unit.feature_id, by_user, bound=bound)
        newest = encoded.get_column("t").max()
        if isinstance(newest, int):
            unit.newest_event_us = max(newest, unit.newest_event_us or newest)
        return encoded.height

    # status -----------------------------------------------------------------------------------------

    def write_status(self, *, force: bool = False, quiet: bool = False) -> None:
        """Lag and newest event time per feature, to the online store (serving, Dagster) and the metrics."""
        now_mono = time.monotonic()
        if not force and now_mono - self._last_status < self.config.status_seconds:
            return
        self._last_status = now_mono
        now = self.clock()
        for unit in list(self.units.values()):
            try:
                lag_entries = 0
                lag_seconds = 0.0
                for stream in unit.streams.values():
                    info = self.log.group_info(stream, unit.group)
                    lag_entries += info.lag + info.pending
                    head = self.log.head_arrival_us(stream)
                    if info.lag + info.pending and head is not None:
                        done = unit.last_committed_arrival_us or head
                        lag_seconds = max(lag_seconds, (head - min(done, head)) / 1e6)
                dead = self.log.count_dead_letters(unit.feature_id)
                newest = (
                    EPOCH + timedelta(microseconds=unit.newest_event_us) if unit.newest_event_us is not None else None
                )
                self.online.put_stream_status(
                    StreamStatus(
                        feature_id=unit.feature_id,
                        artefact_hash=unit.artefact.content_hash or "",
                        heartbeat_at=now,
                        newest_event_at=newest,
                        lag_seconds=lag_seconds,
                        lag_entries=lag_entries,
                        events_written=unit.events_written,
                        dead_letters=dead,
                        entries_processed=unit.entries_processed,
                    )
                )
                self.metrics.lag_entries.labels(unit.feature_id).set(lag_entries)
                self.metrics.lag_seconds.labels(unit.feature_id).set(lag_seconds)
                self.metrics.dead_total.labels(unit.feature_id).set(dead)
            except (EventLogError, OnlineStoreError) as exc:
                if not quiet:
                    raise
                logger.warning("could not write the stream status of %s: %s", unit.feature_id, exc)


def latest_per_event(frame: pl.LazyFrame, event_id: str, timestamp: str) -> pl.LazyFrame:
    """Replays within a micro-batch: per event id the row with the latest timestamp, then the first read
    (the batch rule), in read order."""
    return frame.filter(pl.col(timestamp) == pl.col(timestamp).max().over(event_id)).unique(
        subset=[event_id], keep="first", maintain_order=True
    )


def tail_rows(artefact: Artefact) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """What the indexer appends to the engine's events plan (it runs in the same query): the replay rule
    within the micro-batch, then each event as a tail row: user ``u``, event id ``e``, timestamp ``t`` and
    arrival ``a`` (µs; the start of its arrival day) and the event's JSON ``j`` (bytes; every field but the
    user)."""
    user = artefact.feature.entity_key.name
    columns = [c for c in events_schema(artefact) if c != user]

    def finish(events: pl.LazyFrame) -> pl.LazyFrame:
        return latest_per_event(events, "event_id", "timestamp").select(
            pl.col(user).cast(pl.String).alias("u"),
            pl.col("event_id").alias("e"),
            pl.col("timestamp").dt.epoch("us").alias("t"),
            (pl.col(INGEST_DAY).cast(pl.Datetime("us", "UTC")).dt.epoch("us")).alias("a"),
            pl.struct(columns).struct.json_encode().cast(pl.Binary).alias("j"),
        )

    return finish


def by_arrival_day(frame: pl.DataFrame) -> list[tuple[date, pl.DataFrame]]:
    """``frame`` split by ``_ingest_day`` in order of first appearance (almost always one day)."""
    if frame.height == 0:
        return []
    days = frame.get_column(INGEST_DAY)
    first = days[0]
    if days.min() == days.max():
        assert isinstance(first, date)
        return [(first, frame)]
    out = []
    for (day,), part in frame.group_by(INGEST_DAY, maintain_order=True):
        assert isinstance(day, date)
        out.append((day, part))
    return out


def decode_entries(source: CompiledSource, entries: list[LogEntry]) -> tuple[pl.DataFrame, list[LogEntry]]:
    """The raw frame of ``entries`` as read (the declared columns, + ``_fp_entry`` and ``_ingest_day``)
    and the entries whose payload is not a JSON object.

    Fast path: the payloads as one NDJSON document read by polars with the declared schema. If that fails
    (an integer out of its declared range), the same document is read with every integer type widened to
    ``Int128`` (:func:`~feature_platform.engine.wide_schema`), so the value is kept and the plan
    (``check_sources``) rejects the row as out of range. If that fails too (a payload that is not a JSON
    object, a value of the wrong JSON type), the slow path decodes each payload on its own and converts
    values non-strictly to the widened types, so one bad row never fails a micro-batch."""
    document = b"\n".join([e.payload for e in entries])
    lines = len(entries) - 1
    # one JSON object per line: no payload holds a newline and every one starts with "{" (counted in C)
    if entries and document[:1] == b"{" and document.count(b"\n") == lines == document.count(b"\n{"):
        for schema in (polars_schema(source.columns), wide_schema(source)):
            try:
                frame = pl.read_ndjson(document, schema=schema)
            except (pl.exceptions.PolarsError, ValueError, TypeError):
                continue
            if frame.height == len(entries):
                return frame.hstack(_entry_columns(entries)), []
            break
    return _decode_slowly(wide_schema(source), entries)


def _decode_slowly(declared: pl.Schema, entries: list[LogEntry]) -> tuple[pl.DataFrame, list[LogEntry]]:
    names = list(declared)
    columns: dict[str, list[Any]] = {n: [] for n in names}
    good: list[LogEntry] = []
    bad: list[LogEntry] = []
    for entry in entries:
        try:
            row = orjson.loads(entry.payload)
        except orjson.JSONDecodeError:
            row = None
        if not isinstance(row, dict):
            bad.append(entry)
            continue
        for n in names:
            columns[n].append(row.get(n))
        good.append(entry)
    data: dict[str, pl.Series] = {}
    for n, dtype in declared.items():
        try:
            data[n] = pl.Series(n, columns[n], dtype=dtype, strict=False)
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            data[n] = pl.Series(n, [None if v is None else str(v) for v in columns[n]], dtype=pl.String).cast(
                dtype, strict=False
            )
    return pl.DataFrame(data, schema=declared).hstack(_entry_columns(good)), bad


def _entry_columns(entries: list[LogEntry]) -> list[pl.Series]:
    """The entry id (``_fp_entry``) and arrival day (``_ingest_day``) of each entry."""
    ids = pl.Series(ENTRY, [e.id for e in entries], dtype=pl.String)
    days = pl.Series(INGEST_DAY, [e.arrived_us // _DAY_US for e in entries], dtype=pl.Int32).cast(pl.Date)
    return [ids, days]


def dead_letters(feature_id: str, stream: str, rejects: pl.DataFrame) -> list[DeadLetter]:
    out = []
    marker = f',"{ENTRY}":'
    for row in rejects.iter_rows(named=True):
        raw: str = row["raw"]
        cut = raw.rfind(marker)
        entry_id = orjson.loads(raw[cut + len(marker) : -1])
        out.append(
            DeadLetter(
                key=f"{stream}/{entry_id}/{row['event_type']}",
                feature_id=feature_id,
                stream=stream,
                entry_id=str(entry_id),
                event_type=row["event_type"],
                source=row["source"],
                reason=row["reason"],
                event_id=row["event_id"],
                user_id=row["user_id"],
                raw=raw[:cut] + "}",
            )
        )
    return out
