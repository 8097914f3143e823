"""``feature-platform demo-data``: write a realistic, deterministic raw data set for demos and tests.

The command object is :data:`demo_data_command`; the CLI package registers it.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click

from feature_platform.demo_data.config import MAX_CHUNK_ROWS, DefectRates, DemoDataConfig
from feature_platform.demo_data.generator import DEFAULT_WORKERS, MANIFEST_NAME, generate
from feature_platform.errors import FeaturePlatformError, writing

_DEFAULTS = DemoDataConfig()
_RATES = DefectRates()


@click.command(name="demo-data")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output directory (created; a previous demo data set in it is replaced).")
@click.option("--users", type=click.IntRange(1), default=_DEFAULTS.users, show_default=True,
              help="Number of users (ids from 1,000,000).")
@click.option("--items", type=click.IntRange(1), default=_DEFAULTS.items, show_default=True,
              help="Number of items / pins (ids from 50,000,000).")
@click.option("--days", type=click.IntRange(1, 3660), default=_DEFAULTS.days, show_default=True,
              help="Number of daily partitions.")
@click.option("--events", type=click.IntRange(0), default=_DEFAULTS.events, show_default=True,
              help="Total raw event rows over all days and both event tables (~85% engagement, ~15% search).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=_DEFAULTS.seed, show_default=True,
              help="Seed: the same parameters and seed give byte-identical files.")
@click.option("--start-date", type=click.DateTime(formats=["%Y-%m-%d"]),
              default=_DEFAULTS.start_date.isoformat(), show_default=True, help="First day (UTC).")
@click.option("--chunk-rows", type=click.IntRange(1_000, MAX_CHUNK_ROWS), default=_DEFAULTS.chunk_rows,
              show_default=True, help="Maximum rows per part file (and per generation step: bounds memory).")
@click.option("--search-share", type=click.FloatRange(0.0, 1.0), default=_DEFAULTS.search_share,
              show_default=True, help="Share of the events that are search events.")
@click.option("--missing-item-rate", type=click.FloatRange(0.0, 0.5), default=_DEFAULTS.missing_item_rate,
              show_default=True, help="Share of items missing from each lookup table (lookup misses).")
@click.option("--late-rate", type=click.FloatRange(0.0, 0.2), default=_RATES.late, show_default=True,
              help="Late sessions: events of day d written into day d+1's partition.")
@click.option("--null-user-rate", type=click.FloatRange(0.0, 0.2), default=_RATES.null_user_id,
              show_default=True, help="Rows with a null user_id.")
@click.option("--null-id-rate", type=click.FloatRange(0.0, 0.2), default=_RATES.null_event_id,
              show_default=True, help="Rows with a null event_id / query_id.")
@click.option("--bad-timestamp-rate", type=click.FloatRange(0.0, 0.2), default=_RATES.bad_timestamp,
              show_default=True,
              help="Rows with an out-of-range event_ts_ms (engagement) or unparseable event_time (search).")
@click.option("--duplicate-rate", type=click.FloatRange(0.0, 0.2), default=_RATES.duplicate,
              show_default=True, help="Rows that are exact replays of another event (same id).")
@click.option("--null-pin-rate", type=click.FloatRange(0.0, 0.2), default=_RATES.null_pin_id,
              show_default=True, help="Engagement rows with a null pin_id.")
@click.option("--no-defects", is_flag=True, help="Set every defect rate to 0 (clean data).")
@click.option("--workers", type=click.IntRange(1, 64), default=DEFAULT_WORKERS, show_default=True,
              help="Chunks generated concurrently (speed and peak memory only; the output is the same).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the final summary line.")
def demo_data_command(
    out: Path, users: int, items: int, days: int, events: int, seed: int, start_date: datetime,
    chunk_rows: int, search_share: float, missing_item_rate: float, late_rate: float, null_user_rate: float,
    null_id_rate: float, bad_timestamp_rate: float, duplicate_rate: float, null_pin_rate: float,
    no_defects: bool, workers: int, quiet: bool,
) -> None:
    """Write raw engagement/search events (partitioned by day), the item lookup tables and
    _demo_data.json (parameters, per-day counts, injected defect counts) into OUT."""
    rates = DefectRates.none() if no_defects else DefectRates(
        late=late_rate, null_user_id=null_user_rate, null_event_id=null_id_rate,
        bad_timestamp=bad_timestamp_rate, duplicate=duplicate_rate, null_pin_id=null_pin_rate,
    )
    config = DemoDataConfig(
        users=users, items=items, days=days, events=events, seed=seed, start_date=start_date.date(),
        chunk_rows=chunk_rows, search_share=search_share, missing_item_rate=missing_item_rate, defects=rates,
    )
    progress = None if quiet else (lambda message: click.echo(f"  {message}"))
    started = time.perf_counter()
    try:
        with writing(f"the demo data {out}"):  # an I/O failure names the path (the generator names the file)
            manifest = generate(config, out, progress=progress, workers=workers)
    except FeaturePlatformError as exc:  # bad parameters, an --out it will not overwrite, a full disk
        if _debug():
            raise
        _fail(str(exc))
    elapsed = time.perf_counter() - started
    totals = manifest["totals"]
    if not quiet:
        for table, summary in sorted(manifest["tables"].items()):
            line = f"{table}: {summary['rows']:,} rows in {summary['files']} file(s)"
            if "defects" in summary:
                defects = ", ".join(f"{k}={v:,}" for k, v in sorted(summary["defects"].items()) if v)
                line += f"; defects: {defects or 'none'}"
            elif summary.get("missing_items"):
                line += f"; {summary['missing_items']:,} item(s) missing (lookup misses)"
            click.echo(line)
    rate = totals["event_rows"] / elapsed if elapsed > 0 else 0.0
    click.secho(
        f"wrote {totals['event_rows']:,} events ({totals['defect_rows']:,} defective, "
        f"{totals['defect_rate']:.2%}) to {out} in {elapsed:.2f}s ({rate:,.0f} events/s); "
        f"see {out / MANIFEST_NAME}",
        fg="green",
    )


def _fail(text: str) -> NoReturn:
    """One ``error: …`` line on stderr and exit 1: the format of every ``feature-platform`` error (this
    command lives below the CLI package, so it prints it itself)."""
    click.secho(f"error: {text}", fg="red", err=True)
    sys.exit(1)


def _debug() -> bool:
    """``feature-platform --debug demo-data …`` (or ``FP_DEBUG=1``): let an I/O error through with its traceback."""
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    return bool(root is not None and isinstance(root.obj, dict) and root.obj.get("debug")) or (
        os.environ.get("FP_DEBUG") == "1"
    )
