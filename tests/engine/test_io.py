"""Reading raw sources: day partitions, lookup tables, clear errors for missing data, local and S3."""

from __future__ import annotations

import errno
import io
import json
import os
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from feature_platform.artefact import Artefact
from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.format import ColumnSpec
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
from feature_platform.engine.io import contract_rejects
from feature_platform.errors import SourceDataError
from tests.engine.rows import ENGAGEMENT_ROWS, LOOKUP_ROWS, MAX_EVENT_TIME, engagement, frame, lookup_frames

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
    scan = scan_source(source, root, days, needed_by=required_columns(artefact, source.name), **options)
    lookups = {
        name: scan_source(artefact.sources[name], root, needed_by=required_columns(artefact, name), **options).frame
        for name in ("item_embeddings", "item_categories")
    }
    plan = build_feature_frame(artefact, {source.name: scan.frame}, lookups, max_event_time=MAX_EVENT_TIME)
    assert scan.breaches is not None
    broken = contract_rejects(artefact, {source.name: scan.breaches}, max_event_time=MAX_EVENT_TIME)
    events, rejects, more = pl.collect_all([plan.events, plan.rejects, broken])
    return events, pl.concat([rejects, more.select(rejects.columns)])


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


# -- a day made of several files: each file is checked on its own ------------------------------------------


def _declare(artefact: Artefact, source: str, **columns: dict[str, Any]) -> Artefact:
    """The artefact with some columns of ``source`` declared differently (e.g. ``pin_id={"nullable": False}``)."""
    compiled = artefact.sources[source]
    specs = tuple(c.model_copy(update=columns.get(c.name, {})) for c in compiled.columns)
    sources = {**artefact.sources, source: compiled.model_copy(update={"columns": specs})}
    return artefact.model_copy(update={"sources": sources, "content_hash": None})


def _two_files(root: Path, engagements: Artefact, second: pl.DataFrame) -> Path:
    rows = frame(engagements, "engagement_events", ENGAGEMENT_ROWS)
    write_day(root, "engagement_events", DAY1, rows.head(5))
    write_day(root, "engagement_events", DAY1, second, part=1)
    return root / "engagement_events" / f"dt={DAY1.isoformat()}" / "part-1.parquet"


