"""``index_days`` hands each day's snapshot to the next in memory; that must change no byte."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from feature_platform.runtimes.batch import TableLocations, index_day, index_days
from feature_platform.runtimes.batch._indexer import drop_replays
from tests.batch.conftest import DAYS, Demo, Published
from tests.batch.helpers import table_files

FEATURE = "recent_engagements_v1"


@pytest.fixture
def raw(demo: Demo, tmp_path: Path) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(demo.root, copy)
    return copy


def test_a_range_in_one_call_writes_the_bytes_of_one_call_per_day(
    raw: Path, published: Published, tmp_path: Path
) -> None:
    artefact = published.artefacts[FEATURE]
    carried = TableLocations(raw_root=str(raw), tables_root=str(tmp_path / "carried"))
    read_back = TableLocations(raw_root=str(raw), tables_root=str(tmp_path / "read_back"))
    in_one_call = index_days(artefact, DAYS[0], DAYS[-1], carried)
    one_per_day = [index_day(artefact, day, read_back) for day in DAYS]
    assert [r.incremental for r in in_one_call] == [r.incremental for r in one_per_day]
    assert all(r.incremental for r in in_one_call[1:])
    assert table_files(Path(carried.tables_root)) == table_files(Path(read_back.tables_root))


def _ts(hour: int) -> datetime:
    return datetime(2026, 1, 1, hour, tzinfo=UTC)


def _reference_drop_replays(events: pl.DataFrame) -> pl.DataFrame:
    """The definition, row by row: per key the latest timestamp, then the first read."""
    best: dict[tuple[object, object], int] = {}
    for i, row in enumerate(events.iter_rows(named=True)):
        key = (row["event_id"], row["event_type"])
        if key not in best or row["timestamp"] > events.row(best[key], named=True)["timestamp"]:
            best[key] = i
    kept = events[sorted(best.values())]
    return kept.sort("timestamp", "event_id", "event_type")


def test_drop_replays_resolves_only_duplicated_keys_as_defined() -> None:
    events = pl.DataFrame(
        {
            "event_id": ["a", "b", "a", "c", "a", "b", "d", "c", "e"],
            "event_type": ["x", "x", "x", "x", "y", "x", "x", "x", "x"],
            "timestamp": [_ts(h) for h in (1, 5, 3, 2, 3, 5, 0, 1, 4)],
            "payload": [0, 1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    got = drop_replays(events)
    assert got.equals(_reference_drop_replays(events))
    # a: the later read (row 2, 03:00) wins; b: a timestamp tie goes to the first read (row 1); c: row 3.
    assert got.get_column("payload").to_list() == [6, 3, 2, 4, 8, 1]


def test_drop_replays_without_replays_only_sorts() -> None:
    events = pl.DataFrame(
        {"event_id": ["b", "a"], "event_type": ["x", "x"], "timestamp": [_ts(2), _ts(1)], "payload": [0, 1]}
    )
    assert drop_replays(events).get_column("payload").to_list() == [1, 0]
