"""Damaged raw folders on the command line: one rule for what a source's folder may hold
(:mod:`feature_platform.engine.partitions`), ranges outside the raw data refused, a missing day named — each a
one-line ``error: …`` and exit 1, never a traceback, never polars' internals, nothing written."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

from feature_platform.cli.main import cli
from feature_platform.engine.partitions import partition_day
from tests.batch.conftest import DAYS, ENV, Demo, Published

FEATURE = "recent_engagements_v1"
SOURCE = "engagement_events"


@pytest.fixture
def raw(demo: Demo, tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    shutil.copytree(demo.root, root)
    return root


@pytest.fixture
def env(raw: Path, published: Published, tmp_path: Path) -> dict[str, str]:
    return {
        "FP_DATA_DIR": str(tmp_path / "data"),
        "FP_ARTEFACT_STORE": published.store_url,
        "FP_RAW_DATA_ROOT": str(raw),
        "FP_TABLES_ROOT": str(tmp_path / "tables"),
        "FP_EVENT_LOG": str(tmp_path / "log.sqlite"),
        "FP_ENV": ENV,
    }


def _run(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def _one_error_line(result: Result) -> str:
    """The run failed with exit 1 and one ``error:`` line, no traceback, no polars internals: that line."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception (a traceback)
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    for leak in ("Traceback", "ComputeError", "polars", "pyarrow", "expanded paths"):
        assert leak not in result.output, result.output
    return errors[0]


def _index(env: dict[str, str], *extra: str) -> Result:
    return _run(["batch-index", "--feature", FEATURE, "--date", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(),
                 *extra], env)


def _source(raw: Path) -> Path:
    return raw / SOURCE


def _day(raw: Path, day: date) -> Path:
    return _source(raw) / f"dt={day.isoformat()}"


# -- what a source's folder may hold ----------------------------------------------------------------------------


def _misnamed_copy(raw: Path) -> str:
    """A real day's data under a mis-spelt partition name (not zero-padded): silently skipped before."""
    shutil.move(_day(raw, DAYS[1]), _source(raw) / "dt=2026-11-2")
    return f"{_source(raw)}/dt=2026-11-2/ is not named dt=YYYY-MM-DD: rename it dt=2026-11-02"


def _garbage(raw: Path) -> str:
    (_source(raw) / "dt=garbage").mkdir()
    return f"{_source(raw)}/dt=garbage/ is not named dt=YYYY-MM-DD ('garbage' is not a date)"


def _compact_date(raw: Path) -> str:
    (_source(raw) / "dt=20261101").mkdir()  # date.fromisoformat accepts it in Python 3.11: not a partition name
    return f"{_source(raw)}/dt=20261101/ is not named dt=YYYY-MM-DD: rename it dt=2026-11-01"


def _impossible_day(raw: Path) -> str:
    (_source(raw) / "dt=1970-01-01").mkdir()
    (_source(raw) / "dt=1970-01-01" / "part-0.parquet").write_bytes(b"")
    return f"{_source(raw)}/dt=1970-01-01/ is not a day the platform can index"


def _stray_file(raw: Path) -> str:
    (_source(raw) / "README").write_text("where these files come from")
    return f"{_source(raw)}/README is not a day partition of this source"


def _other_layout(raw: Path) -> str:
    (_source(raw) / "backup").mkdir()
    (_source(raw) / "backup" / "part-0.parquet").write_bytes(b"")
    return f"{_source(raw)}/backup/ is not a day partition of this source"


def _folder_in_a_day(raw: Path) -> str:
    (_day(raw, DAYS[1]) / "part-x.parquet").mkdir()
    (_day(raw, DAYS[1]) / "part-x.parquet" / "data").write_bytes(b"rows nobody would read")
    return f"{_day(raw, DAYS[1])}/part-x.parquet/ is a folder: a raw data folder holds only Parquet files"


def _empty_folder_in_a_day(raw: Path) -> str:
    (_day(raw, DAYS[1]) / "part-x.parquet").mkdir()
    return f"{_day(raw, DAYS[1])}/part-x.parquet/ is a folder"


def _csv_in_a_day(raw: Path) -> str:
    (_day(raw, DAYS[1]) / "part-9.csv").write_text("event_id,user_id\n1,2\n")
    return f"{_day(raw, DAYS[1])}/part-9.csv is not a .parquet file"


def _pipe_in_a_day(raw: Path) -> str:
    os.mkfifo(_day(raw, DAYS[1]) / "part-zz.parquet")  # opened, it would block the run forever
    return f"{_day(raw, DAYS[1])}/part-zz.parquet is not a regular file"


def _dangling_link_in_a_day(raw: Path) -> str:
    (_day(raw, DAYS[1]) / "part-zz.parquet").symlink_to(raw / "nowhere.parquet")
    return f"{_day(raw, DAYS[1])}/part-zz.parquet is not a regular file"


SEEN_WHEN_READ = {"an empty folder part-x.parquet inside a day", "a pipe inside a day", "a link to nothing in a day"}
"""Damage the listing of the source's files cannot see: refused when its day is read (the days before are indexed)."""

