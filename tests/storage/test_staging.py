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


# -- the sweep of what killed writers left: one rule, owned by the storage layer -----------------------------------


def _age(path: Path, seconds: float) -> None:
    import os
    import time

    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_the_staged_name_and_the_sweep_cannot_drift_apart(tmp_path: Path) -> None:
    from feature_platform.storage import staged_names_of

    storage, path = _local(tmp_path)
    with storage.stage(path) as staged:
        name = Path(staged.local_path).name
        assert staged_names_of("part-00000.parquet")(name)
        assert not staged_names_of("part-00001.parquet")(name)  # another output's, never ours


def test_local_storage_sweeps_only_stale_staged_files_of_a_folder(tmp_path: Path) -> None:
    from feature_platform.storage import STALE_STAGING_SECONDS

    storage, path = _local(tmp_path)
    storage.put(path, b"published")
    folder = tmp_path / "t" / "dt=2026-01-01"
    stale = folder / ".part-pending.parquet.0123456789abcdef.tmp"  # a writer SIGKILLed two hours ago
    live = folder / ".part-pending.parquet.fedcba9876543210.tmp"  # a writer at work right now
    old_data = folder / "part-00001.parquet"  # published data is never swept, however old
    for file in (stale, live, old_data):
        file.write_bytes(b"x")
    _age(stale, 2 * STALE_STAGING_SECONDS)
    _age(old_data, 2 * STALE_STAGING_SECONDS)

    assert storage.sweep_stale_stages("t/dt=2026-01-01") == [str(stale)]

    assert not stale.exists() and live.exists() and old_data.exists()
    assert storage.get(path) == b"published"
    assert storage.sweep_stale_stages("t/dt=2099-01-01") == []  # a folder not written yet has nothing


def test_the_sweep_removes_leftovers_of_gone_processes_at_once_and_any_untouched_for_an_hour(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from feature_platform.storage import STALE_STAGING_SECONDS, sweep_stale

    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    alive = os.getpid()
    dead_run = tmp_path / f".staging-ab-{gone}"  # a folder of a killed run, just written
    (dead_run / "artefacts").mkdir(parents=True)
    reused = tmp_path / f".staging-cd-{alive}"  # a pid reused since: two hours untouched
    reused.mkdir()
    _age(reused, 2 * STALE_STAGING_SECONDS)
    running = tmp_path / f".staging-ef-{alive}"  # an old folder a live writer is still writing into
    (running / "artefacts").mkdir(parents=True)
    (running / "artefacts" / "a.json").write_bytes(b"{}")
    _age(running / "artefacts", 2 * STALE_STAGING_SECONDS)
    _age(running, 2 * STALE_STAGING_SECONDS)
    visible = tmp_path / f"staging-gh-{gone}"  # not hidden: never a staging entry, whatever the matcher says
    visible.mkdir()

    def pid_of(name: str) -> int | None:
        return int(name.rsplit("-", 1)[1])

    removed = sweep_stale(tmp_path, lambda name: "staging-" in name, owner_pid=pid_of)

    assert sorted(p.name for p in removed) == sorted([dead_run.name, reused.name])
    assert running.exists() and visible.exists()


def test_a_put_never_replaces_a_pipe_or_a_device(tmp_path: Path) -> None:
    import os
    import stat

    from feature_platform.errors import NotAFileError

    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(NotAFileError, match="is not a regular file"):
        LocalObjectStorage(tmp_path).put("pipe", b"data")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # the staged file was removed too
