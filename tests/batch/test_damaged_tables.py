"""Indexed tables damaged after their day was committed (a zero-byte or truncated file) and examples files
polars cannot parse: ``training-set`` and ``online-load`` print one ``error: …`` line naming the file and what
to do, exit 1, never a traceback nor polars' advice on its own parameters; nothing is written at --out."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

from feature_platform.cli.main import cli
from feature_platform.runtimes.batch import TableLocations, certify_day
from tests.batch.conftest import DAYS, ENV, DemoTables, Published
from tests.batch.helpers import manifest, utc

FEATURE = "recent_engagements_v1"


@pytest.fixture
def tables(demo_tables: DemoTables, tmp_path: Path) -> TableLocations:
    root = tmp_path / "tables"
    shutil.copytree(demo_tables.locations.tables_root, root)
    return TableLocations(raw_root=demo_tables.locations.raw_root, tables_root=str(root))


@pytest.fixture
def env(tables: TableLocations, published: Published, tmp_path: Path) -> dict[str, str]:
    return {
        "FP_DATA_DIR": str(tmp_path / "data"),
        "FP_ARTEFACT_STORE": published.store_url,
        "FP_RAW_DATA_ROOT": tables.raw_root,
        "FP_TABLES_ROOT": tables.tables_root,
        "FP_ONLINE_STORE": str(tmp_path / "online.sqlite"),
        "FP_ENV": ENV,
    }


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    path = tmp_path / "examples.parquet"
    pl.DataFrame({"user_id": [1_000_001, 1_000_002], "timestamp": [utc(DAYS[2], 12), utc(DAYS[3], 1)]}).write_parquet(
        path
    )
    return path


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception (a traceback)
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "ComputeError" not in result.output and "Consider setting" not in result.output, result.output
    return errors[0]


def _table_file(tables: TableLocations, table: str, day: date) -> Path:
    return Path(tables.tables_root) / FEATURE / manifest(tables, FEATURE, day)[table]["path"]


@pytest.mark.parametrize("damage", [b"", b"PAR1 and then nothing"])
def test_training_set_over_a_damaged_events_partition_names_the_file(
    damage: bytes, tables: TableLocations, env: dict[str, str], examples: Path, tmp_path: Path
) -> None:
    damaged = _table_file(tables, "events", DAYS[2])
    damaged.write_bytes(damage)
    out = tmp_path / "out.parquet"
    line = _one_error_line(CliRunner().invoke(
        cli, ["training-set", "--feature", FEATURE, "--examples", str(examples), "--out", str(out)], env=env))
    assert f"{damaged} is not a readable Parquet file (" in line and "re-index that day" in line, line
    assert not out.exists()


def _certify(tables: TableLocations) -> None:
    for day in DAYS:
        certify_day(tables, FEATURE, day, "tests")


def test_online_load_of_a_damaged_snapshot_names_the_file_and_the_command(
    tables: TableLocations, env: dict[str, str]
) -> None:
    _certify(tables)
    damaged = _table_file(tables, "snapshot", DAYS[-1])
    damaged.write_bytes(b"")
    line = _one_error_line(CliRunner().invoke(cli, ["online-load", "--feature", FEATURE], env=env))
    assert f"the snapshot of {FEATURE} for {DAYS[-1].isoformat()}, {damaged}, is not a readable Parquet file" in line
    assert f"(feature-platform batch-index --feature {FEATURE} --date {DAYS[-1].isoformat()})" in line


def test_online_load_of_a_damaged_certification_says_how_to_repair(tables: TableLocations, env: dict[str, str]) -> None:
    _certify(tables)
    watermark = Path(tables.tables_root) / FEATURE / "watermark" / f"dt={DAYS[-1].isoformat()}" / "part-00000.parquet"
    assert watermark.exists()
    watermark.write_bytes(b"PAR1")
    line = _one_error_line(CliRunner().invoke(cli, ["online-load", "--feature", FEATURE], env=env))
    assert f"the certification of {FEATURE} for {DAYS[-1].isoformat()} at {watermark} is damaged" in line
    assert "delete that file to revoke the certification" in line


def test_examples_with_a_ragged_row_are_one_line_in_the_users_words(env: dict[str, str], tmp_path: Path) -> None:
    examples = tmp_path / "examples.csv"
    examples.write_text(f"user_id,timestamp\n1000001,{DAYS[2].isoformat()}T12:00:00Z,extra\n")
    result = CliRunner().invoke(cli, ["training-set", "--feature", FEATURE, "--examples", str(examples), "--out",
                                      str(tmp_path / "out.parquet")], env=env)
    line = _one_error_line(result)
    assert line == f"error: cannot read the examples {examples}: a row has more fields than the header line"
    assert "truncate_ragged_lines" not in result.output


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f'user_id,timestamp\n"1000001,{DAYS[2].isoformat()}T12:00:00Z\n',
         'a quoted field is never closed (an unmatched ")'),
        ("user_id,timestamp\n" + "".join(f"{1_000_001 + i % 40},{DAYS[2].isoformat()}T12:00:00Z\n" for i in range(3000))
         + f"abc,{DAYS[2].isoformat()}T12:00:00Z\n",
         "column 'user_id' has a value that is not an integer like the rows before it: 'abc'"),
    ],
)  # fmt: skip
def test_examples_polars_cannot_parse_are_one_line_in_the_users_words(
    text: str, reason: str, env: dict[str, str], tmp_path: Path
) -> None:
    examples = tmp_path / "examples.csv"
    examples.write_text(text)
    result = CliRunner().invoke(cli, ["training-set", "--feature", FEATURE, "--examples", str(examples), "--out",
                                      str(tmp_path / "out.parquet")], env=env)
    assert _one_error_line(result) == f"error: cannot read the examples {examples}: {reason}"
    assert "infer_schema_length" not in result.output and "You might want" not in result.output


def test_a_fractional_user_id_is_refused_not_truncated(env: dict[str, str], tmp_path: Path) -> None:
    """A strict cast of 1000001.5 to the Int64 entity key gave user 1000001's sequence, silently."""
    examples = tmp_path / "examples.csv"
    examples.write_text(f"user_id,timestamp\n1000002.0,{DAYS[2].isoformat()}T12:00:00Z\n"
                        f"1000001.5,{DAYS[2].isoformat()}T12:00:00Z\n")
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(cli, ["training-set", "--feature", FEATURE, "--examples", str(examples), "--out",
                                      str(out)], env=env)
    line = _one_error_line(result)
    assert line == (
        "error: 1 example row(s) have a 'user_id' with a fractional part, which the feature's Int64 entity key "
        f"cannot hold (first: row 1: user_id=1000001.5, timestamp={DAYS[2].isoformat()}T12:00:00Z)"
    )
    assert not out.exists()


def test_examples_with_a_repeated_column_name_are_refused(env: dict[str, str], tmp_path: Path) -> None:
    """polars renames the second ``user_id`` to ``user_id_duplicated_0``: the first was used, silently."""
    examples = tmp_path / "examples.csv"
    examples.write_text(f"user_id,user_id,timestamp\n1000001,1000002,{DAYS[2].isoformat()}T12:00:00Z\n")
    result = CliRunner().invoke(cli, ["training-set", "--feature", FEATURE, "--examples", str(examples), "--out",
                                      str(tmp_path / "out.parquet")], env=env)
    assert _one_error_line(result) == f"error: the examples {examples} have more than one column named 'user_id'"
