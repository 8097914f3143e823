"""Response bodies: JSON by splicing pre-encoded bytes; msgpack and Arrow IPC chosen by ``Accept``.

JSON is the default and the fast path: the events are the stored bytes (see ``online._codec``), the
schema is encoded once per artefact, and only the small profile is encoded per request (orjson).
The binary formats decode the stored JSON once: Arrow IPC by handing the events, as one JSON array, to
polars' JSON reader with the artefact's dtypes (no Python object per event); msgpack through orjson's
Python objects. Figures and the trade-off against a pre-encoded binary copy: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import io
from typing import Any, Literal

import msgpack
import orjson
import polars as pl

JSON = "application/json"
MSGPACK = "application/msgpack"
ARROW = "application/vnd.apache.arrow.stream"
Format = Literal["json", "msgpack", "arrow"]


def negotiate(accept: str | None) -> Format:
    if not accept:
        return "json"
    if "msgpack" in accept:
        return "msgpack"
    if ARROW in accept:
        return "arrow"
    return "json"


def media_type(fmt: Format) -> str:
    return {"json": JSON, "msgpack": MSGPACK, "arrow": ARROW}[fmt]


def one_json(feature_id: bytes, user: bytes, schema: bytes, events: bytes, profile: dict[str, Any]) -> bytes:
    return b"".join(
        (
            b'{"feature_id":',
            feature_id,
            b',"user":',
            user,
            b',"schema":',
            schema,
            b',"events":[',
            events,
            b'],"profile":',
            orjson.dumps(profile),
            b"}",
        )
    )


def result_json(user: bytes, events: bytes, profile: dict[str, Any]) -> bytes:
    return b"".join((b'{"user":', user, b',"events":[', events, b'],"profile":', orjson.dumps(profile), b"}"))


def many_json(feature_id: bytes, schema: bytes, results: list[bytes]) -> bytes:
    return b"".join((b'{"feature_id":', feature_id, b',"schema":', schema, b',"results":[', b",".join(results), b"]}"))


def decode_events(events: bytes) -> list[Any]:
    decoded: list[Any] = orjson.loads(b"[" + events + b"]")
    return decoded


def to_msgpack(document: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(document, use_bin_type=True)
    return packed


def to_arrow(events: bytes, schema: pl.Schema, extra: dict[str, pl.Series] | None = None) -> bytes:
    """Events as one Arrow IPC stream with the artefact's dtypes (plus ``extra`` columns first).

    ``events`` (comma-joined JSON objects) is read as one JSON array by polars with the schema given, in
    Rust: 7x less CPU than decoding to Python objects and re-reading them as NDJSON (measured)."""
    frame = pl.read_json(io.BytesIO(b"[" + events + b"]"), schema=schema) if events else pl.DataFrame(schema=schema)
    if extra:
        frame = pl.DataFrame(extra).hstack(frame)
    sink = io.BytesIO()
    frame.write_ipc_stream(sink)
    return sink.getvalue()
