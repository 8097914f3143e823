"""batch-index and training-set on the command line, with the artefact loaded live from the store."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import polars as pl
import pytest
from click.testing import CliRunner

import feature_platform.runtimes.batch._indexer as indexer
from feature_platform.cli.batch_cmds import batch_index, training_set
from feature_platform.runtimes.batch import (
    SEQUENCE,
    SEQUENCE_LENGTH,
    TableLocations,
    build_training_set,
)
from feature_platform.storage import STALE_STAGING_SECONDS
from tests.batch.conftest import DAYS, ENV, Demo, Published
from tests.batch.helpers import utc


@click.group()
def cli() -> None:
    """The two commands as cli/main.py registers them."""


cli.add_command(batch_index)
cli.add_command(training_set)


@pytest.fixture
def env(demo: Demo, published: Published, tmp_path: Path) -> dict[str, str]:
    return {
        "FP_DATA_DIR": str(tmp_path / "data"),
        "FP_ARTEFACT_STORE": published.store_url,
        "FP_RAW_DATA_ROOT": str(demo.root),
        "FP_TABLES_ROOT": str(tmp_path / "tables"),
        "FP_ENV": ENV,
    }


def test_command_names() -> None:
    assert (batch_index.name, training_set.name) == ("batch-index", "training-set")


def test_batch_index_prints_each_day(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["batch-index", "--env", ENV, "--feature", "recent_engagements_v1",
                                      "--date", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat()], env=env)
    assert result.exit_code == 0, result.output
    for day in DAYS:
        assert f"{day}: " in result.output
    assert "full recompute" in result.output and "incremental" in result.output
    assert "rejected" in result.output and "null user_id" in result.output
    located = TableLocations(raw_root=env["FP_RAW_DATA_ROOT"], tables_root=env["FP_TABLES_ROOT"])
    snapshot = located.partition_file("recent_engagements_v1", "snapshots", DAYS[-1])
    assert snapshot in result.output
    assert Path(snapshot).exists()
    assert "rows/s" in result.output


def test_batch_index_carries_each_snapshot_to_the_next_day(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ``index_days`` call: only the first day looks for its base on storage (reading and hashing
    it); every later day builds on the snapshot the previous day just wrote, carried in memory."""
    assert len(DAYS) >= 3
    read_back: list[date] = []
    real = indexer.open_current_snapshot

    def spy(*args: Any, **kwargs: Any) -> Any:
        read_back.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(indexer, "open_current_snapshot", spy)
    result = CliRunner().invoke(cli, ["batch-index", "--env", ENV, "--feature", "recent_engagements_v1",
                                      "--date", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat()], env=env)

    assert result.exit_code == 0, result.output
    assert read_back == [DAYS[0] - timedelta(days=1)]  # the first day's base only
    days = [line.split(":")[0] for line in result.output.splitlines() if line[:4].isdigit()]
    assert days == [d.isoformat() for d in DAYS]  # progress, one line per day, in order
    assert result.output.count("(incremental)") == len(DAYS) - 1


def test_batch_index_missing_partition_exits_1_unless_allowed(
    env: dict[str, str], demo: Demo, tmp_path: Path
) -> None:
    """A day between the first and the last day with raw data whose partition is missing (a day after the last
    one is refused whatever the flags: tests/batch/test_raw_layout.py)."""
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(demo.root, raw)
    missing = DAYS[2].isoformat()
    shutil.rmtree(raw / "engagement_events" / f"dt={missing}")
    env = {**env, "FP_RAW_DATA_ROOT": str(raw)}
    args = ["batch-index", "--feature", "recent_engagements_v1", "--date", missing]
    failed = CliRunner().invoke(cli, args, env=env)
    assert failed.exit_code == 1
    assert "error:" in failed.output and "'engagement_events'" in failed.output and missing in failed.output
    assert "pass --allow-missing to skip missing days" in failed.output  # the flag, not the Python argument
    assert "allow_missing=True" not in failed.output
    gap = CliRunner().invoke(cli, [*args, "--allow-missing"], env=env)  # the days before it are not indexed
    assert gap.exit_code == 1
    assert "have raw data but are not indexed" in gap.output and "--allow-gaps" in gap.output
    allowed = CliRunner().invoke(cli, [*args, "--allow-missing", "--allow-gaps"], env=env)
    assert allowed.exit_code == 0, allowed.output
    assert "no raw partition (allowed): engagement_events" in allowed.output
    assert (f"INCOMPLETE snapshot (--allow-gaps): not indexed: {DAYS[0].isoformat()}, {DAYS[1].isoformat()}"
            in allowed.output)