def _scan_day(artefact: Artefact, root: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    write_lookups(root, artefact)
    return _scan_all(artefact, str(root), [DAY1])


def test_a_later_file_missing_a_read_column_names_the_file_column_and_day(
    tmp_path: Path, engagements: Artefact
) -> None:
    second = _two_files(
        tmp_path, engagements, frame(engagements, "engagement_events", ENGAGEMENT_ROWS).drop("dwell_ms")
    )
    with pytest.raises(SourceDataError) as caught:
        _scan_day(engagements, tmp_path)
    message = str(caught.value)
    assert f"file {second}" in message
    assert "column 'dwell_ms' is needed by event type" in message
    assert DAY1.isoformat() in message


def test_a_later_file_with_a_column_of_another_type_names_the_file_column_and_day(
    tmp_path: Path, engagements: Artefact
) -> None:
    drifted = frame(engagements, "engagement_events", ENGAGEMENT_ROWS).with_columns(pl.col("pin_id").cast(pl.String))
    second = _two_files(tmp_path, engagements, drifted)
    with pytest.raises(SourceDataError) as caught:
        _scan_day(engagements, tmp_path)
    message = str(caught.value)
    assert f"column 'pin_id' of source 'engagement_events' (day {DAY1.isoformat()}, file {second})" in message
    assert "has type String, which cannot hold the declared Int64" in message


@pytest.mark.parametrize("damage", ["truncated", "not parquet", "empty"])
def test_a_later_file_that_is_not_readable_parquet_names_the_file_and_day(
    damage: str, tmp_path: Path, engagements: Artefact
) -> None:
    second = _two_files(tmp_path, engagements, frame(engagements, "engagement_events", ENGAGEMENT_ROWS))
    data = second.read_bytes()
    second.write_bytes(
        {"truncated": data[: len(data) // 2], "not parquet": b"user_id,event_id\n1,a\n", "empty": b""}[damage]
    )
    with pytest.raises(SourceDataError) as caught:
        _scan_day(engagements, tmp_path)
    message = str(caught.value)
    assert f"source 'engagement_events' (day {DAY1.isoformat()}, file {second}): not a readable Parquet file" in message
    assert "Traceback" not in message


def test_a_later_file_lacking_a_non_nullable_column_names_the_file(tmp_path: Path, engagements: Artefact) -> None:
    source = engagements.sources["engagement_events"]
    region = ColumnSpec(name="region", dtype=DType.STRING, nullable=False)  # declared, read by nobody
    declared = source.model_copy(update={"columns": (*source.columns, region)})
    strict = engagements.model_copy(update={"sources": {**engagements.sources, source.name: declared}})
    rows = frame(strict, source.name, ENGAGEMENT_ROWS)
    write_day(tmp_path, source.name, DAY1, rows.head(5))
    write_day(tmp_path, source.name, DAY1, rows.drop("region"), part=1)
    second = tmp_path / source.name / f"dt={DAY1.isoformat()}" / "part-1.parquet"
    with pytest.raises(SourceDataError) as caught:
        _scan_day(strict, tmp_path)
    assert f"(day {DAY1}, file {second}) has no column 'region', declared nullable=False" in str(caught.value)


def test_an_integer_out_of_its_declared_range_is_a_reject_with_the_value_kept(
    tmp_path: Path, engagements: Artefact
) -> None:
    narrow = _declare(engagements, "engagement_events", dwell_ms={"dtype": DType.INT32})
    rows = [
        engagement("big", 1, "click", dwell_ms=2**40),  # selected by click, out of int32
        engagement("neg", 1, "save", dwell_ms=-(2**31) - 1),  # selected by save, out of int32
        engagement("fits", 1, "click", dwell_ms=2**31 - 1),  # fits exactly
        engagement("hidden", 1, "hide", dwell_ms=2**40),  # no event type selects it: not a reject
        engagement(None, 1, "save", dwell_ms=2**40),  # one reason: out of range comes first
    ]
    # the first file declares int32 as the config does; the second (another writer) int64
    _two_files(tmp_path, engagements, frame(engagements, "engagement_events", rows))
    first = tmp_path / "engagement_events" / f"dt={DAY1.isoformat()}" / "part-0.parquet"
    pl.read_parquet(first).with_columns(pl.col("dwell_ms").cast(pl.Int32)).write_parquet(first)

    events, rejects = _scan_day(narrow, tmp_path)
    assert "fits" in set(events["event_id"])
    assert not {"big", "neg", "hidden"} & set(events["event_id"])
    broken = {
        r["event_id"]: r
        for r in rejects.to_dicts()
        if r["raw"] and 'dwell_ms":' in r["raw"] and "out of range" in (r["reason"] or "")
    }
    assert broken["big"]["reason"] == "dwell_ms out of range for int32"
    assert broken["big"]["event_type"] == "click"
    assert f'"dwell_ms":{2**40}' in broken["big"]["raw"]  # the value as read, not a null
    assert broken["neg"]["reason"] == "dwell_ms out of range for int32"
    assert broken["neg"]["event_type"] == "save"
    both = [r for r in rejects.to_dicts() if r["event_id"] is None and r["raw"] and f"{2**40}" in r["raw"]]
    assert [r["reason"] for r in both] == ["dwell_ms out of range for int32"]
    assert "hidden" not in set(rejects["event_id"].drop_nulls())


def test_a_null_in_a_non_nullable_column_is_a_reject_of_the_event_types_that_select_it(
    tmp_path: Path, engagements: Artefact
) -> None:
    strict = _declare(engagements, "engagement_events", device={"nullable": False}, pin_id={"nullable": False})
    rows = [
        engagement("ok", 1, "save"),
        engagement("no-device", 1, "save", device=None),
        engagement("no-both", 1, "save", device=None, pin_id=None),
        engagement("no-pin-click", 1, "click", pin_id=None),  # the click filter does not select it
        engagement(None, 1, "save"),  # event_id is declared non-nullable too: reported once, as null event_id
    ]
    _two_files(tmp_path, engagements, frame(engagements, "engagement_events", rows))
    events, rejects = _scan_day(strict, tmp_path)
    assert "ok" in set(events["event_id"])
    assert not {"no-device", "no-both", "no-pin-click"} & set(events["event_id"])
    reasons = {
        (r["event_id"], r["event_type"]): r["reason"]
        for r in rejects.to_dicts()
        if r["event_id"] in {"no-device", "no-both", "no-pin-click"}
    }
    assert reasons == {
        ("no-device", "save"): "null device",
        ("no-both", "save"): "null device",  # the first null column in the source's order, only
    }
    null_ids = [
        r["reason"] for r in rejects.to_dicts() if r["event_id"] is None and json.loads(r["raw"])["user_id"] == 1
    ]
    assert null_ids == ["null event_id"]


def test_files_named_as_hidden_or_underscored_are_not_data(tmp_path: Path, engagements: Artefact) -> None:
    rows = frame(engagements, "engagement_events", ENGAGEMENT_ROWS)
    write_day(tmp_path, "engagement_events", DAY1, rows.head(5))
    folder = tmp_path / "engagement_events" / f"dt={DAY1.isoformat()}"
    (folder / ".part-1.parquet.staging-123").write_bytes(b"half written")
    (folder / ".staging-part-2.parquet").write_bytes(b"half written")
    (folder / "_SUCCESS.parquet").write_bytes(b"")
    scan = scan_source(engagements.sources["engagement_events"], str(tmp_path), [DAY1])
    assert scan.files == (str(folder / "part-0.parquet"),)
    assert scan.frame.collect().height == 5


def test_a_timestamp_input_out_of_range_is_not_called_a_null_timestamp(tmp_path: Path, engagements: Artefact) -> None:
    narrow = _declare(engagements, "engagement_events", event_ts_ms={"dtype": DType.INT32})
    rows = [engagement("late", 1, "save", event_ts_ms=2**40), engagement("no-time", 1, "save", event_ts_ms=None)]
    _two_files(tmp_path, engagements, frame(engagements, "engagement_events", rows))
    _, rejects = _scan_day(narrow, tmp_path)
    reasons = {r["event_id"]: r["reason"] for r in rejects.to_dicts() if r["event_id"] in {"late", "no-time"}}
    assert reasons == {"late": "event_ts_ms out of range for int32", "no-time": "null timestamp"}


def test_an_unlistable_partition_is_an_error_not_a_missing_day(
    raw_root: Path, engagements: Artefact, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feature_platform.engine.io as io_module

    def denied(path: Any) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(io_module.os, "scandir", denied)
    with pytest.raises(SourceDataError, match=r"cannot list .*engagement_events/dt=2024-01-01: Permission denied"):
        scan_source(engagements.sources["engagement_events"], str(raw_root), [DAY1], allow_missing=True)
