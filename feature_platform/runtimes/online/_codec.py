"""The per-user encodings of the online store: one pre-encoded blob per batch part, one entry per tail event.

Why pre-encoded: serving latency is dominated by what happens between the store read and the socket.
A batch part is stored as the JSON of its events, already in the response's shape, plus a small
binary index (each event's timestamp and byte offset). Serving the common request (no tail, all
fields) is then one read plus byte slicing: ``limit`` and ``since`` are prefix cuts of a newest-first
sequence and the retention window at request time is a suffix cut, so no event is decoded. The
measurements behind the choice are in ``benchmarks/RESULTS.md`` (online serving).

Batch blob, format 1::

    bytes 0..9     the snapshot day, ASCII ``YYYY-MM-DD`` (first, so a store can compare days without
                   decoding: Redis' Lua does ``GETRANGE key 0 9``; ISO dates order as strings)
    byte 10        the blob format (1)
    bytes 11..14   H, the header's length (uint32, little endian)
    H bytes        msgpack map: ``h`` artefact content hash that built the snapshot,
                   ``ts`` int64 LE timestamps (µs since the epoch, UTC, newest first),
                   ``off`` uint32 LE start offsets of each event in the body, plus one past the end
    body           the events' JSON objects joined by ``,`` (event i is ``body[off[i]:off[i+1]-1]``)

Tail entry (one per event id)::

    20 ASCII digits  arrival time (µs since the epoch) — a store trims by comparing this prefix
    20 ASCII digits  event timestamp (µs since the epoch)
    rest             the event's JSON object, same shape as in the batch body
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

import msgpack
import polars as pl
import pyarrow as pa

from feature_platform.runtimes.online._event_json import Shared, events_json, shared_columns

BLOB_FORMAT = 1
_PREFIX = struct.Struct("<10sBI")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIGITS = 20


class BlobFormatError(ValueError):
    """A stored value is not a blob this code understands (written by a newer version, or damaged)."""


@dataclass(frozen=True)
class BatchPart:
    """One user's batch part, decoded just enough to slice it."""

    day: date
    artefact_hash: str
    timestamps: array  # int64 µs, newest first
    offsets: array  # uint32, len = count + 1
    body: memoryview

    @property
    def count(self) -> int:
        return len(self.timestamps)

    def events_json(self, start: int, stop: int) -> bytes:
        """Events ``start`` (inclusive) to ``stop`` (exclusive), comma-joined JSON objects."""
        if stop <= start:
            return b""
        return bytes(self.body[self.offsets[start] : self.offsets[stop] - 1])

    def event_json(self, index: int) -> bytes:
        return self.events_json(index, index + 1)


@dataclass(frozen=True)
class TailEvent:
    """One streamed event: when it arrived, its time, and its JSON object."""

    event_id: str
    arrived_us: int
    timestamp_us: int
    json: bytes


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def encode_blob(day: date, artefact_hash: str, timestamps: bytes, offsets: bytes, body: bytes) -> bytes:
    """A batch blob from already packed arrays (the bulk loader builds them vectorised)."""
    header = msgpack.packb({"h": artefact_hash, "ts": timestamps, "off": offsets}, use_bin_type=True)
    return _PREFIX.pack(day.isoformat().encode("ascii"), BLOB_FORMAT, len(header)) + header + body


def blob_day(blob: bytes) -> date:
    return date.fromisoformat(blob[:10].decode("ascii"))


def decode_blob(blob: bytes) -> BatchPart:
    """The batch part in ``blob`` (no event is decoded)."""
    if len(blob) < _PREFIX.size:
        msg = f"batch blob of {len(blob)} bytes is too short"
        raise BlobFormatError(msg)
    raw_day, version, header_len = _PREFIX.unpack_from(blob)
    if version != BLOB_FORMAT:
        msg = f"batch blob format {version} is not understood (this server reads format {BLOB_FORMAT})"
        raise BlobFormatError(msg)
    start = _PREFIX.size
    header = msgpack.unpackb(blob[start : start + header_len], raw=False)
    timestamps = array("q")
    timestamps.frombytes(header["ts"])
    offsets = array("I")
    offsets.frombytes(header["off"])
    if len(offsets) != len(timestamps) + 1:
        msg = "batch blob index is inconsistent (offsets and timestamps differ in length)"
        raise BlobFormatError(msg)
    return BatchPart(
        day=date.fromisoformat(raw_day.decode("ascii")),
        artefact_hash=header["h"],
        timestamps=timestamps,
        offsets=offsets,
        body=memoryview(blob)[start + header_len :],
    )


