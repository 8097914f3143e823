"""Reading raw sources: day partitions, lookup tables, clear errors for missing data, local and S3."""

from __future__ import annotations

import io
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from feature_platform.artefact import Artefact
from feature_platform.engine import (
    INGEST_DAY,
    build_event_type_frame,
    build_feature_frame,
    events_schema,
    required_columns,
    run_micro_batch,
    scan_source,
    table_root,
)
from feature_platform.errors import SourceDataError
from tests.engine.rows import ENGAGEMENT_ROWS, LOOKUP_ROWS, MAX_EVENT_TIME, frame, lookup_frames

DAY1, DAY2, DAY3 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)


def write_day(root: Path, table: str, day: date, data: pl.DataFrame, *, part: int = 0) -> None:
    folder = root / table / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    data.write_parquet(folder / f"part-{part}.parquet")


def write_lookups(root: Path, artefact: Artefact) -> None:
    for name, table in lookup_frames(artefact, LOOKUP_ROWS).items():
        (root / name).mkdir(parents=True, exist_ok=True)
        table.write_parquet(root / name / "snapshot.parquet")


@pytest.fixture
def raw_root(tmp_path: Path, engagements: Artefact) -> Path:
    rows = frame(engagements, "engagement_events", ENGAGEMENT_ROWS)
    write_day(tmp_path, "engagement_events", DAY1, rows.head(5))
    write_day(tmp_path, "engagement_events", DAY2, rows.slice(5, 4))
    write_day(tmp_path, "engagement_events", DAY2, rows.slice(9), part=1)
    write_lookups(tmp_path, engagements)
    return tmp_path


