"""The plan on hand-written raw rows of the example configs, against values written out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from feature_platform.artefact import Artefact
from feature_platform.engine import (
    REJECTS_SCHEMA,
    MicroBatchPlan,
    build_event_type_frame,
    build_feature_frame,
    events_schema,
    run_micro_batch,
)
from tests.engine.rows import (
    ENGAGEMENT_ROWS,
    LOOKUP_ROWS,
    MAX_EVENT_TIME,
    SEARCH_ROWS,
    T0,
    frame,
    lookup_frames,
)
from tests.reference import canonical_rows, reference_events


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


EXPECTED_ENGAGEMENTS = [
    {
        "user_id": 1, "event_id": "e01", "timestamp": at(2024, 1, 2, 3, 4, 5, 123_000), "event_type": "save",
        "item_id": 10, "item_embedding": [0.5, -0.25], "item_category": "art", "surface": "homefeed",
        "context_key": "homefeed|ios|US", "dwell_bucket": None, "hour_of_day": 3,
    },
    {
        "user_id": 1, "event_id": "e02", "timestamp": at(2024, 1, 2, 4, 4, 5), "event_type": "click",
        "item_id": 11, "item_embedding": None, "item_category": None, "surface": "search",
        "context_key": "search|web|DE", "dwell_bucket": 2, "hour_of_day": 4,
    },
    {
        "user_id": 2, "event_id": "e03", "timestamp": T0, "event_type": "click",
        "item_id": 10, "item_embedding": [0.5, -0.25], "item_category": "art", "surface": "homefeed",
        "context_key": "homefeed|ios|US", "dwell_bucket": None, "hour_of_day": 3,
    },
]

EXPECTED_ENGAGEMENT_REJECTS = [
    ("save", None, "3", "null event_id"),
    ("save", "e08", None, "null user_id"),
    ("save", "e09", "3", "null timestamp"),
    ("save", "e10", "3", "timestamp before 2000-01-01"),
    ("click", "e11", "3", "timestamp after max_event_time"),
    ("click", None, None, "null event_id"),  # one reason: the first that applies (user_id is null too)
    ("save", "e13", "3", "unparseable timestamp"),
]

EXPECTED_SEARCHES = [
    {
        "user_id": 1, "event_id": "q1", "timestamp": at(2024, 1, 2, 3, 4, 5), "event_type": "search_query",
        "query_norm": "red shoes", "query_tokens": 2, "num_results": 42, "surface": "search", "region": "EU",
    },
    {
        "user_id": 1, "event_id": "q2", "timestamp": at(2024, 1, 2, 3, 0, 0), "event_type": "search_query",
        "query_norm": "red shoes", "query_tokens": 2, "num_results": 0, "surface": "search", "region": "NA",
    },
    {
        "user_id": 3, "event_id": "q7", "timestamp": at(2024, 1, 2, 5, 0, 0, 250_000),
        "event_type": "search_query", "query_norm": None, "query_tokens": 0, "num_results": 42, "surface": None,
        "region": "ROW",
    },
]

EXPECTED_SEARCH_REJECTS = [
    ("search_query", "q5", "2", "unparseable timestamp"),
    ("search_query", "q6", "3", "null timestamp"),
]


def _run(artefact: Artefact, source: str, rows: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    plan = build_feature_frame(
        artefact,
        {source: frame(artefact, source, rows).lazy()},
        {name: f.lazy() for name, f in lookup_frames(artefact, LOOKUP_ROWS).items()},
        max_event_time=MAX_EVENT_TIME,
    )
    events, rejects = pl.collect_all([plan.events, plan.rejects])
    return events, rejects


def _reject_tuples(rejects: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        ((r["event_type"], r["event_id"], r["user_id"], r["reason"]) for r in rejects),
        key=lambda t: tuple("" if v is None else v for v in t),
    )


@pytest.mark.parametrize(
    ("feature", "source", "rows", "expected", "expected_rejects"),
    [
        ("engagements", "engagement_events", ENGAGEMENT_ROWS, EXPECTED_ENGAGEMENTS, EXPECTED_ENGAGEMENT_REJECTS),
        ("searches", "search_events", SEARCH_ROWS, EXPECTED_SEARCHES, EXPECTED_SEARCH_REJECTS),
    ],
)
def test_events_and_rejects_match_hand_written_values(
    request: pytest.FixtureRequest,
    feature: str,
    source: str,
    rows: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    expected_rejects: list[tuple[Any, ...]],
) -> None:
    artefact: Artefact = request.getfixturevalue(feature)
    events, rejects = _run(artefact, source, rows)

    assert events.schema == events_schema(artefact)
    assert list(events.columns) == list(expected[0])
    assert canonical_rows(events.to_dicts()) == canonical_rows(expected)
    assert rejects.schema == REJECTS_SCHEMA
    assert _reject_tuples(rejects.to_dicts()) == _reject_tuples(
        [dict(zip(("event_type", "event_id", "user_id", "reason"), t, strict=True)) for t in expected_rejects]
    )
    assert set(rejects["source"]) == {source}

    # the reference says the same, and every reject carries its raw row intact
    ref_events, ref_rejects = reference_events(
        artefact, {source: rows}, LOOKUP_ROWS, max_event_time=MAX_EVENT_TIME
    )
    assert canonical_rows(ref_events) == canonical_rows(expected)
    engine_raw = sorted(json.dumps(json.loads(r), sort_keys=True) for r in rejects["raw"])
    reference_raw = sorted(json.dumps(r["raw"], sort_keys=True) for r in ref_rejects)
    assert engine_raw == reference_raw


def test_filtered_rows_are_neither_events_nor_rejects(engagements: Artefact) -> None:
    events, rejects = _run(engagements, "engagement_events", ENGAGEMENT_ROWS)
    seen = set(events["event_id"].drop_nulls()) | set(rejects["event_id"].drop_nulls())
    assert {"e04", "e05", "e06"}.isdisjoint(seen)
    assert events.height + rejects.height == len(ENGAGEMENT_ROWS) - 3


def test_lookup_join_neither_loses_nor_duplicates_rows(engagements: Artefact) -> None:
    rows = [r for r in ENGAGEMENT_ROWS if r["event_id"] in {"e01", "e02", "e03"}]
    events, _ = _run(engagements, "engagement_events", rows * 2)
    assert events.height == 6  # the duplicated lookup key 10 fans nothing out; the miss (11) is kept


def test_event_type_frame_keeps_every_output_field(engagements: Artefact) -> None:
    raw = frame(engagements, "engagement_events", ENGAGEMENT_ROWS).lazy()
    lookups = {name: f.lazy() for name, f in lookup_frames(engagements, LOOKUP_ROWS).items()}
    frames = build_event_type_frame(engagements, "click", raw, lookups)
    valid = frames.valid.collect()
    assert valid.columns == [c.name for c in engagements.event_types["click"].output_fields]
    row = valid.filter(pl.col("event_id") == "e02").to_dicts()[0]
    assert (row["dwell_ms"], row["dwell_bucket"], row["region"], row["is_mobile"]) == (7_000, 2, "EU", False)
    assert row["item_subcategory"] is None


def test_micro_batch_equals_the_lazy_plan(engagements: Artefact) -> None:
    lazy_events, lazy_rejects = _run(engagements, "engagement_events", ENGAGEMENT_ROWS)
    events, rejects = run_micro_batch(
        engagements,
        {"engagement_events": frame(engagements, "engagement_events", ENGAGEMENT_ROWS)},
        lookup_frames(engagements, LOOKUP_ROWS),
        max_event_time=MAX_EVENT_TIME,
    )
    assert events.equals(lazy_events)
    assert rejects.equals(lazy_rejects)


def test_a_micro_batch_plan_is_built_once_per_schema_and_max_event_time(engagements: Artefact) -> None:
    plan = MicroBatchPlan(engagements, lookup_frames(engagements, LOOKUP_ROWS))
    raw = frame(engagements, "engagement_events", ENGAGEMENT_ROWS)
    lazy_events, lazy_rejects = _run(engagements, "engagement_events", ENGAGEMENT_ROWS)
    for _ in range(3):
        events, rejects = plan.run({"engagement_events": raw}, max_event_time=MAX_EVENT_TIME)
        assert events.equals(lazy_events) and rejects.equals(lazy_rejects)
    assert plan.builds == 1
    # another max_event_time is another plan (the bound is a literal of the plan), with its own result
    events, rejects = plan.run({"engagement_events": raw}, max_event_time=None)
    assert plan.builds == 2
    assert "timestamp after max_event_time" not in rejects.get_column("reason").to_list()
    assert events.height > lazy_events.height
    # an input with an extra column (the streaming indexer's entry id) is another schema, another plan
    plan.run({"engagement_events": raw.with_columns(pl.lit("1-0").alias("_fp_entry"))}, max_event_time=MAX_EVENT_TIME)
    assert plan.builds == 3
    events, _ = plan.run({"engagement_events": raw}, max_event_time=MAX_EVENT_TIME)
    assert events.equals(lazy_events) and plan.builds == 3


def test_finish_events_runs_in_the_same_query(engagements: Artefact) -> None:
    lookups = lookup_frames(engagements, LOOKUP_ROWS)
    plan = MicroBatchPlan(engagements, lookups, finish_events=lambda e: e.select("event_id").sort("event_id"))
    finished, _ = plan.run(
        {"engagement_events": frame(engagements, "engagement_events", ENGAGEMENT_ROWS)}, max_event_time=MAX_EVENT_TIME
    )
    lazy_events, _ = _run(engagements, "engagement_events", ENGAGEMENT_ROWS)
    assert finished.equals(lazy_events.select("event_id").sort("event_id"))
