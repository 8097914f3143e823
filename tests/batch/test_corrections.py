"""Re-runs: idempotent to the byte, late data corrected by re-running a range, stale snapshots detected."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from feature_platform.errors import StaleSnapshotError
from feature_platform.runtimes.batch import TableLocations, index_day, index_days, read_snapshot
from tests.batch.conftest import DAYS, Demo, Published
from tests.batch.helpers import (
    epoch_ms,
    events_rows,
    full_recompute,
    raw_inputs,
    same_rows,
    snapshot_rows,
    table_files,
    utc,
    with_feature,
)
from tests.reference.batch import reference_partition, reference_snapshot

FEATURE = "recent_engagements_v1"


@pytest.fixture
def setup(demo: Demo, published: Published, tmp_path: Path) -> tuple[Path, TableLocations]:
    raw = tmp_path / "raw"
    shutil.copytree(demo.root, raw)
    return raw, TableLocations(raw_root=str(raw), tables_root=str(tmp_path / "tables"))


def _snapshots_match_full_recompute(published: Published, locations: TableLocations) -> None:
    artefact = published.artefacts[FEATURE]
    for day in DAYS:
        stored = pl.read_parquet(locations.partition_file(FEATURE, "snapshots", day))
        assert stored.equals(full_recompute(artefact, locations, day)), day


def test_rerunning_without_changes_rewrites_identical_bytes(
    setup: tuple[Path, TableLocations], published: Published
) -> None:
    _, locations = setup
    artefact = published.artefacts[FEATURE]
    first = index_days(artefact, DAYS[0], DAYS[-1], locations)
    before = table_files(Path(locations.tables_root))
    assert len(before) == 4 * len(DAYS)  # three tables and a manifest per day, nothing else
    again = index_days(artefact, DAYS[0], DAYS[-1], locations)
    assert table_files(Path(locations.tables_root)) == before
    assert again == first


def _late_rows(raw: Path, day_late: int, day_on: int) -> pl.DataFrame:
    """New rows for partition DAYS[day_late]: events of DAYS[day_on] (late when earlier) and exact replays."""
    source = pl.read_parquet(raw / "engagement_events" / f"dt={DAYS[day_late]}" / "*.parquet")
    in_day = pl.col("event_ts_ms").is_between(epoch_ms(utc(DAYS[day_late])), epoch_ms(utc(DAYS[day_late], 23)))
    clean = source.filter(pl.col("user_id").is_not_null() & pl.col("event_id").is_not_null() & in_day
                          & pl.col("action").is_in(["save", "click"]) & pl.col("pin_id").is_not_null())
    shift = (DAYS[day_on] - DAYS[day_late]).days * 86_400_000
    new = clean.head(40).with_columns(
        ("late-" + pl.int_range(pl.len()).cast(pl.String)).alias("event_id"),
        (pl.col("event_ts_ms") + shift).alias("event_ts_ms"),
        pl.lit("save").alias("action"),
    )
    replays = clean.slice(100, 5)  # exact copies of rows already in the partition
    return pl.concat([new, replays])


def test_late_data_is_corrected_by_rerunning_the_range(
    setup: tuple[Path, TableLocations], published: Published
) -> None:
    raw, locations = setup
    artefact = published.artefacts[FEATURE]
    index_days(artefact, DAYS[0], DAYS[-1], locations)
    old_snapshot = snapshot_rows(FEATURE, locations, DAYS[-1])

    # Late data lands in partition DAYS[1]: events that happened on DAYS[0], and replays.
    _late_rows(raw, 1, 0).write_parquet(raw / "engagement_events" / f"dt={DAYS[1]}" / "part-00099.parquet")
    results = index_days(artefact, DAYS[1], DAYS[-1], locations)
    assert all(r.incremental for r in results)

    events_by_day = {}
    for day in DAYS:
        raw_rows, lookups = raw_inputs(artefact, raw, day)
        events_by_day[day] = reference_partition(artefact, day, raw_rows, lookups)[0]
        assert same_rows(events_rows(FEATURE, locations, day), events_by_day[day]), day
    assert sum(1 for e in events_by_day[DAYS[1]] if str(e["event_id"]).startswith("late-")) == 40
    for day in DAYS:
        assert same_rows(snapshot_rows(FEATURE, locations, day), reference_snapshot(artefact, events_by_day, day))
    assert not same_rows(snapshot_rows(FEATURE, locations, DAYS[-1]), old_snapshot)
    _snapshots_match_full_recompute(published, locations)


def test_a_stale_snapshot_is_not_built_on(setup: tuple[Path, TableLocations], published: Published) -> None:
    raw, locations = setup
    artefact = published.artefacts[FEATURE]
    index_days(artefact, DAYS[0], DAYS[-1], locations)
    _late_rows(raw, 1, 0).write_parquet(raw / "engagement_events" / f"dt={DAYS[1]}" / "part-00099.parquet")
    assert index_day(artefact, DAYS[1], locations).incremental  # DAYS[0] is unchanged
    # DAYS[2]'s snapshot was built before DAYS[1] changed: DAYS[3] must not build on it.
    assert not index_day(artefact, DAYS[3], locations).incremental
    last = pl.read_parquet(locations.partition_file(FEATURE, "snapshots", DAYS[3]))
    assert last.equals(full_recompute(artefact, locations, DAYS[3]))
    # Re-running DAYS[2] repairs the chain: DAYS[3] is incremental again, with the same result.
    assert index_day(artefact, DAYS[2], locations).incremental
    assert index_day(artefact, DAYS[3], locations).incremental
    assert pl.read_parquet(locations.partition_file(FEATURE, "snapshots", DAYS[3])).equals(last)


def test_full_recompute_and_incremental_write_the_same_bytes(
    setup: tuple[Path, TableLocations], published: Published
) -> None:
    _, locations = setup
    artefact = published.artefacts[FEATURE]
    index_days(artefact, DAYS[0], DAYS[-1], locations)
    snapshot = Path(locations.partition_file(FEATURE, "snapshots", DAYS[2]))
    incremental = snapshot.read_bytes()
    # snapshot(DAYS[1]) no longer holds what its manifest says (sha256): it is not built on.
    previous = Path(locations.partition_file(FEATURE, "snapshots", DAYS[1]))
    pl.read_parquet(previous).head(10).write_parquet(previous)
    result = index_day(artefact, DAYS[2], locations)
    assert not result.incremental
    assert snapshot.read_bytes() == incremental


def test_a_snapshot_of_another_artefact_version_is_not_built_on(
    setup: tuple[Path, TableLocations], published: Published
) -> None:
    _, locations = setup
    artefact = published.artefacts[FEATURE]
    index_days(artefact, DAYS[0], DAYS[1], locations)
    shorter = with_feature(artefact, max_length=2)
    result = index_day(shorter, DAYS[2], locations)
    assert not result.incremental
    assert result.artefact_hash != artefact.content_hash
    assert pl.read_parquet(result.snapshot_path).get_column("position").max() == 1
    assert index_day(shorter, DAYS[3], locations).incremental
    assert DAYS[3] - DAYS[2] == timedelta(days=1)


def test_reading_a_stale_snapshot_names_the_days_to_reindex_or_recomputes_on_request(
    setup: tuple[Path, TableLocations], published: Published
) -> None:
    raw, locations = setup
    artefact = published.artefacts[FEATURE]
    index_days(artefact, DAYS[0], DAYS[-1], locations)
    current = read_snapshot(FEATURE, DAYS[-1], locations)  # current: read as stored
    assert current.equals(pl.read_parquet(locations.partition_file(FEATURE, "snapshots", DAYS[-1])))

    _late_rows(raw, 1, 0).write_parquet(raw / "engagement_events" / f"dt={DAYS[1]}" / "part-00099.parquet")
    index_day(artefact, DAYS[1], locations)  # DAYS[1] corrected; the later snapshots were built on the old one

    assert read_snapshot(FEATURE, DAYS[1], locations).height > 0  # the re-indexed day itself is current
    for day in DAYS[2:]:
        with pytest.raises(StaleSnapshotError, match=rf"snapshot of {FEATURE} for {day} is stale") as raised:
            read_snapshot(FEATURE, day, locations)
        assert f"events of {DAYS[1]} changed" in str(raised.value)
        assert f"re-index {DAYS[2]}..{day}" in str(raised.value)
        assert (raised.value.reindex_from, raised.value.reindex_to) == (DAYS[2], day)

    recomputed = read_snapshot(FEATURE, DAYS[-1], locations, recompute_with=artefact)
    assert recomputed.equals(full_recompute(artefact, locations, DAYS[-1]))
    assert not recomputed.equals(current)  # the late events are in it

    index_days(artefact, DAYS[2], DAYS[-1], locations)  # what the message advised
    assert read_snapshot(FEATURE, DAYS[-1], locations).equals(recomputed)


def test_a_day_indexed_into_a_gap_makes_later_snapshots_stale(
    setup: tuple[Path, TableLocations], published: Published
) -> None:
    _, locations = setup
    artefact = published.artefacts[FEATURE]
    index_day(artefact, DAYS[0], locations)
    index_day(artefact, DAYS[2], locations, allow_gaps=True)  # DAYS[1] never indexed: not among its inputs
    assert read_snapshot(FEATURE, DAYS[2], locations).height > 0
    index_day(artefact, DAYS[1], locations)
    with pytest.raises(StaleSnapshotError, match=rf"events of {DAYS[1]} changed"):
        read_snapshot(FEATURE, DAYS[2], locations)
