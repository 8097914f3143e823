"""The embedded backend of the online store: one SQLite file in WAL mode (no server needed).

Tables mirror the Redis keys: ``batch(feature_id, user, day, blob)`` (one row per user; the upsert
only replaces a row with a day that is not older), ``tail(feature_id, user, event_id, value)`` and
``state(feature_id, value)``. WAL lets the server read while a load writes; a load commits one
transaction per ``write_batch`` call (the loader passes a chunk of users), so each user's part is
replaced atomically.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import repeat
from pathlib import Path

from feature_platform.runtimes.online._codec import (
    Blob,
    TailEvent,
    arrival_prefix,
    blob_bytes,
    decode_tail_event,
    encode_tail_event,
)
from feature_platform.runtimes.online._store import (
    FeatureState,
    OnlineStoreError,
    StreamStatus,
    UserRecord,
    WriteCounts,
)

# ``batch`` is a rowid table (its rows are KBs to MBs of blob: a WITHOUT ROWID table, whose B-tree holds the
# rows themselves, cost 2.4x the CPU to load); files created before keep their WITHOUT ROWID table, which
# the same statements use. New files get 16 KiB pages (set before WAL, so only a new file takes it): with
# the rowid table, a load costs 2.4x less CPU than 4 KiB pages and WITHOUT ROWID (benchmarks/RESULTS.md).
_PAGE_SIZE = 16384
_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (feature_id TEXT NOT NULL, user TEXT NOT NULL, day TEXT NOT NULL,
    blob BLOB NOT NULL, PRIMARY KEY (feature_id, user));
CREATE INDEX IF NOT EXISTS batch_day ON batch (feature_id, day);
CREATE TABLE IF NOT EXISTS tail (feature_id TEXT NOT NULL, user TEXT NOT NULL, event_id TEXT NOT NULL,
    value BLOB NOT NULL, PRIMARY KEY (feature_id, user, event_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (feature_id TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_UPSERT = """