def encode_tail_event(event_id: str, arrived: datetime, timestamp: datetime, event_json: bytes) -> bytes:
    return f"{to_micros(arrived):0{_DIGITS}d}{to_micros(timestamp):0{_DIGITS}d}".encode("ascii") + event_json


def decode_tail_event(event_id: str, value: bytes) -> TailEvent:
    return TailEvent(
        event_id=event_id,
        arrived_us=int(value[:_DIGITS]),
        timestamp_us=int(value[_DIGITS : 2 * _DIGITS]),
        json=bytes(value[2 * _DIGITS :]),
    )


def arrival_prefix(arrived: datetime) -> bytes:
    """The tail-entry prefix of ``arrived``: entries whose first 20 bytes sort below it arrived before."""
    return f"{to_micros(arrived):0{_DIGITS}d}".encode("ascii")


Blob = bytes | tuple[bytes, bytes | memoryview]
"""A batch blob as handed to a store: the whole blob, or a ``(head, body)`` pair whose concatenation is
the blob (the loader passes pairs: the body is a view of the encoder's buffer, so no per-user ``bytes``
is built; the Redis backend copies head and body side by side into the request buffer it sends, SQLite
joins them before binding)."""


def blob_bytes(blob: Blob) -> bytes:
    """The whole blob of a :data:`Blob`."""
    if isinstance(blob, bytes):
        return blob
    head, body = blob
    return head + body


@dataclass(frozen=True)
class EncodedUsers:
    """Blobs of a run of users, ready to write (keys are the users as strings): each blob is
    ``heads[i] + bodies[i]``, the bodies being views of one buffer (no per-user copy)."""

    users: list[str]
    heads: list[bytes]
    bodies: list[bytes | memoryview]

    @property
    def parts(self) -> list[Blob]:
        return list(zip(self.heads, self.bodies, strict=True))

    @property
    def blobs(self) -> list[bytes]:
        return [head + body for head, body in zip(self.heads, self.bodies, strict=True)]


def encode_snapshot(
    snapshot: pl.DataFrame, *, user_column: str, event_columns: list[str], day: date, artefact_hash: str
) -> EncodedUsers:
    """Every user's blob from snapshot rows (sorted by user then position, as the batch runtime writes them)."""
    users: list[str] = []
    heads: list[bytes] = []
    bodies: list[bytes | memoryview] = []
    for chunk in encode_chunks(
        snapshot,
        user_column=user_column,
        event_columns=event_columns,
        day=day,
        artefact_hash=artefact_hash,
        users_per_chunk=max(1, snapshot.height),
    ):
        users += chunk.users
        heads += chunk.heads
        bodies += chunk.bodies
    return EncodedUsers(users=users, heads=heads, bodies=bodies)


def encode_chunks(
    snapshot: pl.DataFrame,
    *,
    user_column: str,
    event_columns: list[str],
    day: date,
    artefact_hash: str,
    users_per_chunk: int = 20_000,
    events_per_chunk: int = 1_000_000,
) -> Iterator[EncodedUsers]:
    """The chunks of :class:`SnapshotChunks`, encoded one after the other."""
    chunks = SnapshotChunks(snapshot, user_column=user_column, event_columns=event_columns, day=day,
                            artefact_hash=artefact_hash, users_per_chunk=users_per_chunk,
                            events_per_chunk=events_per_chunk)
    return (chunks.encode(index) for index in range(len(chunks)))


