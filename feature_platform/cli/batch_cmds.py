"""batch-index, training-set: the batch runtime on the command line.

Both load the artefact that is LIVE in the environment from the artefact store (never the configs), and
read and write where the settings say (``FP_RAW_DATA_ROOT``, ``FP_TABLES_ROOT``, ``FP_S3_*``, defaults
under ``FP_DATA_DIR``).
"""

from __future__ import annotations

import re
import stat
import time
from datetime import date, datetime
from pathlib import Path

import click
import polars as pl

from feature_platform._days import day_range_problem
from feature_platform._filekind import file_kind
from feature_platform.artefact import Artefact
from feature_platform.cli._common import env_option, handle_errors, settings
from feature_platform.errors import SourceDataError
from feature_platform.runtimes.batch import (
    SEQUENCE_LENGTH,
    DayIndexResult,
    TableLocations,
    build_training_set,
    check_output_file,
    index_days,
    source_raw_days,
    write_parquet_file,
)
from feature_platform.store import open_store_from_settings

_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command(name="batch-index")
@env_option
@click.option("--feature", "feature", required=True, help="Feature id, e.g. recent_engagements_v1.")
@click.option("--date", "first", type=_DAY, required=True, help="Day to index (UTC), YYYY-MM-DD.")
@click.option("--to", "last", type=_DAY, default=None,
              help="Index every day from --date to this one, in order. Every day must lie between the first and "
              "the last day with raw data of the feature's sources: a range past the last one is refused (index "
              "a day once its raw partition has arrived), not filled with empty days.")
@click.option("--allow-missing", is_flag=True,
              help="A source with no raw partition for a day (between the first and last days with raw data) "
              "contributes no rows instead of failing.")
@click.option("--allow-gaps", is_flag=True,
              help="Build over days of the retention window that have raw data but are not indexed; the "
              "snapshot is marked incomplete (and is never certified) instead of the run failing.")
@handle_errors
def batch_index(
    env: str | None, feature: str, first: datetime, last: datetime | None, allow_missing: bool, allow_gaps: bool
) -> None:
    """Index FEATURE's days with the artefact live in ENV: events, rejects and sequence snapshots.

    The days are those of the raw data: a --date or --to before the first or after the last day with a raw
    partition of any of the feature's events sources is refused before anything is written."""
    config = settings()
    target = env or config.env
    artefact = open_store_from_settings(config).load_live(target, feature)
    locations = TableLocations.from_settings(config)
    start = first.date()
    end = last.date() if last is not None else start
    if end < start:
        raise click.BadParameter(f"{end} is before --date {start}", param_hint="--to")
    _check_raw_span(feature, artefact, locations, start, end, to_given=last is not None)
    click.echo(f"{feature} (artefact {(artefact.content_hash or '')[:12]}, live in {target!r}): "
               f"raw {locations.raw_root} -> tables {locations.feature_root(feature)}")
    started = time.perf_counter()
    # one call for the whole range, so each day builds on the snapshot the previous one just wrote
    # without reading it back; each day is printed as soon as it is done
    try:
        results = index_days(
            artefact, start, end, locations, allow_missing=allow_missing, allow_gaps=allow_gaps, on_day=_echo_day
        )
    except SourceDataError as exc:  # the library names its argument; a person on the command line, the flag
        if "allow_missing=True" not in str(exc):
            raise
        raise SourceDataError(str(exc).replace("allow_missing=True", "--allow-missing")) from exc
    elapsed = time.perf_counter() - started
    total = sum(r.events_rows + r.rejects_rows for r in results)
    click.secho(f"indexed {len(results)} day(s) in {elapsed:.2f}s "
                f"({total / elapsed if elapsed > 0 else 0.0:,.0f} rows/s)", fg="green")


def _check_raw_span(
    feature: str, artefact: Artefact, locations: TableLocations, start: date, end: date, *, to_given: bool
) -> None:
    """Refuse a range outside the days with raw data (one listing of each source), before anything is written:
    ``--to 9999-12-30 --allow-missing`` would otherwise write an empty day after another until the year 9999."""
    for day in (start, end):
        if problem := day_range_problem(day):
            raise SourceDataError(f"cannot index {day.isoformat()}: {problem}")
    listed = source_raw_days(artefact, locations)
    if not listed:
        return  # no batch source: index_days says so
    days = sorted({d for raw in listed.values() for d in raw.days})
    where = ", ".join(f"{raw.root}/" for raw in listed.values())
    if not days:
        msg = f"{feature} has no raw data to index: no day partition with a Parquet file under {where}"
        raise SourceDataError(msg)
    first_raw, last_raw = days[0], days[-1]
    if end > last_raw:
        flag, given = ("--to", end) if to_given and start <= last_raw else ("--date", start)
        msg = (f"{flag} {given.isoformat()} is after the last day with raw data of {feature} "
               f"({last_raw.isoformat()}, under {where}): index up to {last_raw.isoformat()}; a later day can be "
               "indexed once its raw partition has arrived")
        raise SourceDataError(msg)
    if start < first_raw:
        msg = (f"--date {start.isoformat()} is before the first day with raw data of {feature} "
               f"({first_raw.isoformat()}, under {where}): start at {first_raw.isoformat()}")
        raise SourceDataError(msg)