INSERT INTO batch (feature_id, user, day, blob) VALUES (?, ?, ?, ?)
ON CONFLICT (feature_id, user) DO UPDATE SET day = excluded.day, blob = excluded.blob
WHERE excluded.day >= batch.day
"""


class SqliteOnlineStore:
    """Online store in one SQLite file. One connection shared under a lock: reads take microseconds."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=30.0)
            self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # a no-op on an existing file
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    def describe(self) -> str:
        return f"sqlite {self._path}"

    def write_batch(self, feature_id: str, day: date, users: list[str], blobs: Sequence[Blob]) -> WriteCounts:
        """One transaction: an ``executemany`` upsert (never regressing: its ``WHERE``) and one ``DELETE``
        of the tail entries the written parts cover (their users now hold a part of ``day``)."""
        day_text = day.isoformat()
        cutoff = arrival_prefix(datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC))
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                before = self._db.total_changes
                rows = zip(repeat(feature_id), users, repeat(day_text), map(blob_bytes, blobs), strict=False)
                self._db.executemany(_UPSERT, rows)
                written = self._db.total_changes - before
                self._db.execute(
                    "DELETE FROM tail WHERE feature_id = ?1 AND substr(value, 1, 20) < ?2 AND user IN "
                    "(SELECT user FROM batch WHERE feature_id = ?1 AND day = ?3)", (feature_id, cutoff, day_text))
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return WriteCounts(written=written, kept_newer=len(users) - written)

    def remove_users_older_than(self, feature_id: str, day: date) -> int:
        try:
            with self._lock:
                cursor = self._db.execute("DELETE FROM batch WHERE feature_id = ? AND day < ?",
                                          (feature_id, day.isoformat()))
                return cursor.rowcount
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    def put_state(self, state: FeatureState) -> None:
        try:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO state (feature_id, value) VALUES (?, ?)",
                                 (state.feature_id, state.model_dump_json()))
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    def get_state(self, feature_id: str) -> FeatureState | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT value FROM state WHERE feature_id = ?", (feature_id,)).fetchone()
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return None if row is None else FeatureState.model_validate_json(row[0])

    def append_tail(self, feature_id: str, user: str, events: list[TailEvent], *, bound: int) -> int:
        rows = [
            (feature_id, user, e.event_id,
             encode_tail_event(e.event_id, _from_us(e.arrived_us), _from_us(e.timestamp_us), e.json))
            for e in events
        ]
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO tail VALUES (?, ?, ?, ?)", rows)
                self._db.execute(
                    "DELETE FROM tail WHERE feature_id = ?1 AND user = ?2 AND event_id NOT IN (SELECT event_id "
                    "FROM tail WHERE feature_id = ?1 AND user = ?2 ORDER BY substr(value, 21, 20) DESC, "
                    "event_id DESC LIMIT ?3)", (feature_id, user, bound))
                size = self._db.execute("SELECT count(*) FROM tail WHERE feature_id = ? AND user = ?",
                                        (feature_id, user)).fetchone()[0]
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return int(size)

    def read_users_sync(self, feature_id: str, users: list[str]) -> list[UserRecord]:
        try:
            with self._lock:
                # One read transaction: in WAL mode it is one snapshot, so a user's batch part and tail come
                # from one instant (two autocommit SELECTs could straddle a load's commit and show the old part
                # with the tail its new part already trimmed).
                self._db.execute("BEGIN")
                out = []
                for user in users:
                    row = self._db.execute("SELECT blob FROM batch WHERE feature_id = ? AND user = ?",
                                           (feature_id, user)).fetchone()
                    tail = self._db.execute("SELECT event_id, value FROM tail WHERE feature_id = ? AND user = ?",
                                            (feature_id, user)).fetchall()
                    out.append(UserRecord(batch=None if row is None else bytes(row[0]),
                                          tail=[decode_tail_event(k, bytes(v)) for k, v in tail]))
                self._db.execute("COMMIT")
                return out
        except sqlite3.Error as exc:
            self._rollback()
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    async def read_users(self, feature_id: str, users: list[str]) -> list[UserRecord]:
        # Point reads from the page cache take microseconds: cheaper inline than a thread hop.
        return self.read_users_sync(feature_id, users)

    async def ping(self) -> None:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    async def aclose(self) -> None:
        return None

    # streaming indexer status (issue 11) ------------------------------------------------------------

    def put_stream_status(self, status: StreamStatus) -> None:
        fresh = FeatureState(feature_id=status.feature_id, stream_heartbeat_at=status.heartbeat_at)
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO state (feature_id, value) VALUES (?, ?) ON CONFLICT (feature_id) DO UPDATE "
                    "SET value = json_set(state.value, '$.stream_heartbeat_at', ?)",
                    (status.feature_id, fresh.model_dump_json(), status.heartbeat_at.isoformat()))
                self._db.execute("CREATE TABLE IF NOT EXISTS stream_status (feature_id TEXT PRIMARY KEY, "
                                 "value TEXT NOT NULL)")
                self._db.execute("INSERT OR REPLACE INTO stream_status VALUES (?, ?)",
                                 (status.feature_id, status.model_dump_json()))
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    def append_tails(self, feature_id: str, tails: dict[str, list[TailEvent]], *, bound: int) -> None:
        rows = [
            (feature_id, user, e.event_id,
             _tail_value(e))
            for user, events in tails.items() for e in events
        ]
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO tail VALUES (?, ?, ?, ?)", rows)
                users = list(tails)
                over: list[str] = []
                for start in range(0, len(users), 500):
                    chunk = users[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    over += [u for u, n in self._db.execute(
                        f"SELECT user, count(*) FROM tail WHERE feature_id = ? AND user IN ({marks}) GROUP BY user",
                        (feature_id, *chunk)) if n > bound]
                for user in over:
                    self._db.execute(
                        "DELETE FROM tail WHERE feature_id = ?1 AND user = ?2 AND event_id NOT IN (SELECT event_id "
                        "FROM tail WHERE feature_id = ?1 AND user = ?2 ORDER BY substr(value, 21, 20) DESC, "
                        "event_id DESC LIMIT ?3)", (feature_id, user, bound))
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    def get_stream_status(self, feature_id: str) -> StreamStatus | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'stream_status'").fetchone()
                if row is None:
                    return None
                row = self._db.execute("SELECT value FROM stream_status WHERE feature_id = ?",
                                       (feature_id,)).fetchone()
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return None if row is None else StreamStatus.model_validate_json(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _from_us(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _tail_value(event: TailEvent) -> bytes:
    """``encode_tail_event`` without the datetime round trip (the streaming indexer's hot path)."""
    return f"{event.arrived_us:020d}{event.timestamp_us:020d}".encode("ascii") + event.json
