"""The loader's event JSON: each distinct embedding formatted once, the bytes exactly those of one
``json_encode`` per event (what was stored and served before), and the stored events equal to the
snapshot rows, float32 embeddings included, bit for bit."""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgpack
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feature_platform.runtimes.online import _codec, _event_json, decode_blob, encode_snapshot

DAY = date(2026, 11, 4)
F32 = st.floats(width=32, allow_nan=False)
FINITE_F32 = st.floats(width=32, allow_nan=False, allow_infinity=False)  # JSON has no inf: encoded as null


@contextmanager
def _sharing(always: bool) -> Iterator[None]:
    """Force the dictionary path (any share of distinct values) or the per-event path (none)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_event_json, "MAX_DISTINCT_SHARE", 1.0 if always else -1.0)
        patch.setattr(_event_json, "SAMPLE_ROWS", 4)
        yield


def _reference(frame: pl.DataFrame, columns: list[str]) -> list[str]:
    """What the loader stored before: one ``json_encode`` of the event's columns, then a comma."""
    return [j + "," for j in frame.select(pl.struct(columns).struct.json_encode()).to_series().to_list()]


def _data(array: Any) -> bytes:
    """The bytes of an Arrow string array's values, from its first offset to its last."""
    offsets = struct.unpack_from(f"<{len(array) + 1}q", array.buffers()[1], 8 * array.offset)
    return bytes(array.buffers()[2])[offsets[0] : offsets[-1]]


@st.composite
def frames(draw: st.DrawFn) -> tuple[pl.DataFrame, list[str]]:
    """Events with a few plain columns and one or two list columns placed anywhere among them; the
    vectors come from a small pool (so they recur, as an item's embedding does), with null rows,
    empty lists, signed zeros and infinities."""
    n = draw(st.integers(1, 40))
    pool = draw(st.lists(st.lists(F32, min_size=0, max_size=4), min_size=1, max_size=5))
    pool += [[0.0, 1.0], [-0.0, 1.0], [math.inf, -math.inf]]
    vectors = [None if draw(st.integers(0, 9)) == 0 else pool[draw(st.integers(0, len(pool) - 1))]
               for _ in range(n)]
    columns: dict[str, pl.Series] = {
        "event_id": pl.Series([f"é{i}\"\\{draw(st.text(max_size=3))}" for i in range(n)], dtype=pl.String),
        "x": pl.Series([draw(st.integers(-(2**40), 2**40)) for _ in range(n)], dtype=pl.Int64),
        "emb": pl.Series(vectors, dtype=pl.List(pl.Float32)),
    }
    if draw(st.booleans()):
        pairs = [(float(i % 3), -1.5) for i in range(n)]
        columns["pair"] = pl.Series(pairs, dtype=pl.Array(pl.Float64, 2))
    if draw(st.booleans()):
        columns["ids"] = pl.Series([[i % 2, 7] for i in range(n)], dtype=pl.List(pl.Int32))
    order = draw(st.permutations(list(columns)))
    frame = pl.DataFrame({name: columns[name] for name in order})
    skip = draw(st.integers(0, n - 1))
    return frame.slice(skip), list(order)  # a slice: Arrow offsets that do not start at 0


@given(frames(), st.booleans())
@settings(max_examples=200)
def test_events_json_is_byte_identical_to_one_encode_per_event(case: tuple[pl.DataFrame, list[str]],
                                                             share: bool) -> None:
    frame, columns = case
    with _sharing(share):
        shared = _event_json.shared_columns(frame, columns)
        encoded = _event_json.events_json(frame, columns)
    if share:
        assert "emb" in shared  # the dictionary path is the one under test
    assert encoded.to_pylist() == _reference(frame, columns)
    assert _data(encoded) == "".join(_reference(frame, columns)).encode()  # back to back in one buffer


def test_vectors_are_shared_by_their_bits() -> None:
    """0.0 and -0.0 compare equal but print differently: the dictionary keys are the stored bytes."""
    frame = pl.DataFrame({"emb": pl.Series([[0.0], [-0.0], [0.0], [-0.0]], dtype=pl.List(pl.Float32))})
    with _sharing(True):
        shared = _event_json.shared_columns(frame, ["emb"])
        encoded = _event_json.events_json(frame, ["emb"])
    assert shared["emb"].codes.to_list() == [0, 1, 0, 1]
    assert encoded.to_pylist() == ['{"emb":[0.0]},', '{"emb":[-0.0]},', '{"emb":[0.0]},', '{"emb":[-0.0]},']


