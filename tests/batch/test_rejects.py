"""Malformed rows land in the rejects table with their reason; the counts match the injected defects.

The example features select only some rows (saves and clicks, non-blank searches), so the demo data's
defect counts (over every row) map 1:1 onto rejects only for an event type that selects every row:
the tests index the example event types with their filter removed.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from feature_platform.runtimes.batch import TableLocations, index_day, index_days, read_events
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


def test_each_reject_has_one_reason_and_the_breakdown_adds_up_with_overflow_and_nulls(
    demo: Demo, published: Published, tmp_path: Path
) -> None:
    """A second file of the day whose ``user_id`` is a UInt64 column: 2^64-1 overflows the declared int64, and
    genuine nulls sit in the same file. Once "558 rejects" were broken down as "480: null user_id" + "425:
    user_id out of range for int64" (985: each overflow counted twice, and called a null too). A reject has
    exactly one reason, the first that applies (out of range first), and the breakdown adds up to the total."""
    day = DAYS[0]
    raw = tmp_path / "raw"
    shutil.copytree(demo.root, raw)
    folder = raw / "engagement_events" / f"dt={day}"
    artefact = without_filters(published.artefacts["recent_engagements_v1"], "save")  # every row is selected
    before = index_day(artefact, day, TableLocations(raw_root=str(raw), tables_root=str(tmp_path / "before")))

    base = pl.read_parquet(folder / "*.parquet")
    start = int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp() * 1000)
    good = base.filter(
        pl.col("event_id").is_not_null() & pl.col("user_id").is_not_null()
        & pl.col("event_ts_ms").is_between(start, start + 86_400_000 - 1)
    ).head(40).with_columns((pl.lit("x-") + pl.int_range(pl.len()).cast(pl.String)).alias("event_id"))
    top = 2**64 - 1
    i = pl.int_range(pl.len())
    second = good.with_columns(
        pl.when(i < 15).then(pl.lit(top, dtype=pl.UInt64))  # 15 overflow
        .when(i < 25).then(pl.lit(None, dtype=pl.UInt64))  # 10 genuine nulls
        .when(i < 30).then(pl.lit(top, dtype=pl.UInt64))  # 5 overflow with a null event_id too
        .otherwise(pl.col("user_id").cast(pl.UInt64)).alias("user_id"),
        pl.when((i >= 25) & (i < 30)).then(None).otherwise(pl.col("event_id")).alias("event_id"),
    )
    second.write_parquet(folder / "part-99999.parquet")
    locations = TableLocations(raw_root=str(raw), tables_root=str(tmp_path / "tables"))
    result = index_day(artefact, day, locations)

    assert sum(result.reject_reasons.values()) == result.rejects_rows  # the breakdown adds up
    assert sum(manifest(locations, artefact.feature.id, day)["rejects"]["reasons"].values()) == result.rejects_rows
    rejects = pl.read_parquet(locations.partition_file(artefact.feature.id, "rejects", day))
    assert rejects.height == result.rejects_rows
    assert not rejects.filter(pl.col("reason").str.contains(";")).height  # one reason per row
    expected = Counter(before.reject_reasons)
    expected.update({"user_id out of range for int64": 20, "null user_id": 10})
    assert Counter(result.reject_reasons) == expected
    assert result.rejects_rows == before.rejects_rows + 30
    assert result.events_rows == before.events_rows + 10
    overflowed = rejects.filter(pl.col("raw").str.contains(f'"user_id":{top}'))
    assert overflowed.height == 20 and set(overflowed["reason"]) == {"user_id out of range for int64"}
