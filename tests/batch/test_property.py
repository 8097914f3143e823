"""On random raw events, every table and training set equals the brute-force reference.

Raw rows are drawn to hit the cases that break sequence code: timestamp ties (a coarse time grid),
replays (the same event id again, as an exact copy or re-stamped, in the same or another partition),
de-duplication by a derived field (queries that normalise alike), late and very late arrivals, events
from the future of their arrival day (also exactly at midnight), retention edges (events exactly R
before a snapshot or example time), malformed rows, users with fewer events than N, and examples at
an event's exact time. The features are the fixture configs' with a small N (3 / 2) and R (2 days).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from feature_platform.artefact import Artefact
from feature_platform.runtimes.batch import (
    SEQUENCE,
    TableLocations,
    _parquet_writer,
    _snapshot,
    build_training_set,
    index_day,
    index_days,
)
from tests.batch.helpers import (
    APP_EVENTS,
    ITEM_FEATURES,
    epoch_ms,
    events_rows,
    fixture_artefacts,
    full_recompute,
    manifest,
    rejects_rows,
    same_rows,
    snapshot_rows,
    utc,
    with_feature,
    write_lookup,
    write_partition,
)
from tests.reference import canonical
from tests.reference.batch import reference_partition, reference_snapshot, reference_training_set

D0 = date(2026, 3, 1)
DAYS = [D0 + timedelta(days=i) for i in range(4)]
RETENTION = 2 * 86_400
_FIXTURE = fixture_artefacts()
ARTEFACTS: list[Artefact] = [
    with_feature(_FIXTURE["recent_item_activity_v1"], max_length=3, retention_seconds=RETENTION),
    with_feature(_FIXTURE["recent_searches_v1"], max_length=2, retention_seconds=RETENTION),
]
LOOKUP = [
    {"item_id": 10, "category": "shoes", "price": 19.5},
    {"item_id": 11, "category": "hats", "price": None},
]  # item 12 has no row: a lookup miss
HOURS = (0, 1, 12, 23)

CONTENT = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["view", "view", "purchase", "search", "search", "hide", None]),
        "item_id": st.sampled_from([10, 11, 12, None]),
        "dwell_ms": st.sampled_from([None, 100, 600, 2_500, 12_000]),
        "platform": st.sampled_from(["iOS", "web", "ANDROID", None]),
        "query": st.sampled_from(["Red Shoes", "red shoes!", "hat", "HAT ", "  ", None, "blue socks", "Scarf"]),
    }
)
ROW = st.tuples(
    st.sampled_from([1, 2, 3]),  # user
    st.integers(0, 5),  # which of the user's events (same k = same event id and payload)
    st.integers(0, len(DAYS) - 1),  # arrival partition
    st.sampled_from(["day", "day", "day", "day", "late", "very_late", "future", "last_ms", "ancient", "null"]),
    st.sampled_from(HOURS),
    st.sampled_from([0, 30]),
    st.sampled_from(["ok"] * 8 + ["null_user", "null_id"]),
)
EXAMPLE = st.tuples(
    st.sampled_from([1, 2, 3, 4]),
    st.integers(-1, len(DAYS)),
    st.sampled_from(HOURS),
    st.sampled_from([0, 30]),
    st.sampled_from([timedelta(0), timedelta(0), timedelta(milliseconds=1), -timedelta(microseconds=1)]),
)


def _timestamp(kind: str, day: date, hour: int, minute: int) -> datetime | None:
    shift = {"day": 0, "late": -1, "very_late": -3, "future": 1}
    if kind in shift:
        return utc(day + timedelta(days=shift[kind]), hour, minute)
    if kind == "last_ms":
        return utc(day + timedelta(days=1)) - timedelta(milliseconds=1)
    if kind == "ancient":
        return datetime(1999, 12, 31, hour, tzinfo=UTC)
    return None


def _raw_rows(
    catalogue: list[dict[str, Any]], rows: list[tuple[Any, ...]], replays: list[tuple[int, int]]
) -> dict[date, list[dict[str, Any]]]:
    by_day: dict[date, list[dict[str, Any]]] = {day: [] for day in DAYS}
    written: list[dict[str, Any]] = []
    for user, k, part, kind, hour, minute, defect in rows:
        moment = _timestamp(kind, DAYS[part], hour, minute)
        row = {
            "event_id": None if defect == "null_id" else f"u{user}-k{k}",
            "user_id": None if defect == "null_user" else user,
            "ts_ms": None if moment is None else epoch_ms(moment),
            **catalogue[k],
        }
        by_day[DAYS[part]].append(row)
        written.append(row)
    for index, part in replays:  # exact copies of rows already written, in any partition
        if written:
            by_day[DAYS[part]].append(dict(written[index % len(written)]))
    return by_day


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    catalogue=st.lists(CONTENT, min_size=6, max_size=6),
    rows=st.lists(ROW, min_size=12, max_size=40),
    replays=st.lists(st.tuples(st.integers(0, 100), st.integers(0, len(DAYS) - 1)), max_size=5),
    examples=st.lists(EXAMPLE, min_size=1, max_size=8),
    chunk_rows=st.sampled_from([1, 2, 3, 5, _snapshot.CHUNK_ROWS]),
    row_group_rows=st.sampled_from([1, 2, 4, _parquet_writer.ROW_GROUP_ROWS]),
)
def test_tables_and_training_sets_equal_the_reference(
    catalogue: list[dict[str, Any]],
    rows: list[tuple[Any, ...]],
    replays: list[tuple[int, int]],
    examples: list[tuple[Any, ...]],
    chunk_rows: int,
    row_group_rows: int,
) -> None:
    """Whatever the sizes the snapshot is streamed in: ranges of a few rows put users across the
    boundaries of the previous snapshot's slices (and whole slices of one user)."""
    by_day = _raw_rows(catalogue, rows, replays)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(_snapshot, "CHUNK_ROWS", chunk_rows)
        patch.setattr(_parquet_writer, "ROW_GROUP_ROWS", row_group_rows)
        patch.setattr(_parquet_writer, "SLICE_ROWS", max(1, chunk_rows - 1))
        raw_root = Path(tmp) / "raw"
        for day, day_rows in by_day.items():
            write_partition(raw_root, ARTEFACTS[0], APP_EVENTS, day, day_rows)
        write_lookup(raw_root, ARTEFACTS[0], ITEM_FEATURES, LOOKUP)
        locations = TableLocations(raw_root=str(raw_root), tables_root=str(Path(tmp) / "tables"))
        for artefact in ARTEFACTS:
            _check_feature(artefact, locations, by_day, examples)


