"""Staged files: the large tables are written beside their target and published in one step."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_platform.storage import LocalObjectStorage, ObjectStorage, S3Connection, S3ObjectStorage, open_storage


def _local(tmp_path: Path) -> tuple[ObjectStorage, str]:
    storage = open_storage(str(tmp_path))
    assert isinstance(storage, LocalObjectStorage)
    return storage, "t/dt=2026-01-01/part-00000.parquet"


def _s3(s3_store_url: str, s3_endpoint_url: str) -> tuple[ObjectStorage, str]:
    storage = open_storage(s3_store_url, S3Connection(endpoint_url=s3_endpoint_url, region_name="us-east-1"))
    assert isinstance(storage, S3ObjectStorage)
    return storage, "staging/dt=2026-01-01/part-00000.parquet"


def _check_staging(storage: ObjectStorage, path: str) -> None:
    assert storage.open_read(path) is None
    storage.put(path, b"old")
    with storage.stage(path) as staged:
        Path(staged.local_path).write_bytes(b"new content")
        assert storage.get(path) == b"old"  # nothing visible before the commit
        keep = staged.open_committed()
        staged.commit()
    assert storage.get(path) == b"new content"
    assert not Path(staged.local_path).exists()
    assert keep.read() == b"new content"  # the committed bytes stay readable through the handle
    keep.close()

    with pytest.raises(RuntimeError, match="boom"), storage.stage(path) as failed:
        Path(failed.local_path).write_bytes(b"half")
        raise RuntimeError("boom")
    assert not Path(failed.local_path).exists()  # discarded
    assert storage.get(path) == b"new content"  # the published file is untouched

    handle = storage.open_read(path)
    assert handle is not None
    storage.put(path, b"replaced meanwhile")
    assert handle.read() == b"new content"  # a handle reads the version it opened
    handle.close()


def test_local_staging_publishes_atomically_and_discards_on_failure(tmp_path: Path) -> None:
    storage, path = _local(tmp_path)
    _check_staging(storage, path)
    leftovers = [p.name for p in (tmp_path / "t").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_s3_staging_publishes_atomically_and_discards_on_failure(s3_store_url: str, s3_endpoint_url: str) -> None:
    _check_staging(*_s3(s3_store_url, s3_endpoint_url))


def test_a_staged_file_is_published_once(tmp_path: Path) -> None:
    storage, path = _local(tmp_path)
    with storage.stage(path) as staged:
        Path(staged.local_path).write_bytes(b"x")
        staged.commit()
        with pytest.raises(RuntimeError, match="already committed"):
            staged.commit()
