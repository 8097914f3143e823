"""Raw data and tables on S3 (the loopback moto server), through polars storage options and one PUT per file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import polars as pl
import pytest

from feature_platform.runtimes.batch import (
    SEQUENCE,
    TableLocations,
    build_training_set,
    index_day,
    index_days,
    read_events,
    read_snapshot,
)
from feature_platform.settings import PlatformSettings
from feature_platform.storage import S3Connection, S3ObjectStorage
from feature_platform.storage import factory as storage_factory
from tests.batch.helpers import APP_EVENTS, ITEM_FEATURES, table_files, utc, write_lookup, write_partition
from tests.batch.test_hand_written import D1, D2, D3, ITEMS, LOOKUP, RAW


def test_settings_become_one_s3_connection_for_boto3_and_polars() -> None:
    settings = PlatformSettings(raw_data_root="s3://bkt/raw", tables_root="s3://bkt/tables",
                                s3_endpoint_url="http://127.0.0.1:9000")
    located = TableLocations.from_settings(settings)
    assert located == TableLocations(
        raw_root="s3://bkt/raw", tables_root="s3://bkt/tables", s3=S3Connection(endpoint_url="http://127.0.0.1:9000"),
    )
    assert located.storage_options == {
        "aws_endpoint_url": "http://127.0.0.1:9000", "aws_allow_http": "true", "aws_region": "us-east-1",
    }
    storage = located.storage()
    assert isinstance(storage, S3ObjectStorage)
    assert storage.client.meta.endpoint_url == "http://127.0.0.1:9000"
    local = TableLocations.from_settings(PlatformSettings(data_dir=Path("/data")))
    assert local == TableLocations(raw_root="/data/raw", tables_root="/data/tables")
    assert local.storage_options is None


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_index_and_train_on_s3_equal_local(
    s3_endpoint_url: str, s3_store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    for day, rows in RAW.items():
        write_partition(raw, ITEMS, APP_EVENTS, day, rows)
    write_lookup(raw, ITEMS, ITEM_FEATURES, LOOKUP)
    client = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    bucket, _, prefix = s3_store_url.removeprefix("s3://").partition("/")
    for path in sorted(raw.rglob("*.parquet")):
        client.put_object(Bucket=bucket, Key=f"{prefix}/raw/{path.relative_to(raw)}", Body=path.read_bytes())

    settings = PlatformSettings(raw_data_root=f"{s3_store_url}/raw", tables_root=f"{s3_store_url}/tables",
                                s3_endpoint_url=s3_endpoint_url, s3_region="us-east-1")
    on_s3 = TableLocations.from_settings(settings)
    local = TableLocations(raw_root=str(raw), tables_root=str(tmp_path / "tables"))
    calls = _record_s3_operations(monkeypatch)

    results = index_days(ITEMS, D1, D3, on_s3)
    assert [r.incremental for r in results] == [False, True, True]
    name = f"part-{results[0].snapshot_sha256[:20]}.parquet"  # named by its content
    assert results[0].snapshot_path == f"{s3_store_url}/tables/{ITEMS.feature.id}/snapshots/dt={D1}/{name}"
    # One PutObject per file (three tables and the manifest per day), no delete (nothing replaced), no multipart.
    assert calls["PutObject"] == 4 * 3
    assert calls["DeleteObject"] == 0
    assert not {name for name in calls if "Multipart" in name}

    index_days(ITEMS, D1, D3, local)
    written = table_files(tmp_path / "tables")
    stored = {
        item["Key"].removeprefix(f"{prefix}/tables/"): client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/tables/")["Contents"]
    }
    assert stored == written  # the same bytes, wherever the tables live

    assert read_snapshot(ITEMS.feature.id, D2, on_s3).equals(read_snapshot(ITEMS.feature.id, D2, local))
    assert read_events(ITEMS.feature.id, on_s3).collect().equals(read_events(ITEMS.feature.id, local).collect())
    examples = pl.DataFrame({"user_id": [1, 2], "timestamp": [utc(D2, 9), datetime(2026, 5, 1, 12)]})
    from_s3 = build_training_set(ITEMS, examples, on_s3)
    assert from_s3.equals(build_training_set(ITEMS, examples, local))
    assert [len(s) for s in from_s3.get_column(SEQUENCE).to_list()] == [3, 1]

    again = index_day(ITEMS, D3, on_s3)
    assert again.incremental and again == results[2]  # a re-run writes the same files under the same names
    key = f"{prefix}/tables/{ITEMS.feature.id}/snapshots/dt={D3}/part-{again.snapshot_sha256[:20]}.parquet"
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == stored[key.removeprefix(f"{prefix}/tables/")]


def _record_s3_operations(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the S3 API operations the runtime's client sends."""
    calls: Counter[str] = Counter()
    original: Callable[..., Any] = storage_factory.s3_client_factory

    def recording(connection: Any) -> Any:
        build = original(connection)

        def built() -> Any:
            client = build()

            def count(model: Any, **_: Any) -> None:
                calls[model.name] += 1

            client.meta.events.register("before-call.s3", count)
            return client

        return built

    monkeypatch.setattr(storage_factory, "s3_client_factory", recording)
    return calls


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
@pytest.mark.parametrize(
    ("stray", "expected"),
    [
        ("app_events/dt=2026-3-1/part-0.parquet", "app_events/dt=2026-3-1/ is not named dt=YYYY-MM-DD: rename it"),
        ("app_events/README", "app_events/README is not a day partition of this source"),
        ("app_events/dt={d1}/part-x.parquet/0", "app_events/dt={d1}/part-x.parquet/ is a folder"),
        ("app_events/dt={d1}/notes.txt", "app_events/dt={d1}/notes.txt is not a .parquet file"),
    ],
)
def test_the_raw_layout_rule_holds_on_s3(
    stray: str, expected: str, s3_endpoint_url: str, s3_store_url: str, tmp_path: Path
) -> None:
    """The same rule as a local folder (engine.partitions): through the storage layer's folder listing."""
    from feature_platform.errors import SourceDataError

    raw = tmp_path / "raw"
    for day, rows in RAW.items():
        write_partition(raw, ITEMS, APP_EVENTS, day, rows)
    write_lookup(raw, ITEMS, ITEM_FEATURES, LOOKUP)
    client = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    bucket, _, prefix = s3_store_url.removeprefix("s3://").partition("/")
    for path in sorted(raw.rglob("*.parquet")):
        client.put_object(Bucket=bucket, Key=f"{prefix}/raw/{path.relative_to(raw)}", Body=path.read_bytes())
    client.put_object(Bucket=bucket, Key=f"{prefix}/raw/{stray.format(d1=D1)}", Body=b"not rows")
    client.put_object(Bucket=bucket, Key=f"{prefix}/raw/app_events/_SUCCESS", Body=b"")  # hidden: never an error
    settings = PlatformSettings(raw_data_root=f"{s3_store_url}/raw", tables_root=f"{s3_store_url}/tables",
                                s3_endpoint_url=s3_endpoint_url, s3_region="us-east-1")
    with pytest.raises(SourceDataError) as caught:
        index_days(ITEMS, D1, D3, TableLocations.from_settings(settings))
    assert f"{s3_store_url}/raw/{expected.format(d1=D1)}" in str(caught.value)
