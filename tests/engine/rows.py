"""Hand-written raw rows for the example configs, and helpers turning rows into typed frames.

Times are offsets from ``T0 = 2024-01-02T03:04:05Z`` (a Tuesday).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from feature_platform.artefact import Artefact
from feature_platform.engine import polars_schema

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
T0_MS = 1_704_164_645_000
HOUR_MS = 3_600_000
MAX_EVENT_TIME = datetime(2024, 1, 3, 3, 4, 5, tzinfo=UTC)


def engagement(event_id: str | None, user_id: int | None, action: str | None, **extra: Any) -> dict[str, Any]:
    row = {
        "event_id": event_id,
        "user_id": user_id,
        "pin_id": 10,
        "action": action,
        "event_ts_ms": T0_MS,
        "surface": "HomeFeed",
        "device": "iOS",
        "country": "us",
        "dwell_ms": None,
    }
    row.update(extra)
    return row


ENGAGEMENT_ROWS = [
    engagement("e01", 1, "save", event_ts_ms=T0_MS + 123),  # valid save, lookup hit
    engagement("e02", 1, "click", pin_id=11, event_ts_ms=T0_MS + HOUR_MS, surface="search", device="web",
               country="de", dwell_ms=7_000),  # valid click, lookup miss (pin 11), dwell bucket 2
    engagement("e03", 2, "click", dwell_ms=-5),  # valid click, negative dwell: null bucket
    engagement("e04", 2, "click", pin_id=None),  # filtered out: a click without a pin
    engagement("e05", 2, "hide"),  # filtered out: not an action of the feature
    engagement("e06", 2, None),  # filter is null: not selected
    engagement(None, 3, "save"),  # reject: null event_id
    engagement("e08", None, "save"),  # reject: null user_id
    engagement("e09", 3, "save", event_ts_ms=None),  # reject: null timestamp
    engagement("e10", 3, "save", event_ts_ms=946_684_799_999),  # reject: 1999-12-31T23:59:59.999Z
    engagement("e11", 3, "click", event_ts_ms=T0_MS + 25 * HOUR_MS),  # reject: after max_event_time
    engagement(None, None, "click"),  # reject: two reasons
    engagement("e13", 3, "save", event_ts_ms=10**17),  # reject: unparseable (beyond year 9999)
]


def search(query_id: str | None, user_id: int | None, query: str | None, event_time: str | None,
           **extra: Any) -> dict[str, Any]:
    row = {
        "query_id": query_id,
        "user_id": user_id,
        "query_text": query,
        "event_time": event_time,
        "surface": "Search",
        "device": "Android",
        "country": "gb",
        "num_results": 42,
    }
    row.update(extra)
    return row


SEARCH_ROWS = [
    search("q1", 1, "  Red SHOES!! ", "2024-01-02T03:04:05Z"),
    search("q2", 1, "red shoes", "2024-01-02 04:00:00+01:00", num_results=None, country="ca"),
    search("q3", 2, "   ", "2024-01-02T03:04:05Z"),  # filtered out: blank query
    search("q4", 2, None, "2024-01-02T03:04:05Z"),  # filtered out: no query
    search("q5", 2, "cats", "not a time"),  # reject: unparseable timestamp
    search("q6", 3, "dogs", None),  # reject: null timestamp
    search("q7", 3, "?!", "2024-01-02T05:00:00.250Z", country="br", surface=None),  # all punctuation
]

EMBEDDING_ROWS: list[dict[str, Any]] = [
    {"item_id": 10, "embedding": [0.5, -0.25]},
    {"item_id": 12, "embedding": [1.0, 1.0]},
    {"item_id": 10, "embedding": [9.0, 9.0]},  # duplicate key: the first row wins
    {"item_id": None, "embedding": [0.0, 0.0]},  # null key: never matches
]
CATEGORY_ROWS: list[dict[str, Any]] = [
    {"item_id": 10, "category": "art", "subcategory": "painting"},
    {"item_id": 12, "category": "food", "subcategory": None},
]
LOOKUP_ROWS: dict[str, list[dict[str, Any]]] = {"item_embeddings": EMBEDDING_ROWS, "item_categories": CATEGORY_ROWS}


def frame(artefact: Artefact, source: str, rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """``rows`` as a frame with the source's declared schema."""
    return pl.DataFrame(list(rows), schema=polars_schema(artefact.sources[source].columns))


def lookup_frames(artefact: Artefact, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, pl.DataFrame]:
    return {name: frame(artefact, name, table) for name, table in rows.items() if name in artefact.sources}
