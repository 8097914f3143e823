"""The indexer's control loop in process: micro-batches bounded by count and by time, never reading ahead
of its writes (backpressure); the lag and newest event time it writes where serving and Dagster read
them; lookup staleness bounded by the refresh interval; and an unreachable log, online store or
artefact store retried without refusing an artefact or dropping the running ones."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from feature_platform.errors import StoreError
from feature_platform.orchestration.stream import STREAM_FRESHNESS, observation
from feature_platform.runtimes.online import SqliteOnlineStore, from_micros
from feature_platform.runtimes.stream import (
    EventLog,
    EventLogError,
    IndexerConfig,
    LogEntry,
    Lookups,
    StreamIndexer,
    payloads,
)
from feature_platform.runtimes.stream._indexer import day_start_us
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables
from tests.online.helpers import make_app
from tests.stream.helpers import caught_up, raw_users

FEATURE = "recent_searches_v1"
SOURCE = STREAM = "search_events"


def _config(tables: OnlineTables, **kw: Any) -> IndexerConfig:
    return IndexerConfig(**{"env": "dev", "consumer": "t", "features": (FEATURE,),
                            "raw_root": tables.locations.raw_root, "reload_seconds": 3600, **kw})


def test_micro_batches_are_bounded_by_count_and_time_and_never_read_ahead_of_the_writes(
    log: EventLog, published: Published, online_tables: OnlineTables, tmp_path: Path
) -> None:
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    artefact = online_tables.artefacts[FEATURE]
    day = online_tables.days[0]
    rows = payloads(artefact.sources[SOURCE], online_tables.locations.raw_root, day)[:250]
    log.append(STREAM, [(day_start_us(day) + i, p) for i, p in enumerate(rows)])
    indexer = StreamIndexer(_config(online_tables, batch_count=100, batch_growth=1, batch_ms=30), published.store,
                            log, online)
    reads: list[tuple[int, int, int]] = []  # (count asked, block ms, entries pending in the group before)
    sizes: list[int] = []
    real_read, real_process = log.read, indexer.process

    def read(stream: str, group: str, consumer: str, count: int, *, block_ms: int = 0,
             pending: bool = False) -> list[LogEntry]:
        if not pending:
            reads.append((count, block_ms, log.group_info(stream, group).pending))
        return real_read(stream, group, consumer, count, block_ms=block_ms, pending=pending)

    def process(unit: Any, source: str, stream: str, entries: list[LogEntry]) -> None:
        sizes.append(len(entries))
        real_process(unit, source, stream, entries)

    log.read = read  # type: ignore[method-assign]
    indexer.process = process  # type: ignore[method-assign]
    indexer.run(until=lambda: bool(indexer.units) and caught_up(log, {FEATURE: artefact}))
    # At most batch_count per micro-batch; the last, partial one did not wait for a full one.
    assert sizes == [100, 100, 50]
    assert {count for count, _, _ in reads} == {100}
    # Backpressure: every read of new entries comes after the previous micro-batch was acknowledged.
    assert [pending for _, _, pending in reads] == [0] * len(reads)
    # Caught up: a step waits at most batch_ms for a first entry, then returns with nothing.
    reads.clear()
    assert indexer.step() == 0
    assert max(block for _, block, _ in reads) == 30 and sizes == [100, 100, 50]
    online.close()


def test_status_carries_the_lag_and_newest_event_that_serving_and_dagster_read(
    published: Published, online_tables: OnlineTables, tmp_path: Path
) -> None:
    log = SqliteEventLog(tmp_path / "log.sqlite")
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    artefact = online_tables.artefacts[FEATURE]
    day = online_tables.days[-1]
    rows = payloads(artefact.sources[SOURCE], online_tables.locations.raw_root, day)
    assert 200 < len(rows) < 86_400
    second = 1_000_000
    log.append(STREAM, [(day_start_us(day) + i * second, p) for i, p in enumerate(rows)])  # one a second
    indexer = StreamIndexer(_config(online_tables, batch_count=100, batch_growth=1), published.store, log, online)
    users = raw_users(online_tables)

    def newest_in_tail() -> int:
        return max(e.timestamp_us for r in online.read_users_sync(FEATURE, users) for e in r.tail)

    assert indexer.step() == 100  # one micro-batch, then the status (the first one of the process)
    status = online.get_stream_status(FEATURE)
    assert status is not None
    assert status.lag_entries == len(rows) - 100
    assert status.lag_seconds == len(rows) - 100  # head arrival - newest committed arrival
    assert status.entries_processed == 100 and status.artefact_hash == artefact.content_hash
    assert status.newest_event_at == from_micros(newest_in_tail())
    behind = observation(FEATURE, status, artefact.feature.freshness, status.heartbeat_at)
    assert getattr(lag := behind.metadata["lag_entries"], "value", lag) == len(rows) - 100

    indexer.run(until=lambda: caught_up(log, {FEATURE: artefact}))
    indexer.write_status(force=True)
    status = online.get_stream_status(FEATURE)
    assert status is not None and (status.lag_entries, status.lag_seconds) == (0, 0.0)
    assert status.newest_event_at == from_micros(newest_in_tail())
    assert status.dead_letters == log.count_dead_letters(FEATURE) > 0

    # Dagster's observation reads that status: fresh now, stale once the heartbeat is older than the limit.
    limit = artefact.feature.freshness.streaming_max_lag_seconds
    checks = observation(FEATURE, status, artefact.feature.freshness, status.heartbeat_at).check_results
    assert {c.check_name: c.passed for c in checks}[STREAM_FRESHNESS] is True
    later = status.heartbeat_at + timedelta(seconds=limit + 1)
    checks = observation(FEATURE, status, artefact.feature.freshness, later).check_results
    assert {c.check_name: c.passed for c in checks}[STREAM_FRESHNESS] is False

    # Serving's profile reads the heartbeat the indexer wrote (stream present, fresh, then stale).
    user = next(u for u, r in zip(users, online.read_users_sync(FEATURE, users), strict=True) if r.tail)
    for at, stale in ((status.heartbeat_at + timedelta(seconds=1), False), (later, True)):
        with TestClient(make_app(published.store, online, clock=lambda at=at: at)) as client:
            profile = client.get(f"/v1/features/{FEATURE}/users/{user}/sequence").json()["profile"]
        assert profile["completeness"]["stream_missing"] is False
        assert profile["completeness"]["stream_stale"] is stale
        assert profile["stream_newest_event_at"] is not None
    log.close()
    online.close()


def test_a_new_lookup_partition_is_used_within_the_refresh_interval(online_tables: OnlineTables,
                                                                     tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(online_tables.locations.raw_root, raw)
    artefact = online_tables.artefacts["recent_engagements_v1"]
    now = [1_000.0]
    lookups = Lookups(str(raw), None, refresh=30, clock=lambda: now[0])
    before = lookups.for_artefact(artefact)["item_categories"]
    table = raw / "item_categories"
    changed = pl.read_parquet(str(table / "*.parquet")).with_columns(pl.lit("new-category").alias("category"))
    for path in table.glob("*.parquet"):
        path.unlink()
    changed.write_parquet(table / "part-new.parquet")  # a newer lookup partition lands at t = 1000 s
    now[0] = 1_029.9
    assert lookups.for_artefact(artefact)["item_categories"] is before  # stale, within the bound
    now[0] = 1_030.0
    assert lookups.for_artefact(artefact)["item_categories"]["category"].unique().to_list() == ["new-category"]
    assert IndexerConfig(env="dev").lookup_refresh_seconds == 30  # the bound docs/ARCHITECTURE.md states


class _Flaky:
    """A log or an artefact store whose calls named in ``failing`` raise ``error`` while ``down`` is set."""

    def __init__(self, inner: Any, error: Exception, *failing: str) -> None:
        self.inner, self.error, self.failing, self.down = inner, error, set(failing), False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in self.failing:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise self.error
            return attribute(*args, **kwargs)

        return call


def test_an_unreachable_log_or_artefact_store_is_retried_never_a_refusal(
    published: Published, online_tables: OnlineTables, tmp_path: Path
) -> None:
    log = _Flaky(SqliteEventLog(tmp_path / "log.sqlite"), EventLogError("log down"), "ensure_group", "read")
    store = _Flaky(published.store, StoreError("store down"), "list_features")
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    indexer = StreamIndexer(_config(online_tables, reload_seconds=0), store, log, online)  # type: ignore[arg-type]
    log.down = True
    with pytest.raises(EventLogError):  # to run()'s retry loop, not "refused to load"
        indexer.reload()
    assert indexer.refused == {} and indexer.metrics.reload_refusals._value.get() == 0 and not indexer.units
    indexer.run(until=lambda: indexer.metrics.errors._value.get() >= 2)  # retried with backoff, not raised
    log.down = False
    indexer.reload()
    assert set(indexer.units) == {FEATURE}
    store.down = True  # the artefact store is unreachable: what runs keeps running
    indexer.reload()
    assert set(indexer.units) == {FEATURE} and indexer.refused == {}
    store.down = False
    indexer.reload()
    assert set(indexer.units) == {FEATURE}
    log.inner.close()
    online.close()


def test_the_micro_batch_bounds_are_checked() -> None:
    for name in ("batch_count", "batch_growth"):
        with pytest.raises(ValueError, match=f"{name} must be at least 1"):
            IndexerConfig(env="dev", **{name: 0})  # type: ignore[arg-type]
