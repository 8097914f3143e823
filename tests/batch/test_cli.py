"""batch-index and training-set on the command line, with the artefact loaded live from the store."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import polars as pl
import pytest
from click.testing import CliRunner

import feature_platform.runtimes.batch._indexer as indexer
from feature_platform.cli.batch_cmds import batch_index, training_set
from feature_platform.runtimes.batch import SEQUENCE, SEQUENCE_LENGTH, TableLocations, build_training_set
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


def test_batch_index_missing_partition_exits_1_unless_allowed(env: dict[str, str]) -> None:
    after = (DAYS[-1] + timedelta(days=1)).isoformat()
    args = ["batch-index", "--feature", "recent_engagements_v1", "--date", after]
    failed = CliRunner().invoke(cli, args, env=env)
    assert failed.exit_code == 1
    assert "error:" in failed.output and "'engagement_events'" in failed.output and after in failed.output
    gap = CliRunner().invoke(cli, [*args, "--allow-missing"], env=env)  # the days before it are not indexed
    assert gap.exit_code == 1
    assert "have raw data but are not indexed" in gap.output and "--allow-gaps" in gap.output
    allowed = CliRunner().invoke(cli, [*args, "--allow-missing", "--allow-gaps"], env=env)
    assert allowed.exit_code == 0, allowed.output
    assert "no raw partition (allowed): engagement_events" in allowed.output
    assert f"INCOMPLETE snapshot (--allow-gaps): not indexed: {DAYS[0].isoformat()}" in allowed.output


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
