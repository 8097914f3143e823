"""Batch -> online: load the certified snapshot of day D into the online store.

Rules (each tested in ``tests/online``):

* only a *certified* day is loaded (it has a watermark); anything else is refused;
* the snapshot is read through the batch runtime's reading API (:func:`read_snapshot`), never by
  globbing files;
* per user the write is atomic and never regresses: a user whose stored part is of a newer day keeps
  it (the backend compares days in the same atomic step as the write);
* a user absent from the snapshot of D (every event out of retention) and still holding an older part
  is removed;
* the feature's state (latest loaded day, the artefact that built it) only moves forward.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine.sequences import POSITION
from feature_platform.errors import SourceDataError
from feature_platform.runtimes.batch import TableLocations, read_certification, read_snapshot
from feature_platform.runtimes.online._codec import EncodedUsers, SnapshotChunks
from feature_platform.runtimes.online._store import FeatureState, OnlineStore, WriteCounts

USERS_PER_CHUNK = 10_000
EVENTS_PER_CHUNK = 500_000
"""A chunk's bounds: memory holds ENCODERS + 2 chunks' JSON (~0.3 GB each at the example feature's ~550
bytes an event)."""
ENCODERS = 2
"""Chunks encoded at once: one per core of the machines measured (``benchmarks/RESULTS.md``)."""


class UncertifiedDayError(SourceDataError):
    """The day has no watermark: its snapshot is not trusted, so it is not served."""


@dataclass(frozen=True)
class OnlineLoadResult:
    """What one load did."""

    feature_id: str
    day: date
    artefact_hash: str
    users: int
    events: int
    written: int
    kept_newer: int
    removed: int
    seconds: float


def load_day(artefact: Artefact, day: date, locations: TableLocations, store: OnlineStore) -> OnlineLoadResult:
    """Load the certified snapshot of ``day`` of ``artefact``'s feature into ``store``."""
    feature_id = artefact.feature.id
    certification = read_certification(feature_id, day, locations)
    if certification is None:
        msg = (
            f"{feature_id} day {day} has no watermark (not certified): refusing to load it online. "
            f"Index and certify the day first (Dagster asset {feature_id}/watermark)"
        )
        raise UncertifiedDayError(msg)
    snapshot = read_snapshot(feature_id, day, locations)
    return load_snapshot(artefact, day, snapshot, store, built_by=certification.artefact_hash)


def load_snapshot(
    artefact: Artefact, day: date, snapshot: pl.DataFrame, store: OnlineStore, *, built_by: str
) -> OnlineLoadResult:
    """Load snapshot rows (sorted by user then position) of ``day``; ``built_by`` is the artefact hash
    that built them. :func:`load_day` is the public path; benchmarks call this with a generated frame."""
    started = time.perf_counter()
    feature_id = artefact.feature.id
    user = artefact.feature.entity_key.name
    columns = [c for c in snapshot.columns if c not in (user, POSITION)]
    chunks = SnapshotChunks(
        snapshot,
        user_column=user,
        event_columns=columns,
        day=day,
        artefact_hash=built_by,
        users_per_chunk=USERS_PER_CHUNK,
        events_per_chunk=EVENTS_PER_CHUNK,
    )
    users = written = kept_newer = 0
    # ENCODERS chunks are encoded at once (polars and Arrow, off the GIL) while the previous one is written
    # (socket / SQLite, off the GIL): every core has work, and memory holds ENCODERS + 2 chunks. Chunks are
    # written in order, one write in flight, so the store's writes keep the snapshot's order.
    with (
        ThreadPoolExecutor(max_workers=ENCODERS, thread_name_prefix="online-encode") as encoders,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="online-load") as writer,
    ):
        encoding: deque[Future[EncodedUsers]] = deque()
        submitted = 0

        def keep_encoding() -> None:
            nonlocal submitted
            while len(encoding) < ENCODERS and submitted < len(chunks):
                encoding.append(encoders.submit(chunks.encode, submitted))
                submitted += 1

        pending: Future[WriteCounts] | None = None
        for _ in range(len(chunks)):
            keep_encoding()
            chunk = encoding.popleft().result()
            keep_encoding()  # the encoder just freed starts the next chunk while this one waits for the writer
            if pending is not None:
                written, kept_newer = _add(pending.result(), written, kept_newer)
            pending = writer.submit(store.write_batch, feature_id, day, chunk.users, chunk.parts)
            users += len(chunk.users)
        if pending is not None:
            written, kept_newer = _add(pending.result(), written, kept_newer)
    removed = store.remove_users_older_than(feature_id, day)
    previous = store.get_state(feature_id)
    if previous is None or previous.batch_day is None or previous.batch_day <= day:
        store.put_state(
            FeatureState(
                feature_id=feature_id,
                batch_day=day,
                batch_artefact_hash=built_by,
                batch_users=users,
                batch_loaded_at=datetime.now(UTC),
                stream_heartbeat_at=previous.stream_heartbeat_at if previous else None,
            )
        )
    return OnlineLoadResult(
        feature_id=feature_id,
        day=day,
        artefact_hash=built_by,
        users=users,
        events=snapshot.height,
        written=written,
        kept_newer=kept_newer,
        removed=removed,
        seconds=time.perf_counter() - started,
    )


def _add(counts: WriteCounts, written: int, kept_newer: int) -> tuple[int, int]:
    return written + counts.written, kept_newer + counts.kept_newer
