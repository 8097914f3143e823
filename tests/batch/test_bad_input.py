"""Bad input: a missing raw partition, a file missing a column, bad examples — clear errors, nothing written."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from feature_platform.errors import SourceDataError
from feature_platform.runtimes.batch import (
    TableLocations,
    build_training_set,
    index_day,
    index_days,
    read_events,
    read_snapshot,
)
from tests.batch.conftest import DAYS, Demo, DemoTables, Published
from tests.batch.helpers import full_recompute, manifest, rejects_rows

AFTER = DAYS[-1] + timedelta(days=1)


@pytest.fixture
def raw_copy(demo: Demo, tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    shutil.copytree(demo.root, root)
    return root


def test_missing_partition_is_an_error_naming_source_day_and_path(
    demo: Demo, published: Published, tmp_path: Path
) -> None:
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path / "tables"))
    with pytest.raises(SourceDataError) as caught:
        index_day(published.artefacts["recent_engagements_v1"], AFTER, locations)
    text = str(caught.value)
    assert "recent_engagements_v1" in text
    assert "'engagement_events'" in text
    assert AFTER.isoformat() in text
    assert f"{demo.root}/engagement_events/dt={AFTER.isoformat()}/*.parquet" in text
    assert not (tmp_path / "tables").exists()  # nothing was written


def test_allow_missing_indexes_the_day_without_that_source(demo: Demo, published: Published, tmp_path: Path) -> None:
    artefact = published.artefacts["recent_engagements_v1"]
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path / "tables"))
    results = index_days(artefact, DAYS[-1], AFTER, locations, allow_missing=True, allow_gaps=True)
    assert [r.missing_sources for r in results] == [[], ["engagement_events"]]
    missing = results[1]
    assert (missing.events_rows, missing.rejects_rows) == (0, 0)
    assert missing.incremental
    assert manifest(locations, artefact.feature.id, AFTER)["missing_sources"] == ["engagement_events"]
    # The day's snapshot is the previous one aged by a day: the same users and events (retention is 90 days).
    previous = read_snapshot(artefact.feature.id, DAYS[-1], locations)
    assert read_snapshot(artefact.feature.id, AFTER, locations).equals(previous)
    assert read_snapshot(artefact.feature.id, AFTER, locations).equals(full_recompute(artefact, locations, AFTER))


def test_a_file_missing_a_column_fails_naming_column_source_and_config_object(
    raw_copy: Path, published: Published, tmp_path: Path
) -> None:
    part = sorted((raw_copy / "engagement_events" / f"dt={DAYS[1]}").glob("*.parquet"))[0]
    pl.read_parquet(part).drop("dwell_ms").write_parquet(part)
    locations = TableLocations(raw_root=str(raw_copy), tables_root=str(tmp_path / "tables"))
    artefact = published.artefacts["recent_engagements_v1"]
    index_day(artefact, DAYS[0], locations)
    with pytest.raises(SourceDataError) as caught:
        index_day(artefact, DAYS[1], locations)
    text = str(caught.value)
    assert "column 'dwell_ms' is needed by event type 'click' (field 'dwell_ms')" in text
    assert "source 'engagement_events'" in text
    assert DAYS[1].isoformat() in text
    assert not Path(locations.manifest_file(artefact.feature.id, DAYS[1])).exists()


def test_a_missing_lookup_table_fails_naming_it(raw_copy: Path, published: Published, tmp_path: Path) -> None:
    shutil.rmtree(raw_copy / "item_embeddings")
    locations = TableLocations(raw_root=str(raw_copy), tables_root=str(tmp_path / "tables"))
    with pytest.raises(SourceDataError, match="lookup table of source 'item_embeddings' has no Parquet files"):
        index_day(published.artefacts["recent_engagements_v1"], DAYS[0], locations)


def test_readers_refuse_days_that_are_not_indexed(demo_tables: DemoTables) -> None:
    with pytest.raises(SourceDataError, match=f"no complete events partition for 1 day.*{AFTER}"):
        read_events("recent_engagements_v1", demo_tables.locations, days=[DAYS[0], AFTER])
    with pytest.raises(SourceDataError, match="no complete snapshots partition"):
        read_snapshot("recent_engagements_v1", AFTER, demo_tables.locations)
    with pytest.raises(SourceDataError, match="no indexed day"):
        read_events("nothing_v1", demo_tables.locations)


def test_bad_examples_are_refused_with_the_reason(demo_tables: DemoTables, published: Published) -> None:
    artefact = published.artefacts["recent_engagements_v1"]
    when = datetime(2026, 11, 2, 12)
    cases = [
        (pl.DataFrame({"user": [1], "timestamp": [when]}), "no 'user_id' column"),
        (pl.DataFrame({"user_id": [1, None], "timestamp": [when, when]}), "1 example row.*null or unreadable"),
        (pl.DataFrame({"user_id": [1], "timestamp": ["yesterday"]}), "null or unreadable 'user_id' or 'timestamp'"),
        (pl.DataFrame({"user_id": ["u1"], "timestamp": [when]}), "cannot be read as the feature's Int64"),
        (pl.DataFrame({"user_id": [1], "timestamp": [1.5]}), "has type Float64"),
        (pl.DataFrame({"user_id": [1], "timestamp": [when], "sequence": [0]}), "already have a 'sequence' column"),
    ]
    for examples, message in cases:
        with pytest.raises(SourceDataError, match=message):
            build_training_set(artefact, examples, demo_tables.locations)


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        ("timestamp", "Datetime(time_unit='us', time_zone=None)"),
        ("clicked", "Boolean"),
        ("day", "Date"),
    ],
)
def test_a_user_column_that_is_not_an_id_type_is_refused(
    demo_tables: DemoTables, published: Published, column: str, dtype: str
) -> None:
    when = datetime(2026, 11, 2, 12)
    examples = pl.DataFrame({"user_id": [1], "timestamp": [when], "clicked": [True], "day": [when.date()]})
    message = f"the examples' user column '{column}' is {dtype}, not an integer or string user id"
    with pytest.raises(SourceDataError, match=re.escape(message)):
        build_training_set(
            published.artefacts["recent_engagements_v1"], examples, demo_tables.locations, user_column=column
        )


def test_training_set_needs_indexed_tables(published: Published, demo: Demo, tmp_path: Path) -> None:
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path / "empty"))
    examples = pl.DataFrame({"user_id": [1], "timestamp": [datetime(2026, 11, 2)]})
    with pytest.raises(SourceDataError, match="no indexed day"):
        build_training_set(published.artefacts["recent_engagements_v1"], examples, locations)


@pytest.mark.parametrize("day", [date(9999, 12, 31), date(1, 1, 1), date(1999, 12, 31)])
def test_days_out_of_range_are_refused_with_a_message(
    day: date, published: Published, demo: Demo, tmp_path: Path
) -> None:
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path / "tables"))
    with pytest.raises(SourceDataError, match=rf"cannot index {day.isoformat()}: days run from 2000-01-01"):
        index_day(published.artefacts["recent_engagements_v1"], day, locations)


def _extra_file(raw_copy: Path, day: date, data: pl.DataFrame) -> Path:
    path = raw_copy / "engagement_events" / f"dt={day.isoformat()}" / "part-99999.parquet"
    data.write_parquet(path)
    return path


def test_a_drifted_second_file_fails_the_day_naming_file_column_and_day(
    raw_copy: Path, published: Published, tmp_path: Path
) -> None:
    first = sorted((raw_copy / "engagement_events" / f"dt={DAYS[0]}").glob("*.parquet"))[0]
    drifted = _extra_file(raw_copy, DAYS[0], pl.read_parquet(first).head(3).drop("dwell_ms"))
    locations = TableLocations(raw_root=str(raw_copy), tables_root=str(tmp_path / "tables"))
    with pytest.raises(SourceDataError) as caught:
        index_day(published.artefacts["recent_engagements_v1"], DAYS[0], locations)
    text = str(caught.value)
    assert f"file {drifted}" in text and "column 'dwell_ms'" in text and DAYS[0].isoformat() in text
    assert not (tmp_path / "tables").exists()


def test_a_file_with_damaged_data_names_the_file(raw_copy: Path, published: Published, tmp_path: Path) -> None:
    first = sorted((raw_copy / "engagement_events" / f"dt={DAYS[0]}").glob("*.parquet"))[0]
    data = bytearray(first.read_bytes())
    data[4 : len(data) // 2] = bytes(len(data) // 2 - 4)  # the footer (schema) reads, the pages do not
    first.write_bytes(bytes(data))
    locations = TableLocations(raw_root=str(raw_copy), tables_root=str(tmp_path / "tables"))
    with pytest.raises(SourceDataError) as caught:
        index_day(published.artefacts["recent_engagements_v1"], DAYS[0], locations)
    assert f"file {first}" in str(caught.value)
    assert not (tmp_path / "tables").exists()


def test_out_of_range_and_non_nullable_rows_land_in_the_rejects_table(
    raw_copy: Path, published: Published, tmp_path: Path
) -> None:
    base = published.artefacts["recent_engagements_v1"]
    source = base.sources["engagement_events"]
    strict = source.model_copy(
        update={
            "columns": tuple(
                c.model_copy(update={"nullable": False}) if c.name == "device" else c for c in source.columns
            )
        }
    )
    artefact = base.model_copy(update={"sources": {**base.sources, source.name: strict}, "content_hash": None})
    first = sorted((raw_copy / "engagement_events" / f"dt={DAYS[0]}").glob("*.parquet"))[0]
    saves = pl.read_parquet(first).filter(pl.col("action") == "save", pl.col("event_id").is_not_null()).head(2)
    extra = saves.with_columns(
        pl.Series("event_id", ["too-big", "no-device"]),
        pl.Series("pin_id", [2**64 - 1, 5], dtype=pl.UInt64),  # another writer's type: UInt64
        pl.Series("device", ["ios", None]),
    )
    _extra_file(raw_copy, DAYS[0], extra)
    locations = TableLocations(raw_root=str(raw_copy), tables_root=str(tmp_path / "tables"))
    result = index_day(artefact, DAYS[0], locations)
    assert result.reject_reasons["pin_id out of range for int64"] == 1
    assert result.reject_reasons["null device"] == 1
    rows = {r["event_id"]: r for r in rejects_rows(artefact.feature.id, locations, DAYS[0])}
    assert rows["too-big"]["reason"] == "pin_id out of range for int64"
    assert rows["too-big"]["raw"]["pin_id"] == 2**64 - 1
    assert rows["no-device"]["reason"] == "null device"
    assert rows["no-device"]["event_type"] == "save"
    assert manifest(locations, artefact.feature.id, DAYS[0])["rejects"]["reasons"]["null device"] == 1
    assert not {"too-big", "no-device"} & set(
        read_events(artefact.feature.id, locations, [DAYS[0]]).collect()["event_id"]
    )
