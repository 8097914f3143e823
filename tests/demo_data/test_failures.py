"""demo-data under I/O failure: one line, exit 1, nothing half-written under a final name, and a failed
or killed run's staging folder is taken over and removed by the next run."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

import feature_platform.demo_data.generator as generator
from feature_platform.demo_data import MANIFEST_NAME
from feature_platform.demo_data.cli import demo_data_command
from feature_platform.demo_data.generator import STAGING_NAME

ARGS = ["--users", "50", "--items", "80", "--days", "2", "--events", "2000", "--chunk-rows", "1000", "--quiet"]


def _run(out: Path) -> Any:
    return CliRunner().invoke(demo_data_command, ["--out", str(out), *ARGS])


def _one_error_line(result: Any) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pl.DataFrame.write_parquet
    calls = [0]

    def fills_up(self: pl.DataFrame, file: Any, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 3:  # a few files in, the disk is full half way through one
            Path(file).write_bytes(b"PAR1 half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        real(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", fills_up)
    out = tmp_path / "demo"
    line = _one_error_line(_run(out))
    assert line.startswith(f"error: cannot write {out}/") and "No space left on device" in line, line
    assert list(out.iterdir()) == []  # no table, no manifest, no staging folder


def test_a_run_that_failed_while_swapping_in_is_taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "demo"
    assert _run(out).exit_code == 0
    real = os.replace

    def fails_on_search(source: Any, target: Any) -> None:
        if Path(source).name == "search_events":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        real(source, target)

    monkeypatch.setattr(generator.os, "replace", fails_on_search)
    _one_error_line(_run(out))
    assert not (out / MANIFEST_NAME).exists()  # half swapped: the manifest never claims a mixed set
    assert (out / STAGING_NAME).exists()
    monkeypatch.setattr(generator.os, "replace", real)

    again = _run(out)  # not refused as "not a demo data set this command wrote"
    assert again.exit_code == 0, again.output
    assert (out / MANIFEST_NAME).exists()
    assert not (out / STAGING_NAME).exists()


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    stale = out / STAGING_NAME / "engagement_events" / "dt=2026-01-01"
    stale.mkdir(parents=True)
    (stale / "part-00000.parquet").write_bytes(b"PAR1 half")
    (out / f".{MANIFEST_NAME}.tmp").write_text("{")
    result = _run(out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert (out / MANIFEST_NAME).exists()
    assert pl.read_parquet(out / "engagement_events" / "*" / "*.parquet").height > 0


def test_a_full_disk_inside_polars_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """polars reports ENOSPC during a Parquet write as a ComputeError, not an OSError."""

    def fills_up(self: pl.DataFrame, file: Any, *args: Any, **kwargs: Any) -> None:
        raise pl.exceptions.ComputeError(
            "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
        )

    monkeypatch.setattr(pl.DataFrame, "write_parquet", fills_up)
    result = _run(tmp_path / "demo")
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    first = tmp_path / "demo" / "item_embeddings" / "part-00000.parquet"  # the file being written is named
    assert _one_error_line(result) == f"error: cannot write {first}: No space left on device"
