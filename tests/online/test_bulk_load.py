"""The bulk load path (issue 10: 200k users in seconds): many users per Redis script call, one SQLite
transaction per chunk, chunks encoded while the previous one is written. Each rule of the per-user
path is checked again where users share a call or a chunk."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import cast

import pytest

from feature_platform.artefact.format import Artefact
from feature_platform.runtimes.online import (
    OnlineStore,
    OnlineStoreError,
    RedisOnlineStore,
    WriteCounts,
    _codec,
    _load,
    _redis,
    decode_blob,
)
from tests.online.test_store import D1, D2, _blobs, _frame, _tail

D3 = date(2026, 11, 3)
COLUMNS = ["event_id", "timestamp", "x"]


@pytest.fixture(autouse=True)
def _small_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few users per script call and per round trip, so the tests cross call and pipeline boundaries."""
    monkeypatch.setattr(_redis, "USERS_PER_CALL", 3)
    monkeypatch.setattr(_redis, "CALLS_PER_ROUND_TRIP", 2)


def _days(store: OnlineStore, users: list[str]) -> list[date | None]:
    return [decode_blob(r.batch).day if r.batch else None for r in store.read_users_sync("f_v1", users)]


@pytest.mark.parametrize(("users_per_chunk", "events_per_chunk"), [(1, 99), (2, 99), (5, 99), (1000, 99), (1000, 1),
                                                                    (1000, 4), (2, 5)])
def test_chunked_encoding_is_byte_identical(users_per_chunk: int, events_per_chunk: int) -> None:
    frame = _frame({1: 3, 2: 1, 7: 4, 9: 2, 11: 1}, D1)
    whole = _codec.encode_snapshot(frame, user_column="user_id", event_columns=COLUMNS, day=D1, artefact_hash="h" * 64)
    chunks = list(_codec.encode_chunks(frame, user_column="user_id", event_columns=COLUMNS, day=D1,
                                       artefact_hash="h" * 64, users_per_chunk=users_per_chunk,
                                       events_per_chunk=events_per_chunk))
    assert all(len(c.users) <= users_per_chunk for c in chunks)
    # a chunk stops at the event budget, except that it always holds at least one whole user
    sizes = {"1": 3, "2": 1, "7": 4, "9": 2, "11": 1}
    assert all(len(c.users) == 1 or sum(sizes[u] for u in c.users) <= events_per_chunk for c in chunks)
    assert [u for c in chunks for u in c.users] == whole.users == ["1", "2", "7", "9", "11"]
    assert [b for c in chunks for b in c.blobs] == whole.blobs
    part = decode_blob(whole.blobs[2])
    assert part.count == 4 and part.offsets[0] == 0 and part.offsets[-1] == len(part.body) + 1
    assert [part.event_json(i)[:18] for i in range(4)] == [f'{{"event_id":"7-{i}-2'.encode() for i in range(4)]


def test_one_call_mixes_new_newer_and_same_day_users(store: OnlineStore) -> None:
    store.write_batch("f_v1", D3, *_blobs({2: 1, 5: 1}, D3))  # users 2 and 5 already hold a newer day
    store.write_batch("f_v1", D2, *_blobs({3: 1}, D2))  # user 3 holds the same day: a reload replaces it
    users, blobs = _blobs({u: 2 for u in range(1, 9)}, D2)
    counts = store.write_batch("f_v1", D2, users, blobs)
    assert (counts.written, counts.kept_newer) == (6, 2)
    assert _days(store, [str(u) for u in range(1, 9)]) == [D2, D3, D2, D2, D3, D2, D2, D2]
    assert decode_blob(store.read_users_sync("f_v1", ["3"])[0].batch or b"").count == 2  # replaced


def test_removal_spans_calls_and_keeps_newer_parts(store: OnlineStore) -> None:
    store.write_batch("f_v1", D1, *_blobs({u: 1 for u in range(1, 9)}, D1))
    store.write_batch("f_v1", D2, *_blobs({1: 1, 4: 1}, D2))
    assert store.remove_users_older_than("f_v1", D2) == 6
    assert _days(store, [str(u) for u in range(1, 9)]) == [D2, None, None, D2, None, None, None, None]


def test_the_tail_is_trimmed_only_for_users_written(store: OnlineStore) -> None:
    late = _tail("late", datetime(2026, 11, 2, 23, tzinfo=UTC), datetime(2026, 11, 2, 22, tzinfo=UTC))
    now = _tail("now", datetime(2026, 11, 4, 1, tzinfo=UTC), datetime(2026, 11, 4, 0, 30, tzinfo=UTC))
    for user in ("1", "2", "6"):
        store.append_tail("f_v1", user, [late, now], bound=10)
    store.write_batch("f_v1", D3, *_blobs({2: 1}, D3))  # trims user 2's "late" (arrived before D3+1)
    store.append_tail("f_v1", "2", [late], bound=10)  # a replay after that load, kept until a newer one
    store.write_batch("f_v1", D2, *_blobs({u: 1 for u in range(1, 6)}, D2))  # user 2 keeps D3
    tails = {u: sorted(e.event_id for e in r.tail) for u, r in
             zip(("1", "2", "6"), store.read_users_sync("f_v1", ["1", "2", "6"]), strict=True)}
    assert tails == {"1": ["now"], "2": ["late", "now"], "6": ["late", "now"]}


ARTEFACT = cast(Artefact, SimpleNamespace(feature=SimpleNamespace(id="f_v1",
                                                                 entity_key=SimpleNamespace(name="user_id"))))


