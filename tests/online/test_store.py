"""The online store's contract, on both backends: per-user atomic writes that never regress, removal,
an idempotent and bounded tail, and the tail trimmed by the batch that covers it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import polars as pl
import pytest

from feature_platform.runtimes.online import (
    BLOB_FORMAT,
    BlobFormatError,
    OnlineStore,
    SqliteOnlineStore,
    TailEvent,
    decode_blob,
    encode_snapshot,
    to_micros,
)

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def _frame(users: dict[int, int], day: date) -> pl.DataFrame:
    rows = [
        {"user_id": u, "position": p, "event_id": f"{u}-{p}-{day}", "timestamp": datetime(2026, 11, day.day, 20 - p,
                                                                                         tzinfo=UTC), "x": p}
        for u, n in users.items() for p in range(n)
    ]
    return pl.DataFrame(rows, schema={"user_id": pl.Int64, "position": pl.Int32, "event_id": pl.String,
                                      "timestamp": pl.Datetime("us", "UTC"), "x": pl.Int64})


def _blobs(users: dict[int, int], day: date) -> tuple[list[str], list[bytes]]:
    encoded = encode_snapshot(_frame(users, day), user_column="user_id", event_columns=["event_id", "timestamp", "x"],
                              day=day, artefact_hash="h" * 64)
    return encoded.users, encoded.blobs


def test_blob_round_trip() -> None:
    users, blobs = _blobs({1: 3, 22: 1}, D1)
    assert users == ["1", "22"]
    part = decode_blob(blobs[0])
    assert part.day == D1 and part.artefact_hash == "h" * 64 and part.count == 3
    events = orjson.loads(b"[" + part.events_json(0, 3) + b"]")
    assert [e["event_id"] for e in events] == ["1-0-2026-11-01", "1-1-2026-11-01", "1-2-2026-11-01"]
    assert list(part.timestamps) == sorted(part.timestamps, reverse=True)
    assert orjson.loads(part.event_json(1))["x"] == 1


def test_a_newer_day_is_never_overwritten(store: OnlineStore) -> None:
    users, blobs = _blobs({1: 2, 2: 2}, D2)
    assert store.write_batch("f_v1", D2, users, blobs).written == 2
    old_users, old_blobs = _blobs({1: 5, 3: 1}, D1)
    counts = store.write_batch("f_v1", D1, old_users, old_blobs)
    assert (counts.written, counts.kept_newer) == (1, 1)  # user 3 is new; user 1 keeps D2
    records = store.read_users_sync("f_v1", ["1", "2", "3", "404"])
    assert [decode_blob(r.batch).day if r.batch else None for r in records] == [D2, D2, D1, None]


def test_users_absent_from_a_newer_snapshot_are_removed(store: OnlineStore) -> None:
    store.write_batch("f_v1", D1, *_blobs({1: 2, 2: 2}, D1))
    store.write_batch("f_v1", D2, *_blobs({1: 1}, D2))
    assert store.remove_users_older_than("f_v1", D2) == 1
    assert [r.batch is not None for r in store.read_users_sync("f_v1", ["1", "2"])] == [True, False]


def _tail(event_id: str, arrived: datetime, ts: datetime) -> TailEvent:
    body = orjson.dumps({"event_id": event_id, "timestamp": ts.isoformat(), "x": 0})
    return TailEvent(event_id=event_id, arrived_us=to_micros(arrived), timestamp_us=to_micros(ts), json=body)


def test_tail_is_idempotent_by_event_id_and_bounded(store: OnlineStore) -> None:
    t = datetime(2026, 11, 3, 10, tzinfo=UTC)
    events = [_tail(f"e{i}", t, t.replace(minute=i)) for i in range(5)]
    assert store.append_tail("f_v1", "1", events, bound=10) == 5
    assert store.append_tail("f_v1", "1", events[:3], bound=10) == 5  # replays overwrite themselves
    assert store.append_tail("f_v1", "1", [_tail("e9", t, t.replace(minute=9))], bound=3) == 3
    kept = sorted(e.event_id for e in store.read_users_sync("f_v1", ["1"])[0].tail)
    assert kept == ["e3", "e4", "e9"]  # the newest three by event time


def test_loading_a_day_trims_the_tail_it_covers(store: OnlineStore) -> None:
    store.append_tail("f_v1", "1", [
        _tail("late", datetime(2026, 11, 2, 23, tzinfo=UTC), datetime(2026, 11, 2, 22, tzinfo=UTC)),
        _tail("now", datetime(2026, 11, 3, 1, tzinfo=UTC), datetime(2026, 11, 3, 0, 30, tzinfo=UTC)),
    ], bound=10)
    store.write_batch("f_v1", D2, *_blobs({1: 1}, D2))  # the batch of D2 has what arrived before D2+1
    assert [e.event_id for e in store.read_users_sync("f_v1", ["1"])[0].tail] == ["now"]


def test_a_blob_of_an_unknown_format_is_refused() -> None:
    _, blobs = _blobs({1: 2}, D1)
    blob = blobs[0]
    assert blob[10] == BLOB_FORMAT
    newer = blob[:10] + bytes([BLOB_FORMAT + 1]) + blob[11:]
    with pytest.raises(BlobFormatError, match="not understood"):
        decode_blob(newer)
    with pytest.raises(BlobFormatError, match="too short"):
        decode_blob(blob[:12])


def test_head_and_body_pairs_store_the_same_bytes_as_whole_blobs(store: OnlineStore) -> None:
    """The loader hands (head, body view) pairs; each backend stores exactly ``head + body``."""
    encoded = encode_snapshot(_frame({1: 3, 2: 1, 3: 2}, D1), user_column="user_id",
                              event_columns=["event_id", "timestamp", "x"], day=D1, artefact_hash="h" * 64)
    assert any(isinstance(body, memoryview) for body in encoded.bodies)
    assert store.write_batch("f_v1", D1, encoded.users, encoded.parts).written == 3
    assert [r.batch for r in store.read_users_sync("f_v1", encoded.users)] == encoded.blobs


def test_a_file_with_the_earlier_without_rowid_batch_table_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "online.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE batch (feature_id TEXT NOT NULL, user TEXT NOT NULL, day TEXT NOT NULL, blob BLOB NOT NULL, "
            "PRIMARY KEY (feature_id, user)) WITHOUT ROWID; CREATE INDEX batch_day ON batch (feature_id, day);")
    db.close()
    store = SqliteOnlineStore(path)
    try:
        store.write_batch("f_v1", D2, *_blobs({1: 1}, D2))
        assert store.write_batch("f_v1", D1, *_blobs({1: 2, 2: 1}, D1)).written == 1  # user 1 keeps D2
        assert [decode_blob(r.batch).day if r.batch else None
                for r in store.read_users_sync("f_v1", ["1", "2"])] == [D2, D1]
    finally:
        store.close()
