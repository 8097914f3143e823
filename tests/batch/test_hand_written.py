"""A small case worked out by hand: the expected tables and sequences are written out as values.

The fixture configs' features with N = 3 (item activity, de-duplicated by event id) and N = 2 (searches,
de-duplicated by the normalised query), retention 2 days. Three days of ``app_events``:

====  =========  ======  ==================  =========================================================
id    arrives    user    happened (UTC)      what
====  =========  ======  ==================  =========================================================
a1    05-01      1       05-01 09:00         view item 10, 600 ms, iOS — and an exact replay of it
a2    05-01      1       05-01 10:00         purchase item 11 (no price in the lookup), web
a3    05-01      1       05-01 10:00         view item 12 (not in the lookup), 12 s, ANDROID: ties a2
b1    05-01      2       05-01 23:30         view item 10, web
x1    05-01      3       05-02 00:00         purchase: from the future of its arrival day → reject
x2    05-01      null    05-01 08:00         view: no user → reject
s1    05-01      1       05-01 11:00         search "Red Shoes"
s2    05-01      1       05-01 12:00         search "red shoes!" (same normalised query as s1)
s3    05-01      2       05-01 13:00         search "  " (blank: not a search event at all)
a4    05-02      1       05-02 08:00         view item 10, 100 ms, web
a5    05-02      1       05-01 22:00         view item 11, 2.5 s, ios — late by a day
a6    05-02      2       04-30 00:00         purchase item 11 — two days late
s4    05-02      1       05-02 09:00         search "hat"
a7    05-03      1       05-03 00:00         view item 10, no dwell, no platform
b2    05-03      2       05-03 10:00         view item 12, web
====  =========  ======  ==================  =========================================================
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from feature_platform.artefact import Artefact
from feature_platform.runtimes.batch import (
    SEQUENCE,
    SEQUENCE_LENGTH,
    TableLocations,
    build_training_set,
    index_days,
    read_snapshot,
)
from tests.batch.helpers import (
    APP_EVENTS,
    ITEM_FEATURES,
    epoch_ms,
    fixture_artefacts,
    manifest,
    rejects_rows,
    utc,
    with_feature,
    write_lookup,
    write_partition,
)

D1, D2, D3 = date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)
_FIXTURE = fixture_artefacts()
ITEMS = with_feature(_FIXTURE["recent_item_activity_v1"], max_length=3, retention_seconds=2 * 86_400)
SEARCHES = with_feature(_FIXTURE["recent_searches_v1"], max_length=2, retention_seconds=2 * 86_400)


def _row(event_id: str, user: int | None, when: datetime, action: str, item: int | None = None,
         dwell: int | None = None, platform: str | None = None, query: str | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user, "ts_ms": epoch_ms(when), "action": action, "item_id": item,
            "dwell_ms": dwell, "platform": platform, "query": query}


A1 = _row("a1", 1, utc(D1, 9), "view", 10, 600, "iOS")
RAW = {
    D1: [
        A1,
        _row("a2", 1, utc(D1, 10), "purchase", 11, None, "web"),
        _row("a3", 1, utc(D1, 10), "view", 12, 12_000, "ANDROID"),
        _row("b1", 2, utc(D1, 23, 30), "view", 10, None, "web"),
        _row("x1", 3, utc(D2), "purchase", 10),
        _row("x2", None, utc(D1, 8), "view", 10),
        _row("s1", 1, utc(D1, 11), "search", query="Red Shoes", platform="web"),
        _row("s2", 1, utc(D1, 12), "search", query="red shoes!", platform="web"),
        _row("s3", 2, utc(D1, 13), "search", query="  "),
        dict(A1),
    ],
    D2: [
        _row("a4", 1, utc(D2, 8), "view", 10, 100, "web"),
        _row("a5", 1, utc(D1, 22), "view", 11, 2_500, "ios"),
        _row("a6", 2, datetime(2026, 4, 30, tzinfo=utc(D1).tzinfo), "purchase", 11),
        _row("s4", 1, utc(D2, 9), "search", query="hat", platform="iOS"),
    ],
    D3: [
        _row("a7", 1, utc(D3), "view", 10),
        _row("b2", 2, utc(D3, 10), "view", 12, None, "web"),
    ],
}
LOOKUP = [{"item_id": 10, "category": "shoes", "price": 19.5}, {"item_id": 11, "category": "hats", "price": None}]


@pytest.fixture(scope="module")
def locations(tmp_path_factory: pytest.TempPathFactory) -> TableLocations:
    root = tmp_path_factory.mktemp("hand_written")
    for day, rows in RAW.items():
        write_partition(root / "raw", ITEMS, APP_EVENTS, day, rows)
    write_lookup(root / "raw", ITEMS, ITEM_FEATURES, LOOKUP)
    located = TableLocations(raw_root=str(root / "raw"), tables_root=str(root / "tables"))
    for artefact in (ITEMS, SEARCHES):
        index_days(artefact, D1, D3, located)
    return located


def _sequences(artefact: Artefact, locations: TableLocations, day: date) -> dict[int, list[str]]:
    snapshot = read_snapshot(artefact.feature.id, day, locations)
    out: dict[int, list[str]] = {}
    for row in snapshot.iter_rows(named=True):
        assert row["position"] == len(out.setdefault(row["user_id"], []))
        out[row["user_id"]].append(row["event_id"])
    return out


def test_item_activity_snapshots(locations: TableLocations) -> None:
    assert _sequences(ITEMS, locations, D1) == {1: ["a3", "a2", "a1"], 2: ["b1"]}
    # a5 arrived late (D2) but happened on D1; a1 and a2 fall behind N = 3; a6 is older than R.
    assert _sequences(ITEMS, locations, D2) == {1: ["a4", "a5", "a3"], 2: ["b1"]}
    # As of 05-04 00:00 the window starts 05-02 00:00: a5, a3 and b1 have aged out.
    assert _sequences(ITEMS, locations, D3) == {1: ["a7", "a4"], 2: ["b2"]}


def test_item_activity_snapshot_values(locations: TableLocations) -> None:
    snapshot = read_snapshot(ITEMS.feature.id, D2, locations).filter(pl.col("user_id") == 1)
    assert snapshot.columns == ["user_id", "position", "event_id", "timestamp", "event_type", "item_id",
                                "item_category", "item_price", "dwell_bucket", "is_mobile"]
    assert snapshot.drop("user_id").rows() == [
        (0, "a4", utc(D2, 8), "view", 10, "shoes", 19.5, 0, False),
        (1, "a5", utc(D1, 22), "view", 11, "hats", None, 2, True),
        (2, "a3", utc(D1, 10), "view", 12, None, None, 3, True),
    ]


def test_search_snapshots_dedup_by_normalised_query(locations: TableLocations) -> None:
    assert _sequences(SEARCHES, locations, D1) == {1: ["s2"]}  # s1 is the same query, older
    assert _sequences(SEARCHES, locations, D2) == {1: ["s4", "s2"]}
    assert _sequences(SEARCHES, locations, D3) == {1: ["s4"]}
    rows = read_snapshot(SEARCHES.feature.id, D2, locations).select("event_id", "query_norm", "query_tokens")
    assert rows.rows() == [("s4", "hat", 1), ("s2", "red shoes", 2)]


def test_events_rejects_and_replays_of_the_first_day(locations: TableLocations) -> None:
    written = manifest(locations, ITEMS.feature.id, D1)
    assert written["events"]["rows"] == 3 + 1  # a1, a2, a3, b1
    assert written["events"]["duplicate_replays"] == 1  # the second a1
    assert written["rejects"]["reasons"] == {"null user_id": 1, "timestamp after max_event_time": 1}
    rows = rejects_rows(ITEMS.feature.id, locations, D1)
    rejects = sorted((r["event_id"], r["event_type"], r["reason"]) for r in rows)
    assert rejects == [("x1", "purchase", "timestamp after max_event_time"), ("x2", "view", "null user_id")]
    assert manifest(locations, SEARCHES.feature.id, D1)["events"]["rows"] == 2  # s3 is blank: not an event


def test_training_set(locations: TableLocations) -> None:
    examples = pl.DataFrame(
        {
            "user_id": [1, 1, 2, 1, 3, 2, 2],
            "timestamp": [
                utc(D1, 10),  # strictly before: a2 and a3 (10:00) are not visible yet
                utc(D2, 9),  # the late a5 counts by its event time
                utc(D1, 12),  # a6 arrived on D2, two days late, but happened before 05-01 12:00
                utc(D3),  # a7 at exactly 05-03 00:00 is not visible
                utc(D2, 12),  # user 3's only row was rejected
                utc(D2),  # a6 at exactly R before: kept
                utc(D2, 0, 1),  # ... and one minute later: out of the window
            ],
            "label": [1, 0, 1, 1, 0, 1, 0],
        }
    )
    built = build_training_set(ITEMS, examples, locations)
    ids = [[element["event_id"] for element in seq] for seq in built.get_column(SEQUENCE).to_list()]
    assert ids == [["a1"], ["a4", "a5", "a3"], ["a6"], ["a4", "a5", "a3"], [], ["b1", "a6"], ["b1"]]
    assert built.get_column(SEQUENCE_LENGTH).to_list() == [1, 3, 1, 3, 0, 2, 1]
    assert built.get_column(SEQUENCE).to_list()[0] == [
        {"event_id": "a1", "timestamp": utc(D1, 9), "event_type": "view", "item_id": 10, "item_category": "shoes",
         "item_price": 19.5, "dwell_bucket": 1, "is_mobile": True}
    ]
    assert built.select("user_id", "timestamp", "label").equals(examples)


def test_csv_style_examples_with_text_timestamps(locations: TableLocations, tmp_path: Path) -> None:
    examples = pl.DataFrame({"user_id": ["1", "2"], "timestamp": ["2026-05-02T09:00:00Z", "2026-05-01 12:00"]})
    built = build_training_set(ITEMS, examples, locations)
    assert built.get_column(SEQUENCE_LENGTH).to_list() == [3, 1]
    assert built.select("user_id", "timestamp").equals(examples)


def test_no_examples_give_an_empty_training_set(locations: TableLocations) -> None:
    examples = pl.DataFrame(schema={"user_id": pl.Int64, "timestamp": pl.Datetime("us"), "label": pl.Int8})
    built = build_training_set(ITEMS, examples, locations)
    assert built.height == 0
    assert built.columns == ["user_id", "timestamp", "label", SEQUENCE, SEQUENCE_LENGTH]