def test_batch_index_needs_a_live_artefact(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["batch-index", "--feature", "nope_v1", "--date", DAYS[0].isoformat()], env=env)
    assert result.exit_code == 1
    assert "'nope_v1' has no live version in environment 'dev'" in result.output


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_training_set_from_a_file(env: dict[str, str], published: Published, tmp_path: Path, suffix: str) -> None:
    runner = CliRunner()
    indexed = runner.invoke(cli, ["batch-index", "--feature", "recent_searches_v1", "--date", DAYS[0].isoformat(),
                                  "--to", DAYS[-1].isoformat()], env=env)
    assert indexed.exit_code == 0, indexed.output
    examples = pl.DataFrame({"user_id": [1_000_001, 1_000_002, 1_000_003],
                             "timestamp": [utc(DAYS[2], 12), utc(DAYS[3]), utc(DAYS[1], 6)],
                             "clicked": [True, False, True]})
    path = tmp_path / f"examples{suffix}"
    if suffix == ".csv":
        examples.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ")).write_csv(path)
    else:
        examples.write_parquet(path)
    out = tmp_path / "out" / "train.parquet"
    result = runner.invoke(cli, ["training-set", "--feature", "recent_searches_v1", "--examples", str(path),
                                 "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "3 examples" in result.output and str(out) in result.output
    written = pl.read_parquet(out)
    locations = TableLocations(raw_root=env["FP_RAW_DATA_ROOT"], tables_root=env["FP_TABLES_ROOT"])
    expected = build_training_set(published.artefacts["recent_searches_v1"], examples, locations)
    assert written.select(SEQUENCE, SEQUENCE_LENGTH).equals(expected.select(SEQUENCE, SEQUENCE_LENGTH))
    assert written.get_column("clicked").to_list() == [True, False, True]
    assert written.get_column(SEQUENCE_LENGTH).sum() > 0


# -- I/O errors and staging files -----------------------------------------------------------------------------


@pytest.fixture
def indexed_examples(env: dict[str, str], tmp_path: Path) -> Path:
    indexed = CliRunner().invoke(cli, ["batch-index", "--feature", "recent_searches_v1", "--date",
                                       DAYS[0].isoformat(), "--to", DAYS[-1].isoformat()], env=env)
    assert indexed.exit_code == 0, indexed.output
    path = tmp_path / "examples.parquet"
    pl.DataFrame({"user_id": [1_000_001, 1_000_002], "timestamp": [utc(DAYS[2], 12), utc(DAYS[3])]}).write_parquet(path)
    return path


def _training_set(env: dict[str, str], examples: Path, out: Path) -> Any:
    return CliRunner().invoke(cli, ["training-set", "--feature", "recent_searches_v1", "--examples", str(examples),
                                    "--out", str(out)], env=env)


def _one_error_line(result: Any) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "No space left on device"),
                                             (errno.EACCES, "Permission denied")])
