"""The data contracts derived from an artefact: each rule passes good data and names itself on bad data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from feature_platform.artefact import Artefact
from feature_platform.compiler import compile_configs
from feature_platform.engine import events_schema
from feature_platform.runtimes.batch.contracts import check_frame, events_contract, snapshot_contract
from tests.conftest import REPO_ROOT

DAY = date(2026, 11, 3)
NOON = datetime(2026, 11, 3, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def artefact() -> Artefact:
    return compile_configs(Path(REPO_ROOT / "feature_configs")).artefacts["recent_engagements_v1"].artefact


def events(artefact: Artefact, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = events_schema(artefact)
    full = [{name: row.get(name) for name in schema} for row in rows]
    return pl.DataFrame(full, schema=schema)


def good_events(artefact: Artefact) -> pl.DataFrame:
    return events(artefact, [
        {"user_id": 1, "event_id": "a", "timestamp": NOON, "event_type": "save", "item_id": 7},
        {"user_id": 1, "event_id": "a", "timestamp": NOON, "event_type": "click", "item_id": 7},
        {"user_id": 2, "event_id": "b", "timestamp": NOON - timedelta(hours=12), "event_type": "save"},
    ])


def test_good_events_pass(artefact: Artefact) -> None:
    report = check_frame(events_contract(artefact, DAY), good_events(artefact))
    assert report.passed, report.failures
    assert report.rows == 3


def test_late_events_belong_to_the_day_they_arrived(artefact: Artefact) -> None:
    late = good_events(artefact).with_columns(pl.col("timestamp") - pl.duration(days=2))
    assert check_frame(events_contract(artefact, DAY), late).passed


def test_a_late_event_older_than_the_retention_is_valid_events(artefact: Artefact) -> None:
    """Late data that will never enter a sequence is no violation: one such event must not block a day."""
    late = good_events(artefact).with_columns(pl.col("timestamp") - pl.duration(days=91))
    assert check_frame(events_contract(artefact, DAY), late).passed


@pytest.mark.parametrize(
    ("corrupt", "rule"),
    [
        (lambda f: f.drop("item_embedding"), "schema_columns"),
        (lambda f: f.with_columns(pl.col("item_id").cast(pl.String)), "column_types"),
        (lambda f: f.with_columns(pl.when(pl.col("event_id") == "b").then(None).otherwise(pl.col("event_id"))
                                  .alias("event_id")), "non_null_keys"),
        (lambda f: pl.concat([f, f.tail(1)]), "unique_event_ids"),
        (lambda f: f.with_columns(pl.col("timestamp") + pl.duration(hours=12)), "timestamp_in_day_window"),
        (lambda f: f.with_columns(pl.lit(datetime(1999, 12, 31, tzinfo=UTC)).cast(f.schema["timestamp"])
                                  .alias("timestamp")), "timestamp_in_day_window"),
    ],
    ids=["missing-column", "wrong-type", "null-key", "duplicate-event", "next-day", "before-2000"],
)
def test_bad_events_fail_naming_the_rule(artefact: Artefact, corrupt: Any, rule: str) -> None:
    report = check_frame(events_contract(artefact, DAY), corrupt(good_events(artefact)))
    assert not report.passed
    assert rule in report.failed_rules, report.failures
    assert report.sample is not None and rule in report.sample["rule"].to_list()


def snapshot(artefact: Artefact, rows: list[tuple[int, int, datetime]]) -> pl.DataFrame:
    base = events(artefact, [{"user_id": u, "event_id": f"{u}-{p}", "timestamp": ts, "event_type": "save"}
                             for u, p, ts in rows])
    return base.with_columns(pl.Series("position", [p for _, p, _ in rows], dtype=pl.Int32))


def good_rows() -> list[tuple[int, int, datetime]]:
    return [(1, 0, NOON), (1, 1, NOON - timedelta(hours=1)), (1, 2, NOON - timedelta(days=3)), (2, 0, NOON)]


def test_a_good_snapshot_passes(artefact: Artefact) -> None:
    report = check_frame(snapshot_contract(artefact, DAY), snapshot(artefact, good_rows()))
    assert report.passed, report.failures


@pytest.mark.parametrize(
    ("rows", "rule"),
    [
        ([(1, 0, NOON), (1, 1, NOON + timedelta(hours=1))], "recent_first"),
        ([(1, 0, NOON), (1, 2, NOON)], "positions_contiguous"),
        ([(1, 0, NOON), (1, 0, NOON)], "unique_positions"),
        ([(1, 500, NOON)], "position_below_max_length"),
        ([(1, 0, NOON + timedelta(days=1))], "timestamp_as_of_day"),
        ([(1, 0, NOON - timedelta(days=91))], "timestamp_as_of_day"),
    ],
    ids=["order", "gap", "duplicate-position", "too-long", "after-the-day", "beyond-retention"],
)
def test_bad_snapshots_fail_naming_the_rule(artefact: Artefact, rows: list[tuple[int, int, datetime]],
                                            rule: str) -> None:
    report = check_frame(snapshot_contract(artefact, DAY), snapshot(artefact, rows))
    assert rule in report.failed_rules, report.failures
