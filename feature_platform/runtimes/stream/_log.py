"""The event log: one small interface, two backends (Redis Streams in production, SQLite embedded).

One stream per raw events source (the artefact's ``sources.<S>.stream.stream``). An entry is the raw row
as a JSON object plus its **arrival time** (µs since the epoch, set by the producer: now for live events,
the partition day for a replay of a raw partition — the batch path partitions by arrival day, so the two
agree on which day an event belongs to). Consumers read through **consumer groups**: each group has its
own position; an entry delivered to a consumer stays *pending* until acknowledged; a consumer that
restarts under the same name re-reads its own pending entries first; a live consumer *claims* entries a
dead one left pending for longer than ``min_idle``. That gives at-least-once delivery; the indexer makes
its writes idempotent and acknowledges after writing, which together make what is served exactly-once.

Dead letters live next to the log, per feature, keyed by (log entry id, event type): writing one twice
(a redelivery after a crash) stores it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from feature_platform.errors import FeaturePlatformError


class EventLogError(FeaturePlatformError):
    """The event log cannot be reached or answered with an error (the indexer retries)."""


class LogEntry(NamedTuple):
    """One entry: its id in the stream (ordered), arrival time (µs) and the raw row (a JSON object).

    A named tuple, not a dataclass: the indexer makes one per entry read (tens of thousands a second)."""

    id: str
    arrived_us: int
    payload: bytes


@dataclass(frozen=True)
class DeadLetter:
    """One malformed event of one feature: why, which event type, and the raw row as it arrived."""

    key: str
    """``<stream>/<entry id>/<event type>``: unique per malformed row and event type."""
    feature_id: str
    stream: str
    entry_id: str
    event_type: str
    source: str
    reason: str
    event_id: str | None
    user_id: str | None
    raw: str


@dataclass(frozen=True)
class GroupInfo:
    """A consumer group's position: entries not yet delivered (lag) and delivered but not acknowledged."""

    lag: int
    pending: int
    last_delivered: str


class EventLog(Protocol):
    def describe(self) -> str: ...

    def append(self, stream: str, entries: list[tuple[int, bytes]]) -> list[str]:
        """Append (arrival µs, payload) pairs in order; return their ids."""
        ...

    def ensure_group(self, stream: str, group: str) -> None:
        """Create the group at the start of the stream (a new feature reads everything retained)."""
        ...

    def read(
        self, stream: str, group: str, consumer: str, count: int, *, block_ms: int = 0, pending: bool = False
    ) -> list[LogEntry]:
        """New entries for ``consumer`` (they become pending), or with ``pending`` its own pending ones."""
        ...

    def ack(self, stream: str, group: str, ids: list[str]) -> None: ...

    def claim(self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int) -> list[LogEntry]:
        """Take over entries pending with any consumer for at least ``min_idle_ms`` (a crashed one)."""
        ...

    def group_info(self, stream: str, group: str) -> GroupInfo: ...

    def head_arrival_us(self, stream: str) -> int | None:
        """Arrival time of the newest entry (None if empty)."""
        ...

    def trim(self, stream: str, *, keep_after_ms: int | None = None) -> int:
        """Delete the entries every consumer group of ``stream`` has acknowledged, and return how many.

        Never an entry some group still needs: per group, nothing at or after its oldest pending entry or
        after its last delivered one goes; a stream without any group is left whole. ``keep_after_ms``
        (epoch ms) keeps the entries appended since then even when acknowledged, so a group created later
        (a new feature version, which starts at the beginning of the log) still finds the recent ones."""
        ...

    def put_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Store each letter once (idempotent by key)."""
        ...

    def dead_letters(self, feature_id: str) -> list[DeadLetter]: ...

    def count_dead_letters(self, feature_id: str) -> int: ...

    def delete_streams(self, streams: list[str]) -> None:
        """Remove streams and their groups (tests, benchmarks)."""
        ...

    def close(self) -> None: ...


def open_event_log(url: str, *, prefix: str = "fp") -> EventLog:
    """``redis://…`` (Redis Streams, keys under ``prefix``), else a SQLite file (``sqlite:///PATH`` or a path)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from feature_platform.runtimes.stream._redis_log import RedisEventLog

        return RedisEventLog(url, prefix=prefix)
    from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog

    return SqliteEventLog(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
