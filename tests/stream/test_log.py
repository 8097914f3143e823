"""The event log's contract, on both backends: ordered append, consumer groups (each new entry to one
consumer), pending until acknowledged, a restarted consumer re-reads its own pending entries, a live one
claims a dead one's, lag and pending counts, and dead letters stored once per key."""

from __future__ import annotations

from feature_platform.runtimes.stream import DeadLetter, EventLog
from tests.stream.helpers import log_ids


def _letter(key: str, reason: str = "null user_id") -> DeadLetter:
    return DeadLetter(key=key, feature_id="f_v1", stream="s", entry_id=key, event_type="t", source="s",
                      reason=reason, event_id=None, user_id=None, raw="{}")


def test_consumer_groups_pending_ack_and_claim(log: EventLog) -> None:
    ids = log.append("s", [(i, f'{{"n": {i}}}'.encode()) for i in range(10)])
    assert len(ids) == 10 and len(set(ids)) == 10
    log.ensure_group("s", "g")
    log.ensure_group("s", "g")  # idempotent
    assert log.group_info("s", "g").lag == 10
    first = log.read("s", "g", "a", 4)
    second = log.read("s", "g", "b", 4)
    assert [e.id for e in first] == ids[:4] and [e.id for e in second] == ids[4:8]
    assert [e.arrived_us for e in first] == [0, 1, 2, 3] and first[0].payload == b'{"n": 0}'
    info = log.group_info("s", "g")
    assert (info.lag, info.pending) == (2, 8)
    # "a" restarts under the same name: its pending entries come back first, and only to it
    assert [e.id for e in log.read("s", "g", "a", 100, pending=True)] == ids[:4]
    assert log.read("s", "g", "c", 100, pending=True) == []
    log.ack("s", "g", ids[:2])
    assert [e.id for e in log.read("s", "g", "a", 100, pending=True)] == ids[2:4]
    # "b" died: "c" claims what has been pending for at least min_idle (0 here)
    claimed = log.claim("s", "g", "c", min_idle_ms=0, count=100)
    assert {e.id for e in claimed} == set(ids[2:8])
    assert log.read("s", "g", "b", 100, pending=True) == []
    assert log.claim("s", "g", "d", min_idle_ms=3_600_000, count=100) == []  # nothing idle that long
    log.ack("s", "g", [e.id for e in claimed])
    assert [e.id for e in log.read("s", "g", "c", 100, block_ms=10)] == ids[8:]
    assert log.read("s", "g", "c", 100, block_ms=10) == []
    log.ack("s", "g", ids[8:])
    assert log.group_info("s", "g") .pending == 0 and log.group_info("s", "g").lag == 0
    # another group has its own position, from the start of the log
    log.ensure_group("s", "other")
    assert [e.id for e in log.read("s", "other", "a", 100)] == ids
    assert log.head_arrival_us("s") == 9


def test_dead_letters_are_stored_once_per_key(log: EventLog) -> None:
    log.put_dead_letters([_letter("s/1/t"), _letter("s/2/t")])
    log.put_dead_letters([_letter("s/1/t")])  # a redelivery
    assert [d.key for d in log.dead_letters("f_v1")] == ["s/1/t", "s/2/t"]
    assert log.count_dead_letters("f_v1") == 2 and log.count_dead_letters("other") == 0


def test_append_tails_equals_append_tail_per_user(tmp_path: object, redis_store: object) -> None:
    from pathlib import Path

    from feature_platform.runtimes.online import SqliteOnlineStore, TailEvent

    def ev(i: int) -> TailEvent:
        return TailEvent(event_id=f"e{i}", arrived_us=1, timestamp_us=1_000 + i, json=b'{"x": %d}' % i)

    for store in (SqliteOnlineStore(Path(str(tmp_path)) / "o.sqlite"), redis_store):
        tails = {"1": [ev(i) for i in range(7)], "2": [ev(i) for i in range(2)]}
        store.append_tails("bulk_v1", tails, bound=5)  # type: ignore[attr-defined]
        for user, events in tails.items():
            store.append_tail("single_v1", user, events, bound=5)  # type: ignore[attr-defined]
        bulk = store.read_users_sync("bulk_v1", ["1", "2"])  # type: ignore[attr-defined]
        single = store.read_users_sync("single_v1", ["1", "2"])  # type: ignore[attr-defined]
        ids = [sorted(e.event_id for e in r.tail) for r in bulk]
        assert ids == [sorted(e.event_id for e in r.tail) for r in single]
        assert sorted(e.event_id for e in bulk[0].tail) == ["e2", "e3", "e4", "e5", "e6"]