DAMAGE: dict[str, Callable[[Path], str]] = {
    "a pipe inside a day": _pipe_in_a_day,
    "a link to nothing in a day": _dangling_link_in_a_day,
    "a day's folder mis-named dt=2026-11-2": _misnamed_copy,
    "a folder dt=garbage": _garbage,
    "a folder dt=20261101": _compact_date,
    "a day before 2000": _impossible_day,
    "a README beside the days": _stray_file,
    "a folder of another layout": _other_layout,
    "a folder part-x.parquet inside a day": _folder_in_a_day,
    "an empty folder part-x.parquet inside a day": _empty_folder_in_a_day,
    "a CSV file inside a day": _csv_in_a_day,
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_source_folder_is_refused_naming_the_path_and_what_to_do(
    case: str, raw: Path, env: dict[str, str], tmp_path: Path
) -> None:
    expected = DAMAGE[case](raw)
    line = _one_error_line(_index(env))
    assert expected in line, line
    assert "move it out" in line or "rename it" in line, line
    manifests = tmp_path / "tables" / FEATURE / "_manifests"
    assert not (manifests / f"dt={DAYS[1].isoformat()}.json").exists()  # the damaged day is never indexed
    if case not in SEEN_WHEN_READ:
        assert not manifests.exists()  # refused before any day was written


def test_replay_refuses_a_folder_inside_the_day_naming_source_day_and_path(raw: Path, env: dict[str, str]) -> None:
    expected = _folder_in_a_day(raw)
    line = _one_error_line(_run(["replay", "--source", SOURCE, "--date", DAYS[1].isoformat()], env))
    assert f"source '{SOURCE}', day {DAYS[1].isoformat()}: " in line and expected in line, line


def test_hidden_entries_are_never_data_nor_errors(raw: Path, env: dict[str, str]) -> None:
    clean = _index(env)
    assert clean.exit_code == 0, clean.output
    shutil.rmtree(Path(env["FP_TABLES_ROOT"]))
    (_source(raw) / ".DS_Store").write_bytes(b"\0")
    (_source(raw) / "_SUCCESS").write_bytes(b"")
    (_source(raw) / "_temporary" / "0").mkdir(parents=True)
    (_source(raw) / "_temporary" / "0" / "part-0.parquet").write_bytes(b"half written")
    (_day(raw, DAYS[1]) / ".part-0.parquet.crc").write_bytes(b"\0")
    (_day(raw, DAYS[1]) / "_SUCCESS").write_bytes(b"")
    (_day(raw, DAYS[1]) / ".staging").mkdir()
    damaged = _index(env)
    assert damaged.exit_code == 0, damaged.output
    counts = [line for line in damaged.output.splitlines() if line[:4].isdigit()]
    assert counts == [line for line in clean.output.splitlines() if line[:4].isdigit()]


def test_partition_names_are_exactly_key_equals_iso_day() -> None:
    assert partition_day("dt=2026-11-01", "dt") == date(2026, 11, 1)
    for name in ("dt=2026-11-1", "dt=20261101", "dt=2026-W44-1", "dt=2026-02-30", "dt=1999-12-31", "day=2026-11-01",
                 "dt=2026-11-01 ", "dt=2026-11-01\n"):
        assert partition_day(name, "dt") is None, name


# -- ranges outside the raw data ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--date", DAYS[1].isoformat(), "--to", "9999-12-30", "--allow-missing"],
         f"--to 9999-12-30 is after the last day with raw data of {FEATURE} ({DAYS[-1].isoformat()}"),
        (["--date", "9999-12-30", "--allow-missing"],
         f"--date 9999-12-30 is after the last day with raw data of {FEATURE} ({DAYS[-1].isoformat()}"),
        (["--date", (DAYS[-1] + timedelta(days=1)).isoformat(), "--to", "2030-01-01"],
         f"--date {(DAYS[-1] + timedelta(days=1)).isoformat()} is after the last day with raw data"),
        (["--date", "2000-01-01", "--to", DAYS[0].isoformat(), "--allow-missing"],
         f"--date 2000-01-01 is before the first day with raw data of {FEATURE} ({DAYS[0].isoformat()}"),
        (["--date", "0001-01-01"], "cannot index 0001-01-01: days run from 2000-01-01"),
    ],
)  # fmt: skip
def test_a_range_outside_the_raw_data_is_refused_before_anything_is_written(
    args: list[str], expected: str, env: dict[str, str], tmp_path: Path
) -> None:
    line = _one_error_line(_run(["batch-index", "--feature", FEATURE, *args], env))
    assert expected in line, line
    assert not (tmp_path / "tables").exists()


def test_a_source_with_no_day_at_all_says_so(raw: Path, env: dict[str, str]) -> None:
    shutil.rmtree(_source(raw))
    _source(raw).mkdir()
    line = _one_error_line(_run(["batch-index", "--feature", FEATURE, "--date", DAYS[0].isoformat()], env))
    assert f"{FEATURE} has no raw data to index: no day partition with a Parquet file under {_source(raw)}/" in line


