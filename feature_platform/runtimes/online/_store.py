"""The online store's one interface: what the loader, the streaming indexer and the server need of a backend.

Two backends implement it: Redis (production, :mod:`._redis`) and SQLite in WAL mode (the embedded
default, :mod:`._sqlite`). Loading and tail writes are synchronous (batch jobs, indexers); serving
reads are ``async`` so one server process multiplexes many requests over one connection pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from feature_platform.errors import FeaturePlatformError
from feature_platform.runtimes.online._codec import Blob, TailEvent


class OnlineStoreError(FeaturePlatformError):
    """The online store cannot be reached or answered with an error (serving maps it to 503)."""


class FeatureState(BaseModel):
    """What the store holds for one feature as a whole (written by the loader and the streaming indexer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    feature_id: str
    batch_day: date | None = None
    batch_artefact_hash: str | None = None
    batch_users: int = 0
    batch_loaded_at: datetime | None = None
    stream_heartbeat_at: datetime | None = None
    """When the streaming indexer last committed (None until a stream exists)."""


class StreamStatus(BaseModel):
    """What the streaming indexer last reported for one feature (read by serving, Dagster and operators)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    feature_id: str
    artefact_hash: str
    heartbeat_at: datetime
    newest_event_at: datetime | None = None
    """The newest event time written to the tail so far (the newest servable event)."""
    lag_seconds: float | None = None
    """Heartbeat minus the arrival time of the newest entry committed (0 when caught up with the log head)."""
    lag_entries: int = 0
    """Log entries not yet delivered to this feature's consumer group, plus those pending acknowledgement."""
    events_written: int = 0
    dead_letters: int = 0
    """Dead letters this feature holds in the event log (malformed events, each stored once)."""
    entries_processed: int = 0


@dataclass(frozen=True)
class UserRecord:
    """One user's stored parts: the batch blob (None if absent) and the raw tail entries."""

    batch: bytes | None
    tail: list[TailEvent] = field(default_factory=list)


@dataclass(frozen=True)
class WriteCounts:
    written: int
    kept_newer: int


class OnlineStore(Protocol):
    """Per (feature id, user): a batch part (one blob, never regressing by day) and a bounded tail."""

    def describe(self) -> str: ...

    def write_batch(self, feature_id: str, day: date, users: list[str], blobs: Sequence[Blob]) -> WriteCounts:
        """Write each user's batch part unless the store holds a newer day for that user (atomic per user),
        and drop that user's tail entries that arrived before the end of ``day`` (the batch now has them)."""
        ...

    def remove_users_older_than(self, feature_id: str, day: date) -> int:
        """Delete batch parts older than ``day`` (users absent from the snapshot of ``day``); return how many."""
        ...

    def put_state(self, state: FeatureState) -> None: ...

    def get_state(self, feature_id: str) -> FeatureState | None: ...

    def append_tail(self, feature_id: str, user: str, events: list[TailEvent], *, bound: int) -> int:
        """Add streamed events, idempotent by event id; keep at most ``bound`` (the newest). Returns the tail size."""
        ...

    def read_users_sync(self, feature_id: str, users: list[str]) -> list[UserRecord]: ...

    async def read_users(self, feature_id: str, users: list[str]) -> list[UserRecord]:
        """Both parts of each user, in one round trip where the backend allows."""
        ...

    async def ping(self) -> None: ...

    # -- streaming indexer status (issue 11) -------------------------------------------------------------
    def put_stream_status(self, status: StreamStatus) -> None:
        """Record the indexer's status and, atomically, set ``FeatureState.stream_heartbeat_at`` (creating
        the state if absent) without touching the batch fields a concurrent load may be writing."""
        ...

    def get_stream_status(self, feature_id: str) -> StreamStatus | None: ...

    def append_tails(self, feature_id: str, tails: dict[str, list[TailEvent]], *, bound: int) -> None:
        """:meth:`append_tail` for many users at once (one pipeline / one transaction): the same result as
        calling it per user, in far fewer round trips (the streaming indexer's micro-batch write)."""
        ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...
