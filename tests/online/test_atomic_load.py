"""Per-user atomic loads: a load that fails part-way leaves every user whole (the old day's part with its
tail, or the new day's part with the tail it covers trimmed, never a mix), the feature's state unmoved and
nobody removed; a reader running during a load only ever sees each user's old or new part. Both backends.
A read takes a user's batch part and tail from one instant (one SQLite read transaction; one Redis script
per user), even when a load commits between its two statements."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from feature_platform.runtimes.batch import read_snapshot
from feature_platform.runtimes.online import (
    OnlineStore,
    OnlineStoreError,
    RedisOnlineStore,
    SqliteOnlineStore,
    TailEvent,
    batch_end,
    load_day,
    to_micros,
)
from feature_platform.runtimes.online import _load as online_load
from tests.online.conftest import REDIS_URL, OnlineTables

FEATURE = "recent_searches_v1"


def _blobs(online_tables: OnlineTables, day: date, tmp_path: Path) -> dict[str, bytes]:
    """Each user's batch part of ``day`` as a complete load writes it (a reference store of its own)."""
    reference = SqliteOnlineStore(tmp_path / f"reference-{day}.sqlite")
    try:
        load_day(online_tables.artefacts[FEATURE], day, online_tables.locations, reference)
        users = _users(online_tables, day)
        return {u: r.batch for u, r in zip(users, reference.read_users_sync(FEATURE, users), strict=True)
                if r.batch is not None}
    finally:
        reference.close()


def _users(online_tables: OnlineTables, day: date) -> list[str]:
    snapshot = read_snapshot(FEATURE, day, online_tables.locations)
    return [str(u) for u in snapshot.get_column("user_id").unique().sort().to_list()]


def _covered_tail(day: date, n: int) -> list[TailEvent]:
    """Tail entries that arrived during ``day`` (so the batch of ``day`` covers them, the day before's not)."""
    arrived = batch_end(day) - timedelta(hours=1)
    return [TailEvent(event_id=f"streamed-{i}", arrived_us=to_micros(arrived),
                      timestamp_us=to_micros(arrived - timedelta(minutes=i)),
                      json=b'{"event_id": "streamed-%d"}' % i) for i in range(n)]


