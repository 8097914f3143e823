"""A re-run replaces each file of a day atomically: a reader never sees part of a file or a temp file."""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from feature_platform.errors import OutputWriteError
from feature_platform.runtimes.batch import TableLocations, index_day, index_days, read_snapshot
from feature_platform.runtimes.batch import _indexer as indexer_module
from feature_platform.runtimes.batch import _parquet_writer as writer_module
from feature_platform.runtimes.batch import _snapshot as snapshot_module
from feature_platform.storage import local as storage_module
from tests.batch.conftest import DAYS, Demo, Published

FEATURE = "recent_engagements_v1"


@pytest.fixture
def indexed(demo: Demo, published: Published, tmp_path: Path) -> TableLocations:
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path / "tables"))
    index_days(published.artefacts[FEATURE], DAYS[0], DAYS[1], locations)
    return locations


def _complete(path: str, final: str) -> bool:
    """Whether ``path`` is a whole Parquet file or a whole JSON document (as ``final``'s name says)."""
    data = Path(path).read_bytes()
    if final.endswith(".json"):
        json.loads(data)
        return True
    return data[:4] == b"PAR1" and data[-4:] == b"PAR1" and pl.read_parquet(path).width > 0


def test_each_file_is_swapped_in_by_one_rename_of_a_complete_hidden_temp_file(
    indexed: TableLocations, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[str, str]] = []
    opened_for_writing: list[str] = []
    real_replace, real_open = os.replace, open

    def spy_replace(src: Any, dst: Any) -> None:
        src, dst = str(src), str(dst)
        assert os.path.dirname(src) == os.path.dirname(dst)  # same directory: rename(2) is atomic
        name = os.path.basename(src)
        assert name.startswith(".") and name.endswith(".tmp")
        assert not fnmatch.fnmatch(name, "*.parquet") and not fnmatch.fnmatch(name, "*.json")  # no glob sees it
        assert _complete(src, dst)
        if os.path.exists(dst):
            assert _complete(dst, dst)  # the old file is whole until the very moment it is replaced
        renames.append((src, dst))
        real_replace(src, dst)

    def spy_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode or "a" in mode:
            opened_for_writing.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    real_write_frames = writer_module.write_frames

    def spy_write_frames(path: str, *args: Any, **kwargs: Any) -> Any:  # the large tables are streamed
        opened_for_writing.append(path)
        return real_write_frames(path, *args, **kwargs)

    monkeypatch.setattr(os, "replace", spy_replace)
    monkeypatch.setattr(storage_module, "open", spy_open, raising=False)
    monkeypatch.setattr(indexer_module, "write_frames", spy_write_frames)
    monkeypatch.setattr(snapshot_module, "write_frames", spy_write_frames)
    result = index_day(published.artefacts[FEATURE], DAYS[1], indexed)

    finals = [dst for _, dst in renames]
    assert finals == [
        result.events_path,
        result.rejects_path,
        result.snapshot_path,
        indexed.manifest_file(FEATURE, DAYS[1]),  # last: the day is complete
    ]
    assert sorted(opened_for_writing) == sorted(src for src, _ in renames)  # never the final path itself
    leftovers = [p for p in Path(indexed.tables_root).rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_failed_write_keeps_the_old_version_of_the_day_live_and_removes_the_temp_file(
    indexed: TableLocations, published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = read_snapshot(FEATURE, DAYS[1], indexed)
    manifest = Path(indexed.manifest_file(FEATURE, DAYS[1])).read_bytes()
    # Late raw rows change the day, so its new snapshot gets a new name; writing it fails.
    raw = Path(indexed.raw_root) / "engagement_events" / f"dt={DAYS[1]}"
    extra = next(raw.glob("*.parquet"))
    changed = TableLocations(raw_root=str(tmp_path / "raw"), tables_root=indexed.tables_root)
    shutil.copytree(indexed.raw_root, changed.raw_root)
    first = pl.read_parquet(extra)
    target = Path(changed.raw_root, "engagement_events", f"dt={DAYS[1]}", extra.name)
    first.head(first.height // 2).write_parquet(target)
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if "/snapshots/" in str(dst):
            msg = "disk full"
            raise OSError(msg)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    failed = r"cannot write .*/snapshots/dt=.*/part-[0-9a-f]{20}\.parquet: disk full"
    with pytest.raises(OutputWriteError, match=failed):
        index_day(published.artefacts[FEATURE], DAYS[1], changed)
    monkeypatch.setattr(os, "replace", real_replace)
    assert Path(indexed.manifest_file(FEATURE, DAYS[1])).read_bytes() == manifest  # the old version is live
    assert read_snapshot(FEATURE, DAYS[1], indexed).equals(before)
    assert [p for p in Path(indexed.tables_root).rglob("*") if p.name.endswith(".tmp")] == []
    result = index_day(published.artefacts[FEATURE], DAYS[1], changed)  # the next run replaces it
    assert result.incremental
    assert not read_snapshot(FEATURE, DAYS[1], indexed).equals(before)
    for live in (result.events_path, result.snapshot_path):  # what the failed run left beside them is gone
        assert sorted(p.name for p in Path(live).parent.iterdir()) == [Path(live).name]


def test_a_reader_during_reruns_always_sees_a_whole_file(indexed: TableLocations, published: Published) -> None:
    path = indexed.partition_file(FEATURE, "events", DAYS[1])
    rows = pl.read_parquet(path).height
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_continuously() -> None:
        while not stop.is_set():
            try:
                seen.append(pl.read_parquet(path).height)
            except BaseException as exc:
                errors.append(exc)
                return

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for _ in range(4):
            index_day(published.artefacts[FEATURE], DAYS[1], indexed)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert seen and set(seen) == {rows}


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_while_streaming_a_table_file_is_the_os_error_naming_the_file() -> None:
    """polars reports its sink's failure as "Invalid thrift: transport error"; the writer reports the
    operating system's error of the file instead (/dev/full fails every write with ENOSPC)."""
    frame = pl.DataFrame({"x": list(range(1000))})
    with pytest.raises(OSError) as raised:
        writer_module.write_frames("/dev/full", frame.schema, [frame])
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, "/dev/full")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_while_indexing_names_the_feature_the_day_and_the_folder(
    demo: Demo, published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was "I/O error: [Errno 28] No space left on device", with no day and no path."""
    import builtins

    real_open = builtins.open

    def full_disk(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return real_open("/dev/full", mode, *args, **kwargs) if "w" in mode else real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(writer_module, "open", full_disk, raising=False)  # the table files the indexer streams
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path / "tables"))
    with pytest.raises(OutputWriteError) as raised:
        index_day(published.artefacts[FEATURE], DAYS[0], locations)
    folder = f"{tmp_path}/tables/{FEATURE}/events/dt={DAYS[0].isoformat()}"
    assert str(raised.value) == (
        f"cannot index {FEATURE} for {DAYS[0].isoformat()}: cannot write {folder}: No space left on device"
    )
    assert [p for p in (tmp_path / "tables").rglob("*") if p.is_file()] == []  # nothing, not even a staged file