def _scan_all(artefact: Artefact, root: str, days: list[date], **options: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    source = artefact.sources["engagement_events"]
    raw = scan_source(source, root, days, needed_by=required_columns(artefact, source.name), **options).frame
    lookups = {
        name: scan_source(artefact.sources[name], root, needed_by=required_columns(artefact, name), **options).frame
        for name in ("item_embeddings", "item_categories")
    }
    plan = build_feature_frame(artefact, {source.name: raw}, lookups, max_event_time=MAX_EVENT_TIME)
    events, rejects = pl.collect_all([plan.events, plan.rejects])
    return events, rejects


def test_reading_day_partitions_gives_the_micro_batch_result_plus_the_day(
    raw_root: Path, engagements: Artefact
) -> None:
    events, rejects = _scan_all(engagements, str(raw_root), [DAY1, DAY2])
    assert events.schema == events_schema(engagements, ingest_day=True)
    assert INGEST_DAY in rejects.columns

    micro_events, micro_rejects = run_micro_batch(
        engagements,
        {"engagement_events": frame(engagements, "engagement_events", ENGAGEMENT_ROWS)},
        lookup_frames(engagements, LOOKUP_ROWS),
        max_event_time=MAX_EVENT_TIME,
    )
    key = ["event_type", "event_id", "user_id", "timestamp"]
    assert events.drop(INGEST_DAY).sort(key, nulls_last=True).equals(micro_events.sort(key, nulls_last=True))
    reject_key = ["event_type", "raw"]
    assert rejects.drop(INGEST_DAY).sort(reject_key).equals(micro_rejects.sort(reject_key))
    days = dict(zip(events["event_id"], events[INGEST_DAY], strict=True))
    assert days == {"e01": DAY1, "e02": DAY1, "e03": DAY1}
    assert set(rejects[INGEST_DAY]) == {DAY2}


def test_a_missing_day_is_an_error_naming_the_source_and_day(raw_root: Path, engagements: Artefact) -> None:
    source = engagements.sources["engagement_events"]
    with pytest.raises(SourceDataError) as caught:
        scan_source(source, str(raw_root), [DAY1, DAY3])
    message = str(caught.value)
    assert "engagement_events" in message
    assert "2024-01-03" in message
    assert "2024-01-01" not in message.split("(expected")[0]
    assert "allow_missing" in message


def test_allow_missing_skips_and_reports_missing_days(raw_root: Path, engagements: Artefact) -> None:
    source = engagements.sources["engagement_events"]
    scan = scan_source(source, str(raw_root), [DAY3, DAY1], allow_missing=True)
    assert scan.missing_days == (DAY3,)
    data = scan.frame.collect()
    assert data.height == 5
    assert set(data[INGEST_DAY]) == {DAY1}

    nothing = scan_source(source, str(raw_root), [DAY3], allow_missing=True)
    assert nothing.missing_days == (DAY3,)
    empty = nothing.frame.collect()
    assert empty.height == 0
    assert empty.columns == [*(c.name for c in source.columns), INGEST_DAY]


def test_a_missing_column_names_the_column_source_and_event_type(tmp_path: Path, engagements: Artefact) -> None:
    source = engagements.sources["engagement_events"]
    write_day(tmp_path, source.name, DAY1, frame(engagements, source.name, ENGAGEMENT_ROWS).drop("dwell_ms"))
    with pytest.raises(SourceDataError) as caught:
        scan_source(source, str(tmp_path), [DAY1], needed_by=required_columns(engagements, source.name))
    message = str(caught.value)
    assert "'dwell_ms'" in message
    assert "'engagement_events'" in message
    assert "event type 'click'" in message
    assert "2024-01-01" in message

    # a column nobody reads may be absent: it becomes a typed null
    scan = scan_source(source, str(tmp_path), [DAY1], needed_by={})
    assert scan.frame.collect_schema()["dwell_ms"] == pl.Int64


def test_the_plan_checks_columns_of_in_memory_frames_too(engagements: Artefact) -> None:
    raw = frame(engagements, "engagement_events", ENGAGEMENT_ROWS).drop("pin_id", "action")
    with pytest.raises(SourceDataError) as caught:
        build_event_type_frame(engagements, "save", raw.lazy(), {})
    message = str(caught.value)
    assert "'action'" in message and "'pin_id'" in message
    assert "event type 'save' (filter)" in message
    assert "event type 'save' (field 'item_id')" in message


def test_a_lookup_table_missing_a_column_names_the_enrichment(tmp_path: Path, engagements: Artefact) -> None:
    raw = frame(engagements, "engagement_events", ENGAGEMENT_ROWS).lazy()
    lookups = {name: f.lazy() for name, f in lookup_frames(engagements, LOOKUP_ROWS).items()}
    lookups["item_categories"] = lookups["item_categories"].drop("subcategory")
    with pytest.raises(SourceDataError, match=r"'subcategory'.*enrichment 'item_category'"):
        build_feature_frame(engagements, {"engagement_events": raw}, lookups)
    del lookups["item_categories"]
    with pytest.raises(SourceDataError, match="no lookup table was given for source 'item_categories'"):
        build_feature_frame(engagements, {"engagement_events": raw}, lookups)


def test_a_column_of_the_wrong_type_is_an_error(tmp_path: Path, engagements: Artefact) -> None:
    source = engagements.sources["engagement_events"]
    data = frame(engagements, source.name, ENGAGEMENT_ROWS).with_columns(pl.col("user_id").cast(pl.String))
    write_day(tmp_path, source.name, DAY1, data)
    with pytest.raises(SourceDataError, match=r"column 'user_id' of source 'engagement_events'.*type String"):
        scan_source(source, str(tmp_path), [DAY1], needed_by=required_columns(engagements, source.name))


def test_a_missing_lookup_table_is_an_error(tmp_path: Path, engagements: Artefact) -> None:
    with pytest.raises(SourceDataError, match="lookup table of source 'item_embeddings' has no Parquet files"):
        scan_source(engagements.sources["item_embeddings"], str(tmp_path))


def test_table_roots(engagements: Artefact) -> None:
    source = engagements.sources["engagement_events"]
    assert table_root(source, "s3://bucket/raw/") == "s3://bucket/raw/engagement_events"
    assert table_root(source, "/data/raw") == "/data/raw/engagement_events"
    for absolute in ("s3://other/events", "/mnt/events"):
        moved = source.model_copy(update={"batch": source.batch.model_copy(update={"path": absolute})})  # type: ignore[union-attr]
        assert table_root(moved, "s3://bucket/raw") == absolute


@pytest.mark.xdist_group("s3_server")
def test_reading_from_s3(s3_endpoint_url: str, s3_bucket: str, engagements: Artefact) -> None:
    import boto3

    prefix = f"raw-{uuid.uuid4().hex}"
    client = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")

    def put(key: str, data: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        data.write_parquet(buffer)
        client.put_object(Bucket=s3_bucket, Key=f"{prefix}/{key}", Body=buffer.getvalue())

    rows = frame(engagements, "engagement_events", ENGAGEMENT_ROWS)
    put("engagement_events/dt=2024-01-01/part-0.parquet", rows.head(5))
    put("engagement_events/dt=2024-01-02/part-0.parquet", rows.slice(5))
    for name, table in lookup_frames(engagements, LOOKUP_ROWS).items():
        put(f"{name}/snapshot.parquet", table)
    options = {
        "aws_endpoint_url": s3_endpoint_url,
        "aws_region": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_allow_http": "true",
    }
    root = f"s3://{s3_bucket}/{prefix}"
    events, rejects = _scan_all(engagements, root, [DAY1, DAY2], storage_options=options)
    assert sorted(events["event_id"]) == ["e01", "e02", "e03"]
    assert rejects.height == 7

    with pytest.raises(SourceDataError, match="2024-01-03"):
        scan_source(engagements.sources["engagement_events"], root, [DAY3], storage_options=options)
