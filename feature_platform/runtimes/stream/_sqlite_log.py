"""The embedded event log: an append-only table in one SQLite file (WAL), shared by processes on one host.

Tables: ``entries(id INTEGER PRIMARY KEY AUTOINCREMENT, stream, arrived_us, payload, appended_ms)`` (append
only, and trimmed once every group has acknowledged an entry; an id is never reused),
``groups(stream, grp, last_id)`` (the group's position), ``pending(stream, grp, id,
consumer, delivered_ms)`` (delivered, not yet acknowledged) and ``dead_letters(feature_id, key, value)``.
Reading new entries moves the position and records them pending in one ``BEGIN IMMEDIATE``
transaction, so two consumers of a group never get the same new entry; claiming reassigns idle pending
rows the same way. Semantics follow Redis Streams consumer groups.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import orjson

from feature_platform.runtimes.stream._log import DeadLetter, EventLogError, GroupInfo, LogEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL,
    arrived_us INTEGER NOT NULL, payload BLOB NOT NULL, appended_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS entries_stream ON entries (stream, id);
CREATE TABLE IF NOT EXISTS groups (stream TEXT NOT NULL, grp TEXT NOT NULL, last_id INTEGER NOT NULL,
    PRIMARY KEY (stream, grp)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (stream TEXT NOT NULL, grp TEXT NOT NULL, id INTEGER NOT NULL,
    consumer TEXT NOT NULL, delivered_ms INTEGER NOT NULL, PRIMARY KEY (stream, grp, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (feature_id TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (feature_id, key)) WITHOUT ROWID;
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqliteEventLog:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=60.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_appended_ms()
        except sqlite3.Error as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc

    def _add_appended_ms(self) -> None:
        """Files written before trimming existed lack ``appended_ms``: add it (their rows get 0, appended
        long ago); another process adding it at the same moment is fine."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(entries)")}
        if "appended_ms" not in columns:
            try:
                self._db.execute("ALTER TABLE entries ADD COLUMN appended_ms INTEGER NOT NULL DEFAULT 0")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise

    def describe(self) -> str:
        return f"sqlite event log {self._path}"

    def _tx(self, work):  # type: ignore[no-untyped-def]
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                return result
        except sqlite3.Error as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc

    def append(self, stream: str, entries: list[tuple[int, bytes]]) -> list[str]:
        def work(db: sqlite3.Connection) -> list[str]:
            ids = []
            now = _now_ms()
            for arrived, payload in entries:
                cursor = db.execute(
                    "INSERT INTO entries (stream, arrived_us, payload, appended_ms) VALUES (?, ?, ?, ?)",
                    (stream, arrived, payload, now),
                )
                ids.append(str(cursor.lastrowid))
            return ids

        return list(self._tx(work))

    def ensure_group(self, stream: str, group: str) -> None:
        self._tx(lambda db: db.execute("INSERT OR IGNORE INTO groups VALUES (?, ?, 0)", (stream, group)))

    def read(
        self, stream: str, group: str, consumer: str, count: int, *, block_ms: int = 0, pending: bool = False
    ) -> list[LogEntry]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            found = self._read_once(stream, group, consumer, count, pending)
            if found or pending or time.monotonic() >= deadline:
                return found
            time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))

    def _read_once(self, stream: str, group: str, consumer: str, count: int, pending: bool) -> list[LogEntry]:
        def work(db: sqlite3.Connection) -> list[LogEntry]:
            if pending:
                rows = db.execute(
                    "SELECT e.id, e.arrived_us, e.payload FROM pending p JOIN entries e ON e.id = p.id "
                    "WHERE p.stream = ? AND p.grp = ? AND p.consumer = ? ORDER BY p.id LIMIT ?",
                    (stream, group, consumer, count),
                ).fetchall()
                return [LogEntry(str(i), a, bytes(p)) for i, a, p in rows]
            row = db.execute("SELECT last_id FROM groups WHERE stream = ? AND grp = ?", (stream, group)).fetchone()
            if row is None:
                db.execute("INSERT INTO groups VALUES (?, ?, 0)", (stream, group))
                last = 0
            else:
                last = int(row[0])
            rows = db.execute(
                "SELECT id, arrived_us, payload FROM entries WHERE stream = ? AND id > ? ORDER BY id LIMIT ?",
                (stream, last, count),
            ).fetchall()
            if rows:
                now = _now_ms()
                db.executemany(
                    "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?, ?)",
                    [(stream, group, r[0], consumer, now) for r in rows],
                )
                db.execute("UPDATE groups SET last_id = ? WHERE stream = ? AND grp = ?", (rows[-1][0], stream, group))
            return [LogEntry(str(i), a, bytes(p)) for i, a, p in rows]

        return list(self._tx(work))

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        if ids:
            self._tx(
                lambda db: db.executemany(
                    "DELETE FROM pending WHERE stream = ? AND grp = ? AND id = ?",
                    [(stream, group, int(i)) for i in ids],
                )
            )

    def claim(self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int) -> list[LogEntry]:
        def work(db: sqlite3.Connection) -> list[LogEntry]:
            now = _now_ms()
            rows = db.execute(
                "SELECT e.id, e.arrived_us, e.payload FROM pending p JOIN entries e ON e.id = p.id "
                "WHERE p.stream = ? AND p.grp = ? AND p.delivered_ms <= ? ORDER BY p.id LIMIT ?",
                (stream, group, now - min_idle_ms, count),
            ).fetchall()
            db.executemany(
                "UPDATE pending SET consumer = ?, delivered_ms = ? WHERE stream = ? AND grp = ? AND id = ?",
                [(consumer, now, stream, group, r[0]) for r in rows],
            )
            return [LogEntry(str(i), a, bytes(p)) for i, a, p in rows]

        return list(self._tx(work))

    def group_info(self, stream: str, group: str) -> GroupInfo:
        def work(db: sqlite3.Connection) -> GroupInfo:
            row = db.execute("SELECT last_id FROM groups WHERE stream = ? AND grp = ?", (stream, group)).fetchone()
            last = int(row[0]) if row else 0
            lag = db.execute("SELECT count(*) FROM entries WHERE stream = ? AND id > ?", (stream, last)).fetchone()[0]
            pending = db.execute(
                "SELECT count(*) FROM pending WHERE stream = ? AND grp = ?", (stream, group)
            ).fetchone()[0]
            return GroupInfo(lag=int(lag), pending=int(pending), last_delivered=str(last))

        result: GroupInfo = self._tx(work)
        return result

    def head_arrival_us(self, stream: str) -> int | None:
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT arrived_us FROM entries WHERE stream = ? ORDER BY id DESC LIMIT 1", (stream,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        return None if row is None else int(row[0])

    def trim(self, stream: str, *, keep_after_ms: int | None = None) -> int:
        """One ``BEGIN IMMEDIATE`` transaction (no group is created or moves while it runs): per group the
        oldest entry it may need (its oldest pending one, else the one after its last delivered id); delete
        the stream's entries below the least of those and appended before ``keep_after_ms``."""

        def work(db: sqlite3.Connection) -> int:
            needs = [int(need) for (need,) in db.execute(
                "SELECT min(coalesce((SELECT min(p.id) FROM pending p WHERE p.stream = g.stream AND p.grp = g.grp), "
                "g.last_id + 1), g.last_id + 1) FROM groups g WHERE g.stream = ?", (stream,))]
            if not needs:
                return 0
            floor = "" if keep_after_ms is None else " AND appended_ms < ?"
            args: tuple[object, ...] = (stream, min(needs)) + (() if keep_after_ms is None else (keep_after_ms,))
            return int(db.execute(f"DELETE FROM entries WHERE stream = ? AND id < ?{floor}", args).rowcount)

        result: int = self._tx(work)
        return result

    def put_dead_letters(self, letters: list[DeadLetter]) -> None:
        if letters:
            self._tx(
                lambda db: db.executemany(
                    "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?)",
                    [(d.feature_id, d.key, orjson.dumps(d)) for d in letters],
                )
            )

    def dead_letters(self, feature_id: str) -> list[DeadLetter]:
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT value FROM dead_letters WHERE feature_id = ? ORDER BY key", (feature_id,)
                ).fetchall()
        except sqlite3.Error as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        return [DeadLetter(**orjson.loads(r[0])) for r in rows]

    def count_dead_letters(self, feature_id: str) -> int:
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT count(*) FROM dead_letters WHERE feature_id = ?", (feature_id,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        return int(row[0])

    def delete_streams(self, streams: list[str]) -> None:
        for stream in streams:
            self._tx(
                lambda db, s=stream: (
                    db.execute("DELETE FROM entries WHERE stream = ?", (s,)),
                    db.execute("DELETE FROM groups WHERE stream = ?", (s,)),
                    db.execute("DELETE FROM pending WHERE stream = ?", (s,)),
                )
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