def test_a_mostly_distinct_column_is_formatted_per_event() -> None:
    """The sample decides: vectors that recur are shared, a vector per event is not (its dictionary would
    cost more than it saves), and a list with null elements is never keyed by its bytes."""
    repeated = pl.DataFrame({"emb": pl.Series([[float(i % 3)] for i in range(100)], dtype=pl.List(pl.Float32))})
    distinct = pl.DataFrame({"emb": pl.Series([[float(i)] for i in range(100)], dtype=pl.List(pl.Float32))})
    holes = pl.DataFrame({"emb": pl.Series([[None, 1.0]] * 100, dtype=pl.List(pl.Float32))})
    strings = pl.DataFrame({"emb": pl.Series([["a"]] * 100, dtype=pl.List(pl.String))})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_event_json, "SAMPLE_ROWS", 50)
        assert list(_event_json.shared_columns(repeated, ["emb"])) == ["emb"]
        for frame in (distinct, holes, strings):
            assert _event_json.shared_columns(frame, ["emb"]) == {}
            assert _event_json.events_json(frame, ["emb"]).to_pylist() == _reference(frame, ["emb"])


def _snapshot(users: dict[int, int], vectors: list[list[float]]) -> pl.DataFrame:
    """Snapshot rows (sorted by user then position) with an item embedding looked up from ``vectors``."""
    rows = [
        {"user_id": u, "position": p, "event_id": f"{u}-{p}",
         "timestamp": datetime(2026, 11, 4, 20, tzinfo=UTC) - timedelta(minutes=p),
         "item_id": (u * 7 + p) % len(vectors), "item_embedding": vectors[(u * 7 + p) % len(vectors)], "x": p}
        for u, n in users.items() for p in range(n)
    ]
    return pl.DataFrame(rows, schema={
        "user_id": pl.Int64, "position": pl.Int32, "event_id": pl.String, "timestamp": pl.Datetime("us", "UTC"),
        "item_id": pl.Int64, "item_embedding": pl.List(pl.Float32), "x": pl.Int64,
    })


EVENT_COLUMNS = ["event_id", "timestamp", "item_id", "item_embedding", "x"]


@given(
    users=st.dictionaries(st.integers(0, 50), st.integers(1, 12), min_size=1, max_size=8),
    vectors=st.lists(st.lists(FINITE_F32, min_size=3, max_size=3), min_size=1, max_size=6),
    per_chunk=st.integers(1, 4),
    share=st.booleans(),
)
@settings(max_examples=100)
def test_stored_events_decode_to_the_snapshot_rows(users: dict[int, int], vectors: list[list[float]],
                                                   per_chunk: int, share: bool) -> None:
    """encode -> decode is the identity on the snapshot rows (float32 embeddings exactly), chunked or not,
    and each blob is byte for byte the one the per-event encoder built (so served JSON is unchanged)."""
    frame = _snapshot(dict(sorted(users.items())), vectors)
    with _sharing(share):
        chunks = list(_codec.encode_chunks(frame, user_column="user_id", event_columns=EVENT_COLUMNS, day=DAY,
                                           artefact_hash="h" * 64, users_per_chunk=per_chunk))
    blobs = [blob for chunk in chunks for blob in chunk.blobs]
    assert [u for chunk in chunks for u in chunk.users] == [str(u) for u in sorted(users)]
    schema = pl.Schema({c: frame.schema[c] for c in EVENT_COLUMNS})
    for (user, rows), blob in zip(frame.group_by("user_id", maintain_order=True), blobs, strict=True):
        part = decode_blob(blob)
        decoded = pl.read_json(io.BytesIO(b"[" + part.events_json(0, part.count) + b"]"), schema=schema)
        expected = rows.select(EVENT_COLUMNS)
        assert decoded.equals(expected)
        assert _bits(decoded) == _bits(expected)  # float32 for float32, signed zeros included
        assert blob == _before(rows, user[0])


def _bits(frame: pl.DataFrame) -> list[bytes]:
    return [struct.pack(f"<{len(v)}f", *v) for v in frame.get_column("item_embedding").to_list()]


def _before(rows: pl.DataFrame, user: object) -> bytes:
    """The blob of one user as the per-event encoder wrote it (format 1)."""
    events = [j.encode() for j in rows.select(pl.struct(EVENT_COLUMNS).struct.json_encode()).to_series().to_list()]
    offsets = [0]
    for event in events:
        offsets.append(offsets[-1] + len(event) + 1)
    stamps = rows.get_column("timestamp").dt.epoch("us").to_list()
    return _codec.encode_blob(DAY, "h" * 64, struct.pack(f"<{len(stamps)}q", *stamps),
                              struct.pack(f"<{len(offsets)}I", *offsets), b",".join(events))


def test_the_blob_header_is_unchanged() -> None:
    """The serving side reads the same format-1 blob (day, format, header length, msgpack index, body)."""
    frame = _snapshot({3: 2}, [[0.5, -0.0, 1e-7]])
    blob = encode_snapshot(frame, user_column="user_id", event_columns=EVENT_COLUMNS, day=DAY,
                           artefact_hash="h" * 64).blobs[0]
    day, version, size = struct.unpack_from("<10sBI", blob)
    header = msgpack.unpackb(blob[15 : 15 + size])
    assert (day, version, sorted(header)) == (b"2026-11-04", 1, ["h", "off", "ts"])
    assert blob[15 + size :].startswith(b'{"event_id":"3-0","timestamp":"2026-11-04T20:00:00+00:00","item_id":0,'
                                        b'"item_embedding":[0.5,-0.0,1e-7],"x":0}')
