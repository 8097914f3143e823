"""Malformed rows land in the rejects table with their reason; the counts match the injected defects.

The example features select only some rows (saves and clicks, non-blank searches), so the demo data's
defect counts (over every row) map 1:1 onto rejects only for an event type that selects every row:
the tests index the example event types with their filter removed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from feature_platform.runtimes.batch import TableLocations, index_days, read_events
from tests.batch.conftest import DAYS, Demo, Published
from tests.batch.helpers import manifest, without_filters


@pytest.fixture(scope="module")
def unfiltered(demo: Demo, published: Published, tmp_path_factory: pytest.TempPathFactory) -> TableLocations:
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path_factory.mktemp("unfiltered")))
    for feature_id, event_type in (("recent_engagements_v1", "save"), ("recent_searches_v1", "search_query")):
        index_days(without_filters(published.artefacts[feature_id], event_type), DAYS[0], DAYS[-1], locations)
    return locations


def _reasons(locations: TableLocations, feature_id: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for day in DAYS:
        total.update(manifest(locations, feature_id, day)["rejects"]["reasons"])
    return total


def _rejects(locations: TableLocations, feature_id: str) -> pl.DataFrame:
    pattern = f"{locations.feature_root(feature_id)}/rejects/*/*.parquet"
    return pl.read_parquet(pattern, hive_partitioning=True)


def test_engagement_rejects_match_the_injected_defects(demo: Demo, unfiltered: TableLocations) -> None:
    defects = demo.manifest["tables"]["engagement_events"]["defects"]
    details = demo.manifest["tables"]["engagement_events"]["defect_details"]
    reasons = _reasons(unfiltered, "recent_engagements_v1")
    assert reasons == {
        "null user_id": defects["null_user_id"],
        "null event_id": defects["null_event_id"],
        "timestamp before 2000-01-01": details["out_of_range_timestamp.zero"]
        + details["out_of_range_timestamp.seconds_not_ms"],
        "timestamp after max_event_time": details["out_of_range_timestamp.year_2300"],
    }
    assert all(reasons.values())
    rejects = _rejects(unfiltered, "recent_engagements_v1")
    assert rejects.height == defects["null_user_id"] + defects["null_event_id"] + defects["out_of_range_timestamp"]
    assert rejects.columns == ["event_type", "source", "reason", "event_id", "user_id", "raw", "dt"]
    assert rejects.get_column("source").unique().to_list() == ["engagement_events"]


def test_search_rejects_match_the_injected_defects(demo: Demo, unfiltered: TableLocations) -> None:
    defects = demo.manifest["tables"]["search_events"]["defects"]
    assert _reasons(unfiltered, "recent_searches_v1") == {
        "null user_id": defects["null_user_id"],
        "null event_id": defects["null_event_id"],
        "unparseable timestamp": defects["unparseable_timestamp"],
    }


@pytest.mark.parametrize(("feature_id", "table"), [("recent_engagements_v1", "engagement_events"),
                                                   ("recent_searches_v1", "search_events")])
def test_replays_are_dropped_and_counted_and_late_events_kept(
    demo: Demo, unfiltered: TableLocations, feature_id: str, table: str
) -> None:
    defects = demo.manifest["tables"][table]["defects"]
    replays = sum(manifest(unfiltered, feature_id, day)["events"]["duplicate_replays"] for day in DAYS)
    assert replays == defects["duplicate_events"] > 0
    events = read_events(feature_id, unfiltered).collect()
    assert events.select(pl.struct("event_id", "event_type").is_unique().all()).item()
    late = events.filter(pl.col("timestamp").dt.date() < pl.col("dt"))
    assert late.height == defects["late_events"] > 0
    assert late.get_column("dt").min() == DAYS[1]  # the first day has none


def test_every_raw_row_is_an_event_a_replay_or_a_reject(demo: Demo, unfiltered: TableLocations) -> None:
    for day in DAYS:
        raw = pl.read_parquet(Path(demo.root) / "engagement_events" / f"dt={day}" / "*.parquet").height
        written = manifest(unfiltered, "recent_engagements_v1", day)
        assert written["events"]["rows"] + written["events"]["duplicate_replays"] + written["rejects"]["rows"] == raw
