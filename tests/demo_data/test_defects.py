"""Injected defects are really in the data, at roughly the configured rates, and counted in
``_demo_data.json`` exactly."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from feature_platform.demo_data import DefectRates
from tests.demo_data.conftest import RATES, DemoData

ISO = "%Y-%m-%dT%H:%M:%S%.3fZ"


def _event_day(table: str) -> pl.Expr:
    """The event's UTC day as YYYY-MM-DD (null when the timestamp is unparseable)."""
    if table == "engagement_events":
        return pl.from_epoch(pl.col("event_ts_ms"), time_unit="ms").dt.date().cast(pl.String)
    parsed = pl.col("event_time").str.to_datetime(ISO, strict=False, time_zone="UTC")
    return parsed.dt.date().cast(pl.String)


def _previous(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


@pytest.mark.parametrize("table", ["engagement_events", "search_events"])
def test_counts_in_the_manifest_match_the_data(demo: DemoData, table: str) -> None:
    frame = demo.read(table)
    summary = demo.manifest["tables"][table]
    defects = summary["defects"]
    id_col = "event_id" if table == "engagement_events" else "query_id"
    assert frame.height == summary["rows"]
    assert frame["user_id"].null_count() == defects["null_user_id"]
    assert frame[id_col].null_count() == defects["null_event_id"]
    ids = frame[id_col].drop_nulls()
    assert ids.len() - ids.n_unique() == defects["duplicate_events"]
    if table == "engagement_events":
        assert frame["pin_id"].null_count() == defects["null_pin_id"]
        window = demo.manifest["window"]
        ts = pl.col("event_ts_ms")
        out_of_range = frame.filter((ts < window["start_ms"]) | (ts >= window["end_ms_exclusive"]))
        assert out_of_range.height == defects["out_of_range_timestamp"]
        assert set(out_of_range["event_ts_ms"].to_list()) != {0}  # several kinds of bad values
    else:
        unparseable = frame.filter(_event_day(table).is_null())
        assert unparseable.height == defects["unparseable_timestamp"]
        assert {"not-a-date", "2026-13-45T99:00:00Z"} <= set(unparseable["event_time"].to_list())
        quirks = summary["quirks"]
        text = pl.col("query_text")
        assert frame.filter(text == "").height == quirks["empty_query"]
        assert frame.filter((text != "") & (text.str.strip_chars() == "")).height == quirks["blank_query"]
        assert frame["query_text"].null_count() == quirks["null_query"]
        assert frame["num_results"].null_count() == quirks["null_num_results"]
    assert summary["defect_rows"] == sum(defects.values())


@pytest.mark.parametrize("table", ["engagement_events", "search_events"])
def test_defects_are_present_at_roughly_the_configured_rates(demo: DemoData, table: str) -> None:
    summary = demo.manifest["tables"][table]
    rows, defects = summary["rows"], summary["defects"]
    expected = {
        "null_user_id": RATES.null_user_id,
        "null_event_id": RATES.null_event_id,
        "duplicate_events": RATES.duplicate,
        ("out_of_range_timestamp" if table == "engagement_events" else "unparseable_timestamp"):
            RATES.bad_timestamp,
    }
    if table == "engagement_events":
        expected["null_pin_id"] = RATES.null_pin_id
    for kind, rate in expected.items():
        measured = defects[kind] / rows
        assert 0.6 * rate <= measured <= 1.5 * rate, (kind, measured, rate)
    # Lateness is drawn per session (heavy-tailed lengths), and the first day has none.
    days = demo.config.days
    late_rate = defects["late_events"] / rows
    assert 0.4 * RATES.late * (days - 1) / days <= late_rate <= 1.8 * RATES.late, late_rate


def test_default_rates_make_a_small_total() -> None:
    defaults = DefectRates()
    assert 0.005 <= defaults.late + defaults.row_level_total <= 0.02


@pytest.mark.parametrize("table", ["engagement_events", "search_events"])
def test_late_events_are_in_the_next_days_partition(demo: DemoData, table: str) -> None:
    frame = demo.read(table).with_columns(event_day=_event_day(table))
    if table == "engagement_events":
        window = demo.manifest["window"]
        ts = pl.col("event_ts_ms")
        frame = frame.filter((ts >= window["start_ms"]) & (ts < window["end_ms_exclusive"]))
    frame = frame.filter(pl.col("event_day").is_not_null())
    partitions = demo.manifest["tables"][table]["partitions"]
    total_late = 0
    for day, entry in partitions.items():
        rows = frame.filter(pl.col("dt") == day)
        late = rows.filter(pl.col("event_day") == _previous(day)).height
        on_time = rows.filter(pl.col("event_day") == day).height
        assert late + on_time == rows.height, f"{day}: events from other days"
        assert late == entry["late_events"], day
        total_late += late
    assert partitions[demo.manifest["days"][0]]["late_events"] == 0
    assert total_late > 0


def test_duplicates_are_exact_replays_in_the_same_file(demo: DemoData) -> None:
    for path in demo.parts("engagement_events")[:3]:
        frame = pl.read_parquet(path).filter(pl.col("event_id").is_not_null())
        repeated = frame.filter(pl.col("event_id").is_duplicated())
        assert repeated.height > 0, path
        assert repeated.unique().height == repeated["event_id"].n_unique()  # identical rows per id
    all_ids = demo.read("engagement_events")["event_id"].drop_nulls()
    per_file = sum(
        (ids := pl.read_parquet(p, columns=["event_id"])["event_id"].drop_nulls()).len() - ids.n_unique()
        for p in demo.parts("engagement_events")
    )
    assert all_ids.len() - all_ids.n_unique() == per_file  # no id is shared across files