def test_the_help_says_which_days_can_be_indexed() -> None:
    result = CliRunner().invoke(cli, ["batch-index", "--help"], terminal_width=200)
    assert "a range past the last one is refused" in " ".join(result.output.split())


# -- replay of a day that has no partition -------------------------------------------------------------------------


def test_replay_of_a_missing_day_names_source_day_folder_and_nearest_days(raw: Path, env: dict[str, str]) -> None:
    shutil.rmtree(_day(raw, DAYS[1]))
    line = _one_error_line(_run(["replay", "--source", SOURCE, "--date", DAYS[1].isoformat()], env))
    assert line == (
        f"error: source '{SOURCE}' has no raw partition for {DAYS[1].isoformat()} (no Parquet file in "
        f"{_day(raw, DAYS[1])}/); days with data nearest to it: {DAYS[0].isoformat()}, {DAYS[2].isoformat()}"
    )


def test_replay_of_an_empty_day_folder_is_a_missing_day(raw: Path, env: dict[str, str]) -> None:
    for part in _day(raw, DAYS[1]).iterdir():
        part.unlink()
    line = _one_error_line(_run(["replay", "--source", SOURCE, "--date", DAYS[1].isoformat()], env))
    assert f"has no raw partition for {DAYS[1].isoformat()} (no Parquet file in {_day(raw, DAYS[1])}/)" in line


@pytest.mark.parametrize("content", [b"", b"PAR1 truncated"])
def test_replay_of_a_file_that_is_not_parquet_names_the_file(content: bytes, raw: Path, env: dict[str, str]) -> None:
    bad = _day(raw, DAYS[1]) / "part-zzz.parquet"
    bad.write_bytes(content)
    line = _one_error_line(_run(["replay", "--source", SOURCE, "--date", DAYS[1].isoformat()], env))
    assert f"cannot replay source '{SOURCE}' day {DAYS[1].isoformat()}: {bad} is not a readable Parquet file" in line


def test_replay_reads_files_whose_schemas_drift_file_by_file(raw: Path, env: dict[str, str]) -> None:
    day = _day(raw, DAYS[1])
    first = sorted(day.glob("*.parquet"))[0]
    rows = pl.read_parquet(first)
    rows.head(3).drop(rows.columns[-1]).write_parquet(day / "part-zzz.parquet")  # one column fewer
    result = _run(["replay", "--source", SOURCE, "--date", DAYS[1].isoformat()], env)
    assert result.exit_code == 0, result.output
    total = sum(pl.read_parquet(p).height for p in day.glob("*.parquet"))
    assert f"replayed {total:,} rows" in result.output


@pytest.mark.parametrize(
    ("option", "value"),
    # a rate of 1e-12 events/s overflowed time.sleep: a traceback
    [("--offset", "-5"), ("--limit", "-1"), ("--rate", "0"), ("--rate", "-10"), ("--rate", "1e-12")],
)
def test_replay_refuses_a_negative_offset_limit_or_rate(
    option: str, value: str, env: dict[str, str], tmp_path: Path
) -> None:
    """``rows[-5:]`` replayed the last rows stamped before the day began; ``rows[:-1]`` all but the last."""
    result = _run(["replay", "--source", SOURCE, "--date", DAYS[1].isoformat(), option, value], env)
    assert result.exit_code == 2, result.output
    shown = str(float(value)) if option == "--rate" else value
    assert result.output.startswith(f"error: Invalid value for '{option}': {shown} is not in the range"), result.output
    assert not (tmp_path / "log.sqlite").exists()


def test_the_replay_library_refuses_a_negative_offset_too(raw: Path, published: Published) -> None:
    from feature_platform.errors import SourceDataError
    from feature_platform.runtimes.stream import replay

    source = published.artefacts[FEATURE].sources[SOURCE]
    with pytest.raises(SourceDataError, match=r"offset=-5, limit=None"):
        replay(None, source, str(raw), DAYS[1], offset=-5)  # type: ignore[arg-type]  # refused before the log


def test_replay_of_a_lookup_source_says_it_has_no_stream_before_reading_it(raw: Path, env: dict[str, str]) -> None:
    """It used to list the lookup table's folder as day partitions and blame its Parquet files."""
    line = _one_error_line(_run(["replay", "--source", "item_categories", "--date", DAYS[1].isoformat()], env))
    assert line == ("error: source 'item_categories' has no stream "
                    "(sources.item_categories.stream is not set in its config)")


def test_payloads_of_a_lookup_source_say_it_has_no_days(raw: Path, published: Published) -> None:
    from feature_platform.errors import SourceDataError
    from feature_platform.runtimes.stream import payloads

    source = published.artefacts[FEATURE].sources["item_categories"]
    with pytest.raises(SourceDataError, match=r"^source 'item_categories' is a lookup table, not a day-partitioned"):
        payloads(source, str(raw), DAYS[1])