def _echo_day(result: DayIndexResult) -> None:
    """Progress of ``batch-index``: one day's counts, reject reasons and files, printed as it completes."""
    mode = "incremental" if result.incremental else "full recompute"
    click.echo(f"{result.day}: {result.events_rows:,} events, {result.rejects_rows:,} rejects, "
               f"snapshot {result.snapshot_users:,} users / {result.snapshot_rows:,} rows ({mode})")
    for reason, count in sorted(result.reject_reasons.items()):
        click.echo(f"    rejected {count:,}: {reason}")
    if result.missing_sources:
        click.secho(f"    no raw partition (allowed): {', '.join(result.missing_sources)}", fg="yellow")
    if result.missing_days:
        listed = ", ".join(d.isoformat() for d in result.missing_days)
        click.secho(f"    INCOMPLETE snapshot (--allow-gaps): not indexed: {listed}", fg="yellow")
    click.echo(f"    events    {result.events_path}")
    click.echo(f"    rejects   {result.rejects_path}")
    click.echo(f"    snapshot  {result.snapshot_path}")


@click.command(name="training-set")
@env_option
@click.option("--feature", "feature", required=True, help="Feature id, e.g. recent_engagements_v1.")
@click.option("--examples", "examples_path", required=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Parquet or CSV with a user id and a timestamp per row; other columns are carried through.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Output Parquet file (replaced atomically).")
@click.option("--user-column", default="user_id", show_default=True)
@click.option("--time-column", default="timestamp", show_default=True,
              help="Example time (UTC): a datetime column, or ISO-8601 text in a CSV.")
@handle_errors
def training_set(env: str | None, feature: str, examples_path: Path, out: Path, user_column: str,
                 time_column: str) -> None:
    """Point-in-time sequences of FEATURE for labelled examples, from the indexed tables."""
    check_output_file(out, inputs=[examples_path], what="--out")  # before any work: never over an input
    config = settings()
    target = env or config.env
    artefact = open_store_from_settings(config).load_live(target, feature)
    locations = TableLocations.from_settings(config)
    examples = _read_examples(examples_path, time_column)
    started = time.perf_counter()
    frame = build_training_set(artefact, examples, locations, user_column=user_column, time_column=time_column)
    elapsed = time.perf_counter() - started
    write_parquet_file(frame, out, what="--out")  # staged and renamed: a failure leaves no half-written file at --out
    empty = frame.filter(pl.col(SEQUENCE_LENGTH) == 0).height
    lengths = frame.get_column(SEQUENCE_LENGTH)
    mean = lengths.sum() / frame.height if frame.height else 0.0
    click.echo(f"{frame.height:,} examples, mean sequence length {mean:.1f}, {empty:,} with no events, "
               f"built in {elapsed:.2f}s")
    click.secho(f"wrote {out}", fg="green")


def _read_examples(path: Path, time_column: str) -> pl.DataFrame:
    try:  # before opening it: reading a FIFO blocks until a writer comes, and a device never ends
        mode = path.stat().st_mode  # a symbolic link to a regular file is followed
    except OSError as exc:
        msg = f"cannot read the examples {path}: {exc.strerror or exc}"
        raise SourceDataError(msg) from exc
    if not stat.S_ISREG(mode):
        msg = f"the examples {path} are not a regular file ({file_kind(mode)}); name a .parquet or .csv file"
        raise SourceDataError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix == ".csv":
            frame = pl.read_csv(path, schema_overrides={time_column: pl.String})
            # polars renames a repeated header name: which of the two is the user id would be a guess
            renamed = (_RENAMED.match(c) for c in frame.columns)
            repeated = sorted({m.group(1) for m in renamed if m is not None and m.group(1) in frame.columns})
            if repeated:
                msg = f"the examples {path} have more than one column named {', '.join(map(repr, repeated))}"
                raise SourceDataError(msg)
            return frame
    except pl.exceptions.PolarsError as exc:  # one line, without polars' advice on its own parameters
        msg = f"cannot read the examples {path}: {_examples_reason(exc)}"
        raise SourceDataError(msg) from exc
    msg = f"examples file {path} must be .parquet or .csv"
    raise SourceDataError(msg)


_RENAMED = re.compile(r"\A(.*)_duplicated_\d+\Z")
_KINDS = {"i64": "an integer", "i32": "an integer", "f64": "a number", "bool": "true or false"}
_UNPARSED = re.compile(r"could not parse `(.*?)` as dtype `(\w+)` at column '([^']*)'", re.S)


def _examples_reason(exc: Exception) -> str:
    """Why polars could not read the examples, in one line of the user's words (polars' message spans lines,
    quotes a broken row with its newline and advises its own parameters)."""
    text = str(exc).strip()
    if "not properly escaped" in text:
        return 'a quoted field is never closed (an unmatched ")'
    if "more fields than defined" in text:
        return "a row has more fields than the header line"
    if (match := _UNPARSED.search(text)) is not None:
        kind = _KINDS.get(match.group(2), match.group(2))
        return (f"column '{match.group(3)}' has a value that is not {kind} like the rows before it: "
                f"{match.group(1).strip()!r}")
    return text.splitlines()[0] if text else type(exc).__name__