class FailingMidLoad:
    """The store, except that its ``fail_at``-th ``write_batch`` writes the first half of its users and then
    fails (a connection lost, a disk full, a killed process in the middle of a load)."""

    def __init__(self, store: OnlineStore, fail_at: int) -> None:
        self._store = store
        self._fail_at = fail_at
        self.calls = 0

    def write_batch(self, feature_id: str, day: date, users: list[str], blobs: Any) -> Any:
        self.calls += 1
        if self.calls == self._fail_at:
            half = len(users) // 2
            self._store.write_batch(feature_id, day, users[:half], list(blobs)[:half])
            raise OnlineStoreError("injected: connection lost in the middle of a load")
        return self._store.write_batch(feature_id, day, users, blobs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _other_handle(store: OnlineStore, tmp_path: Path) -> OnlineStore:
    """A second connection to the same store (another process's view: the server while a job loads)."""
    if isinstance(store, SqliteOnlineStore):
        return SqliteOnlineStore(tmp_path / "online.sqlite")
    assert isinstance(store, RedisOnlineStore)
    return RedisOnlineStore(REDIS_URL, prefix=store._prefix)


@pytest.fixture
def two_days(online_tables: OnlineTables, tmp_path: Path) -> Iterator[tuple[date, date, dict[str, bytes],
                                                                             dict[str, bytes]]]:
    old, new = online_tables.days[-2], online_tables.days[-1]
    yield old, new, _blobs(online_tables, old, tmp_path), _blobs(online_tables, new, tmp_path)


def test_a_load_that_fails_part_way_leaves_every_user_old_or_new_never_mixed(
    store: OnlineStore, online_tables: OnlineTables, two_days: tuple[date, date, dict[str, bytes], dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new, old_blobs, new_blobs = two_days
    artefact = online_tables.artefacts[FEATURE]
    load_day(artefact, old, online_tables.locations, store)
    users = sorted(set(old_blobs) | set(new_blobs))
    streamed = [u for u in users if u in old_blobs and u in new_blobs]
    for user in streamed:
        store.append_tail(FEATURE, user, _covered_tail(new, 3), bound=100)

    monkeypatch.setattr(online_load, "USERS_PER_CHUNK", 9)  # many chunks, so the failure is mid-load
    failing = FailingMidLoad(store, fail_at=4)
    with pytest.raises(OnlineStoreError, match="injected"):
        load_day(artefact, new, online_tables.locations, failing)  # type: ignore[arg-type]
    assert failing.calls == 4

    state = store.get_state(FEATURE)
    assert state is not None and state.batch_day == old  # the state moves only after a whole load
    now_old, now_new = [], []
    for user, record in zip(users, store.read_users_sync(FEATURE, users), strict=True):
        tail = sorted(e.event_id for e in record.tail)
        if record.batch is not None and record.batch == new_blobs.get(user):
            now_new.append(user)
            assert tail == [], user  # the new part's write trimmed the tail it covers, in the same step
        else:
            assert record.batch == old_blobs.get(user), user  # untouched: the old part (or none), never a mix
            now_old.append(user)
            assert tail == (["streamed-0", "streamed-1", "streamed-2"] if user in streamed else []), user
    assert now_new and now_old  # the failure really was in the middle
    assert all(u in old_blobs for u in now_old if u not in new_blobs)  # nobody removed by a failed load

    result = load_day(artefact, new, online_tables.locations, store)  # run again: completes
    assert result.users == len(new_blobs)
    records = store.read_users_sync(FEATURE, users)
    assert {u: r.batch for u, r in zip(users, records, strict=True) if r.batch is not None} == new_blobs
    assert not any(r.tail for r in records)
    state = store.get_state(FEATURE)
    assert state is not None and state.batch_day == new


def test_a_reader_during_a_load_sees_each_user_old_or_new(
    store: OnlineStore, online_tables: OnlineTables, two_days: tuple[date, date, dict[str, bytes], dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old, new, old_blobs, new_blobs = two_days
    artefact = online_tables.artefacts[FEATURE]
    load_day(artefact, old, online_tables.locations, store)
    both = sorted(set(old_blobs) & set(new_blobs))
    monkeypatch.setattr(online_load, "USERS_PER_CHUNK", 3)  # many small commits to read between
    reader = _other_handle(store, tmp_path)
    seen: list[str] = []
    problems: list[str] = []
    done = threading.Event()

    def read_until_done() -> None:
        while not done.is_set() or not seen:
            for user, record in zip(both, reader.read_users_sync(FEATURE, both), strict=True):
                if record.batch == new_blobs[user]:
                    seen.append("new")
                elif record.batch == old_blobs[user]:
                    seen.append("old")
                else:
                    problems.append(f"user {user}: {'no part' if record.batch is None else 'other bytes'}")

    thread = threading.Thread(target=read_until_done)
    thread.start()
    try:
        load_day(artefact, new, online_tables.locations, store)
    finally:
        done.set()
        thread.join(timeout=120)
        reader.close()
    assert not thread.is_alive()
    assert problems == []
    assert seen  # the reader read (how much of each it saw depends on scheduling; what it saw may not)


def test_a_read_sees_a_users_batch_part_and_tail_from_one_instant(
    online_tables: OnlineTables, two_days: tuple[date, date, dict[str, bytes], dict[str, bytes]], tmp_path: Path
) -> None:
    """Deterministic: the load's write of one user commits exactly between the reader's two statements (a
    trace callback on the reader's connection runs it when the tail statement starts)."""
    old, new, old_blobs, new_blobs = two_days
    user = sorted(set(old_blobs) & set(new_blobs))[0]
    writer = SqliteOnlineStore(tmp_path / "online.sqlite")
    writer.write_batch(FEATURE, old, [user], [old_blobs[user]])
    writer.append_tail(FEATURE, user, _covered_tail(new, 2), bound=100)
    reader = SqliteOnlineStore(tmp_path / "online.sqlite")
    fired = []

    def between_statements(statement: str) -> None:
        if statement.startswith("SELECT event_id, value FROM tail") and not fired:
            fired.append(statement)
            writer.write_batch(FEATURE, new, [user], [new_blobs[user]])  # a load's commit, from elsewhere

    reader._db.set_trace_callback(between_statements)
    try:
        (record,) = reader.read_users_sync(FEATURE, [user])
    finally:
        reader._db.set_trace_callback(None)
        reader.close()
        writer.close()
    assert fired
    whole = {(old_blobs[user], 2), (new_blobs[user], 0)}  # old part with its tail, or new part, trimmed
    assert (record.batch, len(record.tail)) in whole