def test_training_set_write_failure_is_one_line_and_leaves_nothing(
    code: int, words: str, env: dict[str, str], indexed_examples: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out" / "train.parquet"
    out.parent.mkdir()
    out.write_bytes(b"the previous training set")

    def full_disk(self: pl.DataFrame, file: Any, *args: Any, **kwargs: Any) -> None:
        Path(file).write_bytes(b"PAR1 half a file")  # a partial write, then the disk is full
        raise OSError(code, os.strerror(code), str(file))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    line = _one_error_line(_training_set(env, indexed_examples, out))
    assert words in line
    assert out.read_bytes() == b"the previous training set"  # the final name is untouched
    assert sorted(p.name for p in out.parent.iterdir()) == ["train.parquet"]  # no staging file left


@pytest.mark.parametrize("name", ["same path", "another spelling", "symbolic link", "hard link"])
def test_training_set_refuses_an_out_that_is_the_examples_file(
    name: str, env: dict[str, str], indexed_examples: Path, tmp_path: Path
) -> None:
    """--out equal to --examples once replaced the input file with the training set."""
    before = indexed_examples.read_bytes()
    out = {
        "same path": indexed_examples,
        "another spelling": indexed_examples.parent / "." / indexed_examples.name,
        "symbolic link": tmp_path / "link.parquet",
        "hard link": tmp_path / "hard.parquet",
    }[name]
    if name == "symbolic link":
        out.symlink_to(indexed_examples)
    if name == "hard link":
        os.link(indexed_examples, out)
    line = _one_error_line(_training_set(env, indexed_examples, out))
    assert line == (f"error: --out {out} is the input {indexed_examples}: writing it would replace the input; "
                    "choose another path")
    assert indexed_examples.read_bytes() == before


def test_training_set_into_a_path_under_a_file_is_one_clear_line(
    env: dict[str, str], indexed_examples: Path, tmp_path: Path
) -> None:
    """Was "File exists" (the operating system's word for mkdir over a file)."""
    for out in (indexed_examples / "x.parquet", indexed_examples / "a" / "b" / "x.parquet"):
        line = _one_error_line(_training_set(env, indexed_examples, out))
        assert line == f"error: cannot write --out {out}: {indexed_examples} is a file, not a directory"
    assert indexed_examples.is_file()


def test_training_set_removes_stale_staging_files_but_not_a_live_one(
    env: dict[str, str], indexed_examples: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "train.parquet"
    out.parent.mkdir()
    stale = out.parent / ".train.parquet.staging-4242-deadbeef"  # a run killed two hours ago
    stale.write_bytes(b"half")
    legacy = out.parent / ".train.parquet.tmp"  # the name an older version staged under
    legacy.write_bytes(b"half")
    two_hours_ago = time.time() - 2 * STALE_STAGING_SECONDS
    for path in (stale, legacy):
        os.utime(path, (two_hours_ago, two_hours_ago))
    live = out.parent / ".train.parquet.staging-4343-cafef00d"  # another run writing right now
    live.write_bytes(b"in progress")
    other = out.parent / ".other.parquet.staging-1-feed"  # another output's: never ours to remove
    other.write_bytes(b"x")
    os.utime(other, (two_hours_ago, two_hours_ago))

    result = _training_set(env, indexed_examples, out)
    assert result.exit_code == 0, result.output
    assert not stale.exists() and not legacy.exists()
    assert live.exists() and other.exists()
    assert pl.read_parquet(out).height == 2


def test_batch_index_removes_a_killed_runs_staged_files_but_not_a_live_runs(env: dict[str, str]) -> None:
    locations = TableLocations(raw_root=env["FP_RAW_DATA_ROOT"], tables_root=env["FP_TABLES_ROOT"])
    day_dir = Path(env["FP_TABLES_ROOT"]) / locations.partition_dir_key("recent_searches_v1", "events", DAYS[0])
    day_dir.mkdir(parents=True)
    stale = day_dir / ".part-pending.parquet.0123456789abcdef.tmp"  # SIGKILLed while writing
    stale.write_bytes(b"PAR1 half")
    two_hours_ago = time.time() - 2 * STALE_STAGING_SECONDS
    os.utime(stale, (two_hours_ago, two_hours_ago))
    live = day_dir / ".part-pending.parquet.fedcba9876543210.tmp"  # another run indexing the day now
    live.write_bytes(b"PAR1 in progress")
    result = CliRunner().invoke(cli, ["batch-index", "--feature", "recent_searches_v1", "--date",
                                      DAYS[0].isoformat()], env=env)
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    assert live.exists()
    assert pl.read_parquet(day_dir / "*.parquet").height > 0


def test_batch_index_on_a_full_disk_is_one_line_and_publishes_nothing(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import feature_platform.storage.local as local

    def full_disk(local_path: str, data: bytes) -> None:
        raise local.StoreError(f"cannot write {local_path}: [Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}")

    monkeypatch.setattr(local, "_write_file", full_disk)  # the rejects file and the manifest go through it
    result = CliRunner().invoke(cli, ["batch-index", "--feature", "recent_searches_v1", "--date",
                                      DAYS[0].isoformat()], env=env)
    assert "No space left on device" in _one_error_line(result)
    locations = TableLocations(raw_root=env["FP_RAW_DATA_ROOT"], tables_root=env["FP_TABLES_ROOT"])
    assert not Path(locations.manifest_file("recent_searches_v1", DAYS[0])).exists()
    tables = Path(env["FP_TABLES_ROOT"])
    assert [p for p in tables.rglob(".*") if p.is_file()] == []  # no staged file left behind


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31"])
def test_batch_index_days_out_of_range_are_one_line(day: str, env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["batch-index", "--feature", "recent_searches_v1", "--date", day], env=env)
    assert f"cannot index {day}: days run from 2000-01-01" in _one_error_line(result)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1999-12-31T12:00:00Z"])
def test_training_set_examples_out_of_range_are_one_line(
    when: str, env: dict[str, str], indexed_examples: Path, tmp_path: Path
) -> None:
    examples = tmp_path / "ends.csv"
    examples.write_text(f"user_id,timestamp\n1000001,2026-11-02T00:00:00Z\n1000002,{when}\n")
    result = _training_set(env, examples, tmp_path / "out.parquet")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    line = _one_error_line(result)
    if when.startswith("0001"):  # the ISO-8601 parser already refuses year 1
        assert "null or unreadable 'user_id' or 'timestamp' (first: row 1:" in line
    else:
        assert "1 example row(s) have a 'timestamp' outside the days the tables can hold" in line
        assert "2000-01-01 to 9999-12-30 (first: row 1: user_id=1000002, timestamp=" in line
        assert "datetime.datetime" not in line and "ZoneInfo" not in line  # the author's words, not reprs
    assert not (tmp_path / "out.parquet").exists()


def test_training_set_example_user_that_is_not_an_integer_names_the_row_not_polars(
    env: dict[str, str], indexed_examples: Path, tmp_path: Path
) -> None:
    examples = tmp_path / "users.csv"
    examples.write_text("user_id,timestamp\n1000001,2026-11-02T00:00:00Z\nabc,2026-11-02T00:00:00Z\n")
    line = _one_error_line(_training_set(env, examples, tmp_path / "out.parquet"))
    assert "1 example row(s) have a 'user_id' that cannot be read as the feature's Int64 entity key" in line
    assert "(first: row 1: user_id=abc, timestamp=2026-11-02T00:00:00Z)" in line
    assert "strict_cast" not in line and "col(" not in line  # no polars expression text
    assert not (tmp_path / "out.parquet").exists()


POLARS_FULL_DISK = (
    "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
)


def _polars_full_disk(*args: Any, **kwargs: Any) -> None:
    raise pl.exceptions.ComputeError(POLARS_FULL_DISK)  # how polars reports ENOSPC during a Parquet write


def test_training_set_on_a_full_disk_inside_polars_is_one_line(
    env: dict[str, str], indexed_examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pl.DataFrame, "write_parquet", _polars_full_disk)
    result = _training_set(env, indexed_examples, tmp_path / "out.parquet")
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught ComputeError
    assert _one_error_line(result) == f"error: cannot write --out {tmp_path / 'out.parquet'}: No space left on device"
    assert not (tmp_path / "out.parquet").exists()


def test_batch_index_on_a_full_disk_inside_polars_is_one_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pl.DataFrame, "write_parquet", _polars_full_disk)
    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", _polars_full_disk)
    result = CliRunner().invoke(cli, ["batch-index", "--feature", "recent_searches_v1", "--date",
                                      DAYS[0].isoformat()], env=env)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    line = _one_error_line(result)  # the feature, the day and the folder being written, not the bare reason
    day = DAYS[0].isoformat()
    assert line.startswith(f"error: cannot index recent_searches_v1 for {day}: cannot write "), line
    assert line.endswith(f"/recent_searches_v1/rejects/dt={day}: No space left on device"), line


def test_another_polars_error_keeps_its_traceback(
    env: dict[str, str], indexed_examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: Any, **kwargs: Any) -> None:
        raise pl.exceptions.ComputeError("cannot compare string with numeric type (i64)")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", bug)
    result = _training_set(env, indexed_examples, tmp_path / "out.parquet")
    assert isinstance(result.exception, pl.exceptions.ComputeError), result.output  # a bug stays visible


@pytest.mark.parametrize("name", ["ex.parquet", "ex.csv", "link.parquet"])
def test_training_set_refuses_examples_that_are_a_fifo(name: str, env: dict[str, str], tmp_path: Path) -> None:
    """A FIFO named .parquet or .csv was opened and read: the command waited forever for a writer."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    examples = tmp_path / name
    if name.startswith("link"):
        examples.symlink_to(fifo)  # a link is followed: what matters is what it names
    else:
        fifo.rename(examples)
    done = subprocess.run(
        [sys.executable, "-c", "from feature_platform.cli.main import main; main()", "training-set", "--env", ENV,
         "--feature", "recent_searches_v1", "--examples", str(examples), "--out", str(tmp_path / "out.parquet")],
        env={**os.environ, **env}, capture_output=True, timeout=120, check=False,  # a regression times out
    )
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 1
    assert lines == [f"error: the examples {examples} are not a regular file (a FIFO); name a .parquet or .csv file"]
    assert not (tmp_path / "out.parquet").exists()
