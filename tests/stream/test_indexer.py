"""The indexer in process, on both log backends and both online stores: the stream alone serves exactly
the batch snapshot's sequences, malformed rows are dead letters with the batch's reasons (once each),
redelivery writes nothing twice, and the tail stays bounded and is trimmed by an online load."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from feature_platform.runtimes.online import OnlineStore, SqliteOnlineStore, load_day
from feature_platform.runtimes.stream import EventLog, IndexerConfig, StreamIndexer, streamed_sources, tail_bound
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables
from tests.stream.helpers import (
    GROUP_PREFIX,
    batch_rejects,
    caught_up,
    day_end,
    dead_letter_counter,
    log_ids,
    oracle,
    replay_days,
    served,
)


def _indexer(published: Published, tables: OnlineTables, log: EventLog, online: OnlineStore,
             **kw: object) -> StreamIndexer:
    config = IndexerConfig(env="dev", consumer="t", raw_root=tables.locations.raw_root, reload_seconds=3600,
                           claim_idle_ms=60_000, **kw)  # type: ignore[arg-type]
    return StreamIndexer(config, published.store, log, online)


def test_stream_alone_serves_the_batch_sequences_and_dead_letters_the_batch_rejects(
    log: EventLog, published: Published, online_tables: OnlineTables, tmp_path: Path
) -> None:
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    artefacts = online_tables.artefacts
    appended = replay_days(log, artefacts, online_tables.locations.raw_root, online_tables.days)
    assert appended > 10_000
    indexer = _indexer(published, online_tables, log, online, batch_count=700)
    indexer.run(until=lambda: bool(indexer.units) and caught_up(log, artefacts))
    last = online_tables.days[-1]
    for feature_id, artefact in artefacts.items():
        expected = oracle(online_tables.locations, feature_id, last)
        assert served(online, artefact, sorted(expected), day_end(last)) == expected
        assert dead_letter_counter(log, feature_id) == batch_rejects(online_tables.locations, feature_id)
        status = online.get_stream_status(feature_id)
        assert status is not None and status.lag_entries == 0 and status.newest_event_at is not None
        assert status.dead_letters == sum(batch_rejects(online_tables.locations, feature_id).values()) > 0
        state = online.get_state(feature_id)
        assert state is not None and state.stream_heartbeat_at is not None
    # The event-id-only features keep exactly max_length tail events, and that bound is hit here (so the
    # served = oracle above covers a tail trimmed to exactly N); recent_searches dedups by query: 4 N.
    closeups = artefacts["recent_closeups_v1"]
    assert closeups.feature.dedup_by == ("event_id",) and tail_bound(closeups) == closeups.feature.max_length
    tails = online.read_users_sync("recent_closeups_v1", sorted(oracle(online_tables.locations,
                                                                       "recent_closeups_v1", last)))
    assert max(len(r.tail) for r in tails) == closeups.feature.max_length
    searches = artefacts["recent_searches_v1"]
    assert tail_bound(searches) == 4 * searches.feature.max_length

    # Redelivery (a crash before the acknowledgement) rewrites the same tail and the same dead letters.
    feature_id = "recent_engagements_v1"
    artefact = artefacts[feature_id]
    stream = streamed_sources(artefact)["engagement_events"]
    before_tail = online.read_users_sync(feature_id, sorted(oracle(online_tables.locations, feature_id, last)))
    before_dead = log.count_dead_letters(feature_id)
    log.ensure_group(stream, "again")
    entries = log.read(stream, "again", "x", 100_000)
    indexer.process(indexer.units[feature_id], "engagement_events", stream, entries)
    assert log.count_dead_letters(feature_id) == before_dead
    after = online.read_users_sync(feature_id, sorted(oracle(online_tables.locations, feature_id, last)))
    assert [sorted((e.event_id, e.json) for e in r.tail) for r in after] == \
        [sorted((e.event_id, e.json) for e in r.tail) for r in before_tail]
    online.close()


def test_online_load_trims_the_tail_and_the_merge_stays_exact(
    published: Published, online_tables: OnlineTables, tmp_path: Path, redis_store: OnlineStore
) -> None:
    from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog

    log = SqliteEventLog(tmp_path / "log.sqlite")
    artefacts = online_tables.artefacts
    days = online_tables.days
    replay_days(log, artefacts, online_tables.locations.raw_root, days)
    indexer = _indexer(published, online_tables, log, redis_store)
    indexer.run(until=lambda: bool(indexer.units) and caught_up(log, artefacts))
    for feature_id, artefact in artefacts.items():
        expected = oracle(online_tables.locations, feature_id, days[-1])
        users = sorted(expected)
        tail_before = sum(len(r.tail) for r in redis_store.read_users_sync(feature_id, users))
        load_day(artefact, days[-2], online_tables.locations, redis_store)  # batch now owns days[..-2]
        records = redis_store.read_users_sync(feature_id, users)
        tail_after = sum(len(r.tail) for r in records)
        assert 0 < tail_after < tail_before
        assert all(e.arrived_us >= int(day_end(days[-2]).timestamp() * 1e6) for r in records for e in r.tail)
        assert all(len(r.tail) <= indexer_bound(artefact) for r in records)
        assert served(redis_store, artefact, users, day_end(days[-1])) == expected
        later = day_end(days[-1]) + timedelta(hours=5)
        assert served(redis_store, artefact, users, later) == served(redis_store, artefact, users, later)
    log.close()


def indexer_bound(artefact: object) -> int:
    from feature_platform.runtimes.stream import tail_bound

    return tail_bound(artefact)  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]"])
def test_undecodable_payloads_are_dead_letters(payload: bytes, published: Published, online_tables: OnlineTables,
                                               tmp_path: Path) -> None:
    from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog

    log = SqliteEventLog(tmp_path / "log.sqlite")
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    artefacts = {"recent_searches_v1": online_tables.artefacts["recent_searches_v1"]}
    log.append("search_events", [(int(day_end(online_tables.days[0]).timestamp() * 1e6), payload)])
    indexer = _indexer(published, online_tables, log, online, features=("recent_searches_v1",))
    indexer.run(until=lambda: bool(indexer.units) and caught_up(log, artefacts, GROUP_PREFIX))
    letters = log.dead_letters("recent_searches_v1")
    assert [(d.reason, d.raw) for d in letters] == [("undecodable payload", payload.decode())]
    log.close()
    online.close()


def test_lookup_tables_are_reloaded_when_their_files_change(online_tables: OnlineTables, tmp_path: Path) -> None:
    import shutil

    import polars as pl

    from feature_platform.runtimes.stream import Lookups

    raw = tmp_path / "raw"
    shutil.copytree(online_tables.locations.raw_root, raw)
    artefact = online_tables.artefacts["recent_engagements_v1"]
    lookups = Lookups(str(raw), None, refresh=0)  # check on every micro-batch (default: every 30 s)
    before = lookups.for_artefact(artefact)
    assert lookups.for_artefact(artefact)["item_categories"] is before["item_categories"]  # unchanged: cached
    table = raw / "item_categories"
    frame = pl.read_parquet(str(table / "*.parquet"))
    changed = frame.with_columns(pl.lit("new-category").alias("category"))
    for path in table.glob("*.parquet"):
        path.unlink()
    changed.write_parquet(table / "part-new.parquet")  # a newer lookup partition lands
    after = lookups.for_artefact(artefact)
    assert after["item_categories"]["category"].unique().to_list() == ["new-category"]
    assert lookups.reloads == 3  # two tables at first, then the changed one


def test_the_indexer_trims_the_log_of_what_it_acknowledged_keeping_recent_appends(
    log: EventLog, published: Published, online_tables: OnlineTables, tmp_path: Path
) -> None:
    feature_id = "recent_searches_v1"
    artefacts = {feature_id: online_tables.artefacts[feature_id]}
    stream = streamed_sources(artefacts[feature_id])["search_events"]
    appended = replay_days(log, artefacts, online_tables.locations.raw_root, online_tables.days)
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    indexer = _indexer(published, online_tables, log, online, features=(feature_id,), trim_every_seconds=0)
    indexer.run(until=lambda: bool(indexer.units) and caught_up(log, artefacts))
    last = online_tables.days[-1]
    expected = oracle(online_tables.locations, feature_id, last)
    assert len(log_ids(log, stream)) == appended  # every step trimmed, but all of it was appended just now

    indexer.config = dataclasses.replace(indexer.config, log_keep_seconds=0)
    indexer.step()  # trims every interval (0 here): everything is acknowledged, nothing is kept
    assert log_ids(log, stream) == []
    text = generate_latest(indexer.metrics.registry).decode()
    assert f'fp_stream_trimmed_entries_total{{stream="{stream}"}} {float(appended)}' in text
    assert served(online, artefacts[feature_id], sorted(expected), day_end(last)) == expected  # the tail stays

    ids = log.append(stream, [(0, b"not json")])  # a new entry arrives after the trim
    assert log_ids(log, stream) == ids
    indexer.run(until=lambda: caught_up(log, artefacts))
    assert any(d.raw == "not json" for d in log.dead_letters(feature_id))  # processed (a dead letter)
    indexer.step()
    assert log_ids(log, stream) == []
    online.close()