def test_stream_status_sets_the_heartbeat_without_touching_batch_fields(tmp_path: object, redis_store: object) -> None:
    from datetime import UTC, date, datetime
    from pathlib import Path

    from feature_platform.runtimes.online import FeatureState, SqliteOnlineStore, StreamStatus

    beat = datetime(2026, 11, 5, 12, tzinfo=UTC)
    for store in (SqliteOnlineStore(Path(str(tmp_path)) / "s.sqlite"), redis_store):
        status = StreamStatus(feature_id="f_v1", artefact_hash="h", heartbeat_at=beat, lag_entries=3)
        store.put_stream_status(status)  # type: ignore[attr-defined]  # no state yet: one is created
        assert store.get_state("f_v1").stream_heartbeat_at == beat  # type: ignore[attr-defined]
        store.put_state(FeatureState(feature_id="f_v1", batch_day=date(2026, 11, 4), batch_artefact_hash="b",  # type: ignore[attr-defined]
                                     batch_users=12))
        store.put_stream_status(status.model_copy(update={"heartbeat_at": beat.replace(hour=13)}))  # type: ignore[attr-defined]
        state = store.get_state("f_v1")  # type: ignore[attr-defined]
        assert (state.batch_day, state.batch_users, state.stream_heartbeat_at) == (date(2026, 11, 4), 12,
                                                                                   beat.replace(hour=13))
        assert store.get_stream_status("f_v1").lag_entries == 3  # type: ignore[attr-defined]


def test_trim_drops_what_every_group_acknowledged_and_keeps_pending_and_undelivered(log: EventLog) -> None:
    ids = log.append("s", [(i, f'{{"n": {i}}}'.encode()) for i in range(10)])
    assert log.trim("s") == 0 and log_ids(log, "s") == ids  # no group yet: a producer ahead of any indexer
    log.ensure_group("s", "a")
    log.ensure_group("s", "b")
    assert log.trim("s") == 0  # both groups still need everything

    assert [e.id for e in log.read("s", "a", "c", 6)] == ids[:6]
    log.ack("s", "a", ids[:4])  # a: 0-3 acknowledged, 4-5 pending, 6-9 undelivered
    assert [e.id for e in log.read("s", "b", "c", 3)] == ids[:3]
    log.ack("s", "b", ids[:3])  # b: 0-2 acknowledged, 3-9 undelivered
    assert log.trim("s") == 3
    assert log_ids(log, "s") == ids[3:]  # 3 is acknowledged by a but not delivered to b: kept
    assert [(e.id, e.payload) for e in log.read("s", "a", "c", 100, pending=True)] == [
        (ids[4], b'{"n": 4}'), (ids[5], b'{"n": 5}')]  # pending entries are whole
    assert [e.id for e in log.read("s", "b", "c", 100)] == ids[3:]
    assert [e.id for e in log.read("s", "a", "c", 100)] == ids[6:]
    assert log.trim("s") == 0  # everything left is pending somewhere
    log.ack("s", "a", ids[4:])
    assert log.trim("s") == 0  # b still has 3-9 pending
    log.ack("s", "b", ids[3:8])
    assert log.trim("s") == 5 and log_ids(log, "s") == ids[8:]
    log.ack("s", "b", ids[8:])
    assert log.trim("s") == 2 and log_ids(log, "s") == []
    for group in ("a", "b"):
        info = log.group_info("s", group)
        assert (info.lag, info.pending) == (0, 0)

    later = log.append("s", [(10, b'{"n": 10}')])  # after a trim to empty, new entries flow as before
    assert [e.id for e in log.read("s", "a", "c", 100)] == later == [e.id for e in log.read("s", "b", "c", 100)]
    assert log.trim("s") == 0


def test_trim_keeps_recent_appends_when_asked(log: EventLog) -> None:
    import time

    before = int(time.time() * 1000) - 1000
    ids = log.append("t", [(i, b"{}") for i in range(5)])
    after = int(time.time() * 1000) + 1000
    log.ensure_group("t", "g")
    log.read("t", "g", "c", 100)
    log.ack("t", "g", ids)
    assert log.trim("t", keep_after_ms=before) == 0  # appended after the floor: kept though acknowledged
    assert log_ids(log, "t") == ids
    log.ensure_group("t", "new-version")  # a group created later still finds them
    assert [e.id for e in log.read("t", "new-version", "c", 100)] == ids
    log.ack("t", "new-version", ids)
    assert log.trim("t", keep_after_ms=after) == 5 and log_ids(log, "t") == []
