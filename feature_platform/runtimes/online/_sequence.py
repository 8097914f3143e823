"""One user's served sequence: the batch part plus the streaming tail, as of the request instant.

The merge rule is the one sequence definition, :func:`feature_platform.engine.dedup_and_rank`, over
the batch part and the tail, as of ``max(now, end of the batch day)`` (never earlier than the batch
snapshot's own instant, so a clock behind the data never hides certified events).

* **No tail** (every user until the streaming indexer exists, and most users after): the batch part
  *is* ``dedup_and_rank(events <= D, as_of = D+1)``; ranking it again as of a later instant only drops
  the events that left the retention window, which in a newest-first sequence is a suffix. ``limit``
  and ``since`` are prefix cuts. So this path slices the stored JSON bytes and decodes nothing — and
  equals the definition exactly (tested against the snapshot and the oracle).
* **With a tail**: tail entries that arrived before the end of the batch day are ignored (the batch
  part already has them; the loader also trims them). The rest are decoded with the batch events and
  ranked by ``dedup_and_rank`` itself: de-duplication, ties and truncation are the engine's, not a
  copy. The tail is bounded, so this stays a few hundred rows.
"""

from __future__ import annotations

import io
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import orjson
import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine.sequences import POSITION, dedup_and_rank
from feature_platform.runtimes.online._codec import BatchPart, TailEvent, decode_blob, to_micros
from feature_platform.runtimes.online._store import UserRecord


@dataclass(frozen=True)
class SequenceRequest:
    """What the caller asked for (already validated)."""

    limit: int | None = None
    since: datetime | None = None
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ServedSequence:
    """The events of one user (comma-joined JSON objects, newest first) and what the profile needs."""

    events_json: bytes
    count: int
    truncated: bool
    batch_day: date | None
    batch_artefact_hash: str | None
    newest_stream_event_us: int | None
    merged_tail: int


def batch_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def assemble(
    record: UserRecord,
    artefact: Artefact,
    event_schema: pl.Schema,
    request: SequenceRequest,
    *,
    now: datetime,
) -> ServedSequence:
    """The user's sequence under the merge rule (see the module docstring), cut by ``request``."""
    feature = artefact.feature
    part = decode_blob(record.batch) if record.batch is not None else None
    batch_cut = to_micros(batch_end(part.day)) if part is not None else None
    tail = [e for e in record.tail if batch_cut is None or e.arrived_us >= batch_cut]
    as_of = max(now, batch_end(part.day)) if part is not None else now
    limit = min(request.limit or feature.max_length, feature.max_length)
    newest_stream = max((e.timestamp_us for e in tail), default=None)
    if not tail:
        events, count, available = _slice_batch(part, as_of, feature.retention_seconds, request.since, limit)
    else:
        events, count, available = _merge(part, tail, artefact, event_schema, as_of, request.since, limit)
    if request.fields is not None and count:
        events = _project(events, request.fields)
    return ServedSequence(
        events_json=events,
        count=count,
        truncated=available > count or count == feature.max_length,
        batch_day=part.day if part is not None else None,
        batch_artefact_hash=part.artefact_hash if part is not None else None,
        newest_stream_event_us=newest_stream,
        merged_tail=len(tail),
    )


def _slice_batch(
    part: BatchPart | None, as_of: datetime, retention_seconds: int, since: datetime | None, limit: int
) -> tuple[bytes, int, int]:
    if part is None or part.count == 0:
        return b"", 0, 0
    lower = to_micros(as_of) - retention_seconds * 1_000_000
    if since is not None:
        lower = max(lower, to_micros(since))
    # timestamps are newest first: the events at or after ``lower`` are a prefix.
    available = bisect_right(part.timestamps, -lower, key=_negated)
    count = min(available, limit)
    return part.events_json(0, count), count, available


def _merge(
    part: BatchPart | None,
    tail: list[TailEvent],
    artefact: Artefact,
    event_schema: pl.Schema,
    as_of: datetime,
    since: datetime | None,
    limit: int,
) -> tuple[bytes, int, int]:
    batch = [part.event_json(i) for i in range(part.count)] if part is not None else []
    lines = b"\n".join([*batch, *(e.json for e in tail)])
    frame = pl.read_ndjson(io.BytesIO(lines), schema=event_schema)
    user = artefact.feature.entity_key.name
    ranked = dedup_and_rank(frame.lazy().with_columns(pl.lit(0).alias(user)), artefact, as_of=as_of).collect()
    if since is not None:
        ranked = ranked.filter(pl.col("timestamp") >= since)
    available = ranked.height
    kept = ranked.head(limit).drop(user, POSITION)
    encoded = kept.select(pl.struct(kept.columns).struct.json_encode()).to_series().to_list()
    return ",".join(encoded).encode(), kept.height, available


def _negated(value: int) -> int:
    return -value


def _project(events: bytes, fields: tuple[str, ...]) -> bytes:
    decoded = orjson.loads(b"[" + events + b"]")
    return orjson.dumps([{f: e.get(f) for f in fields} for e in decoded])[1:-1]