def _check_feature(
    artefact: Artefact,
    locations: TableLocations,
    by_day: dict[date, list[dict[str, Any]]],
    examples: list[tuple[Any, ...]],
) -> None:
    feature_id = artefact.feature.id
    results = index_days(artefact, DAYS[0], DAYS[-1], locations)
    assert [r.incremental for r in results] == [False, True, True, True]
    events_by_day: dict[date, list[dict[str, Any]]] = {}
    for day in DAYS:
        events, rejects, replays = reference_partition(
            artefact, day, {APP_EVENTS: by_day[day]}, {ITEM_FEATURES: LOOKUP}
        )
        events_by_day[day] = events
        assert same_rows(events_rows(feature_id, locations, day), events), day
        assert same_rows(rejects_rows(feature_id, locations, day), rejects), day
        assert manifest(locations, feature_id, day)["events"]["duplicate_replays"] == replays
    for day in DAYS:
        expected = reference_snapshot(artefact, events_by_day, day)
        _record_cases(artefact, day, events_by_day, expected)
        assert same_rows(snapshot_rows(feature_id, locations, day), expected), day
        stored = pl.read_parquet(locations.partition_file(feature_id, "snapshots", day))
        assert stored.equals(full_recompute(artefact, locations, day)), day
    # index_days handed each snapshot to the next day through a handle on the file it committed; index_day
    # alone finds the stored file, checks its sha256 and reads it: the same bytes either way.
    last = Path(locations.partition_file(feature_id, "snapshots", DAYS[-1]))
    carried = last.read_bytes()
    assert index_day(artefact, DAYS[-1], locations).incremental
    assert last.read_bytes() == carried

    moments = [(user, utc(D0 + timedelta(days=d), h, m) + nudge) for user, d, h, m, nudge in examples]
    frame = pl.DataFrame(
        {
            "user_id": [u for u, _ in moments],
            "timestamp": [t for _, t in moments],
            "label": [str(i) for i in range(len(moments))],
        }
    )
    built = build_training_set(artefact, frame, locations)
    edges = (timedelta(0), timedelta(seconds=RETENTION))
    if any(t - e["timestamp"] in edges for _, t in moments for e in all_events_of(events_by_day)):
        event("an example at an event's time or exactly R after it")
    all_events = [e for day in DAYS for e in events_by_day[day]]
    expected_sequences = reference_training_set(artefact, all_events, moments)
    assert canonical(built.get_column(SEQUENCE).to_list()) == canonical(expected_sequences)
    assert built.get_column("label").to_list() == frame.get_column("label").to_list()


def all_events_of(events_by_day: dict[date, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [e for events in events_by_day.values() for e in events]


def _record_cases(
    artefact: Artefact, day: date, events_by_day: dict[date, list[dict[str, Any]]], snapshot: list[dict[str, Any]]
) -> None:
    """Hypothesis statistics (``--hypothesis-show-statistics``): which edge cases the data reached."""
    name = artefact.feature.name
    if any(row["position"] == artefact.feature.max_length - 1 for row in snapshot):
        event(f"{name}: a sequence truncated to N or exactly N long")
    events = all_events_of({d: e for d, e in events_by_day.items() if d <= day})
    if any(e["timestamp"].date() < d for d, es in events_by_day.items() for e in es):
        event("late events")
    edge = utc(day + timedelta(days=1)) - timedelta(seconds=RETENTION)
    if any(e["timestamp"] == edge for e in events):
        event("an event exactly at the retention edge of a snapshot")
    stamps = [(e["user_id"], e["timestamp"]) for e in events]
    if len(stamps) != len(set(stamps)):
        event("timestamp ties within a user")
    ids = [e["event_id"] for e in events]
    if len(ids) != len(set(ids)):
        event("one event id in several partitions")
