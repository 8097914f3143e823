"""The raw sources' observation (the data versions that trigger indexing) reads the files under the one rule of
:mod:`feature_platform.engine.partitions`: a writer's staging file or a folder set aside never changes a day's
data version."""

from __future__ import annotations

from pathlib import Path

from feature_platform.orchestration.automation import source_files
from feature_platform.orchestration.catalogue import SourceInfo
from feature_platform.orchestration.resources import DataLocationsResource


def test_hidden_files_are_not_observed_as_raw_data(tmp_path: Path) -> None:
    day = tmp_path / "raw" / "app_events" / "dt=2026-11-01"
    day.mkdir(parents=True)
    (day / "part-0.parquet").write_bytes(b"rows")
    (day / "_part-1.parquet").write_bytes(b"a writer at work")
    (day / ".part-2.parquet").write_bytes(b"a writer at work")
    (day.parent / "_temporary" / "0").mkdir(parents=True)
    (day.parent / "_temporary" / "0" / "part-3.parquet").write_bytes(b"a job's attempt")
    locations = DataLocationsResource(raw_root=str(tmp_path / "raw"), tables_root=str(tmp_path / "tables"))
    files = source_files(SourceInfo(name="app_events", kind="events"), locations)
    assert sorted(files) == ["dt=2026-11-01/part-0.parquet"]