@pytest.mark.parametrize("encoders", [1, 2, 3])
def test_a_chunked_load_equals_a_single_chunk_load(store: OnlineStore, monkeypatch: pytest.MonkeyPatch,
                                                   encoders: int) -> None:
    """Chunks encoded by several threads at once are written in order and store what one chunk would."""
    artefact = ARTEFACT
    frame = _frame({u: (u % 3) + 1 for u in range(1, 12)}, D2)
    store.write_batch("f_v1", D1, *_blobs({40: 1}, D1))  # absent from the snapshot: removed
    monkeypatch.setattr(_load, "ENCODERS", encoders)
    monkeypatch.setattr(_load, "USERS_PER_CHUNK", 2)
    result = _load.load_snapshot(artefact, D2, frame, store, built_by="b" * 64)
    assert (result.users, result.written, result.kept_newer, result.removed) == (11, 11, 0, 1)
    single = _codec.encode_snapshot(frame, user_column="user_id", event_columns=COLUMNS, day=D2, artefact_hash="b" * 64)
    stored = store.read_users_sync("f_v1", single.users)
    assert [r.batch for r in stored] == single.blobs
    state = store.get_state("f_v1")
    assert state is not None and state.batch_day == D2 and state.batch_users == 11


def test_redis_load_is_one_script_call_per_users_per_call(redis_store: RedisOnlineStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    users, blobs = _blobs({u: 1 for u in range(1, 8)}, D1)
    calls: list[int] = []
    sends: list[int] = []
    pack, send = RedisOnlineStore._pack_write, _redis._RoundBuffer.send

    def counting_pack(self: RedisOnlineStore, buffer: object, feature_id: str, head: bytes, chunk: list[str],
                      parts: object) -> None:
        calls.append(len(chunk))
        pack(self, buffer, feature_id, head, chunk, parts)  # type: ignore[arg-type]

    def counting_send(self: object, connection: object) -> None:
        sends.append(len(calls))
        send(self, connection)  # type: ignore[arg-type]

    monkeypatch.setattr(RedisOnlineStore, "_pack_write", counting_pack)
    monkeypatch.setattr(_redis._RoundBuffer, "send", counting_send)
    assert redis_store.write_batch("f_v1", D1, users, blobs).written == 7
    assert calls == [3, 3, 1]
    assert sends == [2, 3]  # CALLS_PER_ROUND_TRIP calls per round trip


def test_a_load_into_an_unreachable_redis_is_a_store_error() -> None:
    from tests.online.conftest import free_port

    dead = RedisOnlineStore(f"redis://127.0.0.1:{free_port()}/0", prefix="fptest-dead", timeout=0.5)
    users, blobs = _blobs({1: 1, 2: 2}, D1)
    with pytest.raises(OnlineStoreError, match="dead"):
        dead.write_batch("f_v1", D1, users, blobs)
    dead.close()


def test_a_load_whose_writes_fail_stops_with_the_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed chunk write ends the load with its error (the encoders ahead of it are not waited for in vain)."""
    from tests.online.conftest import free_port

    monkeypatch.setattr(_load, "USERS_PER_CHUNK", 1)
    dead = RedisOnlineStore(f"redis://127.0.0.1:{free_port()}/0", prefix="fptest-dead", timeout=0.5)
    with pytest.raises(OnlineStoreError, match="dead"):
        _load.load_snapshot(ARTEFACT, D1, _frame({u: 2 for u in range(1, 9)}, D1), dead, built_by="b" * 64)
    dead.close()


def _staged(store: RedisOnlineStore) -> list[bytes]:
    return sorted(store._sync.scan_iter(match=store.staged_key("f_v1", "*"), count=1000))


def test_a_redis_load_leaves_no_staged_blob(redis_store: RedisOnlineStore) -> None:
    """Blobs are SET to a staging key and moved in by the script: the moved ones keep no expiry, and those
    of users holding a newer day are dropped, not left behind."""
    redis_store.write_batch("f_v1", D3, *_blobs({2: 1}, D3))
    users, blobs = _blobs({u: 1 for u in range(1, 8)}, D2)
    assert redis_store.write_batch("f_v1", D2, users, blobs).written == 6
    assert _staged(redis_store) == []
    assert {redis_store._sync.pttl(redis_store.batch_key("f_v1", u)) for u in users} == {-1}  # no expiry
    assert _days(redis_store, users) == [D2, D3, D2, D2, D2, D2, D2]


def test_a_write_transaction_that_fails_in_redis_is_a_store_error(redis_store: RedisOnlineStore) -> None:
    """A command failing inside EXEC is reported (not counted as written); a staged blob that the failed
    script did not move expires instead of staying forever."""
    redis_store._sync.hset(redis_store.batch_key("f_v1", "2"), "not", "a blob")  # GETRANGE on it fails
    users, blobs = _blobs({1: 1, 2: 1, 3: 1}, D1)
    with pytest.raises(OnlineStoreError, match="load transaction failed"):
        redis_store.write_batch("f_v1", D1, users, blobs)
    assert _days(redis_store, ["1"]) == [D1]  # moved before the failing user
    left = _staged(redis_store)
    assert left and all(0 < redis_store._sync.pttl(key) <= _redis.STAGED_EXPIRY_MS for key in left)


def test_rounds_bounded_by_bytes_keep_one_round_in_flight(redis_store: RedisOnlineStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Long sequences end a round at ``ROUND_BYTES``; a round's replies are read after the next is sent,
    and every transaction's count is still read (none lost at the end)."""
    monkeypatch.setattr(_redis, "ROUND_BYTES", 1)  # every call is its own round
    redis_store.write_batch("f_v1", D3, *_blobs({4: 1}, D3))
    users, blobs = _blobs({u: 2 for u in range(1, 9)}, D2)
    assert redis_store.write_batch("f_v1", D2, users, blobs) == WriteCounts(written=7, kept_newer=1)
    assert _days(redis_store, users) == [D2, D2, D2, D3, D2, D2, D2, D2]