class SnapshotChunks:
    """A snapshot cut into chunks of up to ``users_per_chunk`` users and about ``events_per_chunk`` events
    (a user is never split; a chunk has at least one), each encoded on its own (:meth:`encode`, safe to
    call from several threads: polars and Arrow release the GIL), so a loader can write one chunk while
    the next ones are encoded and memory holds a few chunks' JSON, not the whole snapshot's (4.4 GB for
    200k users; a chunk of 20k users of 500 events would be 6 GB, hence the event budget).

    Vectorised (:func:`._event_json.events_json`): every event's JSON and a ``,``, back to back in one
    Arrow buffer, so a user's body is one slice (a view, not a copy) of it and its event offsets are
    Arrow's own offsets minus the user's first. Python touches each user once (its small msgpack head),
    never an event. Each distinct embedding is formatted once for the whole snapshot (float formatting,
    ~40 ns a float32, was most of the cost), here, before the first chunk.
    """

    def __init__(
        self,
        snapshot: pl.DataFrame,
        *,
        user_column: str,
        event_columns: list[str],
        day: date,
        artefact_hash: str,
        users_per_chunk: int = 20_000,
        events_per_chunk: int = 1_000_000,
    ) -> None:
        self._snapshot = snapshot
        self._event_columns = event_columns
        self._day = day
        self._artefact_hash = artefact_hash
        runs = snapshot.get_column(user_column).rle()
        self._lengths: list[int] = runs.struct.field("len").to_list()
        self._users: list[str] = runs.struct.field("value").cast(pl.String).to_list()
        ends = list(accumulate(self._lengths))  # the row after each user's last
        self._bounds: list[tuple[int, int, int]] = []  # (first user, past the last user, first row)
        first = row = 0
        while first < len(self._users):
            last = max(first + 1, min(first + users_per_chunk, bisect_right(ends, row + events_per_chunk)))
            self._bounds.append((first, last, row))
            first, row = last, ends[last - 1]
        self._shared = shared_columns(snapshot, event_columns) if self._bounds else {}

    def __len__(self) -> int:
        return len(self._bounds)

    def encode(self, index: int) -> EncodedUsers:
        first, last, row = self._bounds[index]
        counts = self._lengths[first:last]
        rows = sum(counts)
        return _encode_rows(
            self._snapshot.slice(row, rows),
            self._users[first:last],
            counts,
            event_columns=self._event_columns,
            shared={name: column.slice(row, rows) for name, column in self._shared.items()},
            day=self._day,
            artefact_hash=self._artefact_hash,
        )


def _encode_rows(
    rows: pl.DataFrame,
    users: list[str],
    counts: list[int],
    *,
    event_columns: list[str],
    shared: dict[str, Shared],
    day: date,
    artefact_hash: str,
) -> EncodedUsers:
    json = events_json(rows, event_columns, shared)  # every event's JSON and a comma, back to back in one buffer
    starts = array("q")
    starts.frombytes(_arrow_buffer(json, 1, 8, extra=1))  # int64 offsets into the data buffer, len rows + 1
    data = memoryview(json.buffers()[2])  # the view keeps the Arrow buffer alive as long as a body refers to it
    # each event's offset in its user's body: its offset in the chunk minus that of its user's first event
    # (forward-filled: users are contiguous runs, so no window or group is needed)
    firsts = pl.zeros(len(rows), dtype=pl.Boolean, eager=True).scatter(list(accumulate(counts[:-1], initial=0)), True)
    chunk_offsets = pl.Series(
        pa.Array.from_buffers(pa.int64(), len(rows), [None, json.buffers()[1]], offset=json.offset)
    )
    index = pl.DataFrame({"g": chunk_offsets, "f": firsts}).select(
        (pl.col("g") - pl.when(pl.col("f")).then(pl.col("g")).forward_fill()).cast(pl.UInt32).alias("o"),
        rows.get_column("timestamp").dt.epoch("us").alias("t"),
    )
    ts = _flat_buffer(index.get_column("t"), 8)
    offs = _flat_buffer(index.get_column("o"), 4)
    prefix = _PREFIX.pack(day.isoformat().encode("ascii"), 0, 0)[:10]
    heads: list[bytes] = []
    bodies: list[bytes | memoryview] = []
    position = 0
    for count in counts:
        stop = position + count
        base = starts[position]
        end = starts[stop]
        offsets = bytes(offs[4 * position : 4 * stop]) + struct.pack("<I", end - base)
        header = msgpack.packb(
            {"h": artefact_hash, "ts": bytes(ts[8 * position : 8 * stop]), "off": offsets}, use_bin_type=True
        )
        heads.append(b"".join((prefix, struct.pack("<BI", BLOB_FORMAT, len(header)), header)))
        bodies.append(data[base : end - 1])
        position = stop
    return EncodedUsers(users=users, heads=heads, bodies=bodies)


def _arrow_buffer(arrow: Any, index: int, width: int, *, extra: int = 0) -> memoryview:
    """Buffer ``index`` of an Arrow array, cut to the array's own window (``extra`` trailing values)."""
    buffer = arrow.buffers()[index]
    assert buffer is not None
    return memoryview(buffer)[arrow.offset * width : (arrow.offset + len(arrow) + extra) * width]


def _flat_buffer(series: pl.Series, width: int) -> memoryview:
    """The little-endian values buffer of a null-free numeric column (zero-copy through Arrow)."""
    arrow = series.rechunk().to_arrow()
    assert arrow.null_count == 0
    return _arrow_buffer(arrow, 1, width)
