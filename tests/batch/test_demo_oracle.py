"""The demo data indexed by the batch runtime equals the brute-force reference, table by table."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from feature_platform.runtimes.batch import SEQUENCE, SEQUENCE_LENGTH, build_training_set
from tests.batch.conftest import DAYS, FEATURES, Demo, DemoTables, Published
from tests.batch.helpers import (
    events_rows,
    full_recompute,
    manifest,
    raw_inputs,
    rejects_rows,
    same_rows,
    snapshot_rows,
    utc,
)
from tests.reference import canonical
from tests.reference.batch import reference_partition, reference_snapshot, reference_training_set


@pytest.fixture(scope="module")
def reference(demo: Demo, published: Published) -> dict[str, dict[date, tuple[list[Any], list[Any], int]]]:
    """Reference events, rejects and replay counts per feature and day."""
    out: dict[str, dict[date, tuple[list[Any], list[Any], int]]] = {}
    for feature_id, artefact in published.artefacts.items():
        out[feature_id] = {}
        for day in DAYS:
            raw, lookups = raw_inputs(artefact, demo.root, day)
            out[feature_id][day] = reference_partition(artefact, day, raw, lookups)
    return out


@pytest.mark.parametrize("feature_id", FEATURES)
def test_events_and_rejects_equal_the_reference(feature_id: str, demo_tables: DemoTables, reference: Any) -> None:
    locations = demo_tables.locations
    for day in DAYS:
        events, rejects, replays = reference[feature_id][day]
        assert events, (feature_id, day)
        assert same_rows(events_rows(feature_id, locations, day), events), (feature_id, day)
        assert same_rows(rejects_rows(feature_id, locations, day), rejects), (feature_id, day)
        written = manifest(locations, feature_id, day)
        assert written["events"]["duplicate_replays"] == replays
        assert written["events"]["rows"] == len(events)
        assert written["rejects"]["rows"] == len(rejects)


def test_demo_data_has_every_kind_of_case(demo: Demo, demo_tables: DemoTables, reference: Any) -> None:
    """The fixture exercises what the oracle is meant to check: late events, replays, rejects."""
    late = 0
    for day in DAYS:
        events, rejects, _ = reference["recent_engagements_v1"][day]
        late += sum(1 for e in events if e["timestamp"].date() < day)
        assert rejects
    assert late > 0
    assert sum(reference["recent_engagements_v1"][d][2] for d in DAYS) > 0
    results = demo_tables.results["recent_engagements_v1"]
    assert [r.incremental for r in results] == [False, True, True, True]


@pytest.mark.parametrize("feature_id", FEATURES)
def test_snapshots_equal_the_brute_force_sequences(
    feature_id: str, demo_tables: DemoTables, published: Published, reference: Any
) -> None:
    artefact = published.artefacts[feature_id]
    events_by_day = {day: reference[feature_id][day][0] for day in DAYS}
    for day in DAYS:
        expected = reference_snapshot(artefact, events_by_day, day)
        assert expected
        assert same_rows(snapshot_rows(feature_id, demo_tables.locations, day), expected), (feature_id, day)


@pytest.mark.parametrize("feature_id", FEATURES)
def test_incremental_snapshots_equal_a_full_recompute(
    feature_id: str, demo_tables: DemoTables, published: Published
) -> None:
    artefact = published.artefacts[feature_id]
    for day in DAYS:
        stored = pl.read_parquet(demo_tables.locations.partition_file(feature_id, "snapshots", day))
        assert stored.equals(full_recompute(artefact, demo_tables.locations, day)), (feature_id, day)


def _examples(reference: Any, feature_id: str) -> list[tuple[Any, datetime]]:
    """Examples hitting the edges: at an event's exact time, just after it, at midnights, outside the data."""
    events = [e for day in DAYS for e in reference[feature_id][day][0]]
    users = sorted({e["user_id"] for e in events})
    examples: list[tuple[Any, datetime]] = []
    for i, event in enumerate(sorted(events, key=lambda e: (e["timestamp"], e["event_id"]))[::37]):
        examples.append((event["user_id"], event["timestamp"]))
        examples.append((event["user_id"], event["timestamp"] + timedelta(microseconds=1 + i % 2)))
    for user in users[::5]:
        examples += [(user, utc(day)) for day in [*DAYS, DAYS[-1] + timedelta(days=1)]]
        examples += [(user, utc(DAYS[0]) - timedelta(days=3)), (user, utc(DAYS[-1], 23, 59) + timedelta(days=9))]
    examples.append((999, utc(DAYS[1], 12)))  # a user with no events at all
    return examples


@pytest.mark.parametrize("feature_id", FEATURES)
def test_training_sets_equal_the_brute_force_definition(
    feature_id: str, demo_tables: DemoTables, published: Published, reference: Any
) -> None:
    artefact = published.artefacts[feature_id]
    examples = _examples(reference, feature_id)
    frame = pl.DataFrame(
        {
            "user_id": [u for u, _ in examples],
            "timestamp": [t for _, t in examples],
            "label": list(range(len(examples))),
        }
    )
    built = build_training_set(artefact, frame, demo_tables.locations)
    assert built.columns == ["user_id", "timestamp", "label", SEQUENCE, SEQUENCE_LENGTH]
    assert built.select("user_id", "timestamp", "label").equals(frame)  # carried through, order kept
    all_events = [e for day in DAYS for e in reference[feature_id][day][0]]
    expected = reference_training_set(artefact, all_events, examples)
    got = built.get_column(SEQUENCE).to_list()
    assert sum(len(s) for s in expected) > 0
    for i, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert canonical(have) == canonical(want), (i, examples[i])
    assert built.get_column(SEQUENCE_LENGTH).to_list() == [len(s) for s in expected]


def test_training_sets_see_late_events_that_arrived_after_the_example_day(
    demo_tables: DemoTables, published: Published, reference: Any
) -> None:
    """Examples of one day only, late in it: the events of that day that arrived the next day count."""
    feature_id = "recent_engagements_v1"
    artefact = published.artefacts[feature_id]
    day = DAYS[1]
    late = [e for e in reference[feature_id][DAYS[2]][0] if e["timestamp"].date() == day]
    assert late
    examples = [(e["user_id"], utc(day, 23, 59)) for e in late]
    frame = pl.DataFrame({"user_id": [u for u, _ in examples], "timestamp": [t for _, t in examples]})
    built = build_training_set(artefact, frame, demo_tables.locations)
    all_events = [e for d in DAYS for e in reference[feature_id][d][0]]
    expected = reference_training_set(artefact, all_events, examples)
    assert canonical(built.get_column(SEQUENCE).to_list()) == canonical(expected)
    late_ids = {e["event_id"] for e in late}
    assert all(any(x["event_id"] in late_ids for x in seq) for seq in built.get_column(SEQUENCE).to_list())
