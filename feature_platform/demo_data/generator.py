"""Write a complete demo data set: event tables per (day, chunk), lookup tables, and ``_demo_data.json``.

Layout under the output directory::

    engagement_events/dt=YYYY-MM-DD/part-00000.parquet   (part-00001... when a day exceeds chunk_rows)
    search_events/dt=YYYY-MM-DD/part-00000.parquet
    item_embeddings/part-00000.parquet                    (more parts past min(chunk_rows, 500k) items)
    item_categories/part-00000.parquet
    _demo_data.json                                       (parameters, per-day counts, defect counts)

Memory: ``workers`` chunks (at most ``chunk_rows`` rows each) are generated concurrently while at most
one previous chunk is being written by a background thread; per-entity state is a few arrays. Nothing
holds all events at once, so peak memory does not grow with the number of events.

Determinism: every chunk draws from its own counter-based stream keyed by (seed, table, day, chunk);
rows are written in a total order (arrival time, then generation order); Parquet settings are fixed;
``_demo_data.json`` has sorted keys and no wall-clock time. The same parameters give byte-identical
files (with the same polars version).

Tables are generated into a staging folder inside the output directory (``.demo_data.staging``, with
the manifest) and then swapped in, replacing a previous demo data set there; the staging folder is
removed only once the manifest is in place. A directory holding these tables *without*
``_demo_data.json`` is not ours and is refused rather than overwritten — unless the staging folder is
there too: then a run of this command failed or was killed while swapping in, and the next run takes
over. The output directory belongs to the run writing it (one run per ``--out`` at a time), so a run
removes whatever staging folder a failed or killed run left there before it starts; a failure (no space
left, permission denied) removes its own staging folder and never leaves a half-written file under a
final name.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from feature_platform.demo_data import vocab
from feature_platform.demo_data.config import DemoDataConfig, DemoDataError
from feature_platform.demo_data.events import CHUNK_GENERATORS, DAY_MS, ChunkSpec
from feature_platform.demo_data.population import (
    ITEM_ID_OFFSET,
    USER_ID_OFFSET,
    Population,
    build_population,
    item_categories_chunk,
    item_embeddings_chunk,
)
from feature_platform.demo_data.schema import (
    ALL_TABLES,
    ENGAGEMENT_EVENTS,
    ITEM_CATEGORIES,
    ITEM_EMBEDDINGS,
    PARTITION_KEY,
    SCHEMAS,
    SEARCH_EVENTS,
)
from feature_platform.errors import writing

MANIFEST_NAME = "_demo_data.json"
MANIFEST_FORMAT_VERSION = 1
LOOKUP_CHUNK_ROWS = 500_000
STAGING_NAME = ".demo_data.staging"
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "statistics": True,
    "row_group_size": 131_072,
}
"""Fixed Parquet writer settings (part of what makes the files byte-identical)."""

NOTES = (
    "Parquet is typed, so a 'wrong type' can only appear as a string that does not parse: search "
    "event_time holds a few unparseable values (including a bare epoch number where an ISO-8601 string "
    "is expected).",
    "Defects are exclusive per row: a row has at most one of late / null user_id / null id / bad timestamp "
    "/ duplicate / null pin_id. Duplicates are exact replays (same id and payload) of a clean row of the "
    "same part file, logged a few seconds later.",
    "Late events happened on day d and are written into day d+1's partition; the first day has none.",
    "Rows of a part file are in arrival order (late events arrive early in the day).",
    "Quirks are not defects: legacy clients log surface/device/country in other cases; some queries are "
    "typed with odd case, whitespace or punctuation, some are empty, blank or null; num_results and "
    "dwell_ms are sometimes null; a few items are missing from the lookup tables (lookup misses).",
)


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` proportionally to ``weights`` (largest remainder, ties to the lower index)."""
    weight_sum = sum(weights)
    quotas = [total * w / weight_sum for w in weights]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def split_evenly(total: int, max_part: int) -> list[int]:
    """Split ``total`` rows into as few parts of at most ``max_part`` as possible, sizes within one."""
    parts = max(1, -(-total // max_part))
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def day_of(config: DemoDataConfig, day: int) -> date:
    return config.start_date + timedelta(days=day)


def rows_per_day(config: DemoDataConfig) -> dict[str, list[int]]:
    """Rows of each event table on each day: a fixed share per table, a weekly pattern over days."""
    search_total = round(config.events * config.search_share)
    totals = {ENGAGEMENT_EVENTS: config.events - search_total, SEARCH_EVENTS: search_total}
    weights = [vocab.WEEKDAY_WEIGHTS[day_of(config, d).weekday()] for d in range(config.days)]
    return {table: allocate(total, weights) for table, total in totals.items()}


def plan_chunks(config: DemoDataConfig) -> list[ChunkSpec]:
    """Every event part file to write, in a fixed order."""
    specs: list[ChunkSpec] = []
    for table, per_day in rows_per_day(config).items():
        for day, rows in enumerate(per_day):
            day_start = datetime.combine(day_of(config, day), datetime.min.time(), tzinfo=UTC)
            day_start_ms = int(day_start.timestamp()) * 1000
            for chunk, chunk_rows in enumerate(split_evenly(rows, config.chunk_rows)):
                specs.append(ChunkSpec(table, day, chunk, chunk_rows, day_start_ms, day > 0))
    return specs


def partition_dir(root: Path, table: str, day: date) -> Path:
    return root / table / f"{PARTITION_KEY}={day.isoformat()}"


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def _write(frame: pl.DataFrame, path: Path) -> None:
    with writing(_final_path(path)):  # a full disk names the file (and so its day), not just the reason
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path, **PARQUET_OPTIONS)


def _final_path(staged: Path) -> Path:
    """The name ``staged`` (a file in the staging folder) will have once the data set is swapped in."""
    parts = staged.parts
    if STAGING_NAME not in parts:
        return staged
    at = parts.index(STAGING_NAME)
    return Path(*parts[:at], *parts[at + 1 :])


class _Writer:
    """Writes frames on one background thread, at most one write in flight (bounded memory)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-data-writer")
        self._pending: Future[None] | None = None

    def submit(self, frame: pl.DataFrame, path: Path) -> None:
        self.wait()
        self._pending = self._pool.submit(_write, frame, path)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _lookup_chunks(config: DemoDataConfig) -> Iterator[tuple[int, int, int]]:
    max_rows = min(config.chunk_rows, LOOKUP_CHUNK_ROWS)
    start = 0
    for index, rows in enumerate(split_evenly(config.items, max_rows)):
        yield index, start, rows
        start += rows


def _empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[table])


def _prepare_out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        msg = f"--out {out} exists and is not a directory"
        raise DemoDataError(msg)
    out.mkdir(parents=True, exist_ok=True)
    ours = [name for name in ALL_TABLES if (out / name).exists()]
    staging = out / STAGING_NAME
    if ours and not (out / MANIFEST_NAME).exists() and not staging.exists():
        msg = (f"{out} already holds {', '.join(ours)} but no {MANIFEST_NAME}: not a demo data set this "
               "command wrote, so it will not overwrite it; choose another --out")
        raise DemoDataError(msg)
    shutil.rmtree(staging, ignore_errors=True)  # left by a failed or killed run: this directory is ours
    (out / f".{MANIFEST_NAME}.tmp").unlink(missing_ok=True)  # what older versions staged the manifest as
    staging.mkdir()
    return staging


def _swap_in(staging: Path, out: Path, manifest: dict[str, Any]) -> None:
    """Move the staged tables and manifest into ``out``. The staging folder goes last, so a failure half
    way leaves it there and the next run knows the directory is ours (see the module docstring)."""
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / MANIFEST_NAME).unlink(missing_ok=True)
    for name in ALL_TABLES:
        shutil.rmtree(out / name, ignore_errors=True)
        os.replace(staging / name, out / name)
    os.replace(staging / MANIFEST_NAME, out / MANIFEST_NAME)
    shutil.rmtree(staging, ignore_errors=True)


_DEFECT_KEYS = {
    ENGAGEMENT_EVENTS: ("late_events", "null_user_id", "null_event_id", "out_of_range_timestamp",
                        "duplicate_events", "null_pin_id"),
    SEARCH_EVENTS: ("late_events", "null_user_id", "null_event_id", "unparseable_timestamp",
                    "duplicate_events"),
}
_QUIRK_KEYS = {
    ENGAGEMENT_EVENTS: ("legacy_client_rows", "null_dwell_ms", "rows_with_pin_missing_embedding",
                        "rows_with_pin_missing_category"),
    SEARCH_EVENTS: ("legacy_client_rows", "empty_query", "blank_query", "null_query", "null_num_results"),
}


def generate(config: DemoDataConfig, out: Path, progress: Callable[[str], None] | None = None,
             workers: int = DEFAULT_WORKERS) -> dict[str, Any]:
    """Generate the demo data set described by ``config`` into ``out``; returns the manifest written.

    ``workers`` chunks are generated concurrently (plus one being written); it changes speed and peak
    memory, never the output.
    """
    config.validate()
    if workers < 1:
        msg = f"workers must be at least 1 (got {workers})"
        raise DemoDataError(msg)
    staging = _prepare_out_dir(out)
    tables: dict[str, dict[str, Any]] = {}
    writer = _Writer()
    try:
        population = build_population(config)
        for table in (ITEM_EMBEDDINGS, ITEM_CATEGORIES):
            tables[table] = _write_lookup(config, population, table, staging, writer)
        tables.update(_write_events(config, population, staging, writer, progress, workers))
        writer.wait()
    except BaseException:
        writer.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    writer.close()
    manifest = _manifest(config, tables)
    try:
        _swap_in(staging, out, manifest)
    except BaseException:
        if not any((out / name).exists() for name in ALL_TABLES):  # nothing was swapped in yet
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _write_lookup(config: DemoDataConfig, population: Population, table: str, staging: Path,
                  writer: _Writer) -> dict[str, Any]:
    build = item_embeddings_chunk if table == ITEM_EMBEDDINGS else item_categories_chunk
    missing = population.missing_embedding if table == ITEM_EMBEDDINGS else population.missing_category
    rows = files = null_subcategory = 0
    for index, start, n in _lookup_chunks(config):
        frame = build(config, population, start, n).cast(SCHEMAS[table])  # type: ignore[arg-type]
        rows += frame.height
        files += 1
        if table == ITEM_CATEGORIES:
            null_subcategory += frame["subcategory"].null_count()
        writer.submit(frame, staging / table / part_name(index))
    summary: dict[str, Any] = {"rows": rows, "files": files, "missing_items": int(missing.sum())}
    if table == ITEM_CATEGORIES:
        summary["quirks"] = {"null_subcategory": null_subcategory}
    return summary


def _generate_chunk(config: DemoDataConfig, population: Population,
                    spec: ChunkSpec) -> tuple[pl.DataFrame, Counter[str]]:
    if spec.rows == 0:
        return _empty(spec.table), Counter()
    result = CHUNK_GENERATORS[spec.table](config.seed, spec, population, config.defects)
    return result.frame.cast(SCHEMAS[spec.table]), result.counts  # type: ignore[arg-type]


def _generated_chunks(config: DemoDataConfig, population: Population,
                      workers: int) -> Iterator[tuple[ChunkSpec, pl.DataFrame, Counter[str]]]:
    """Every chunk in plan order, generated by up to ``workers`` threads (the kernels release the GIL).

    At most ``workers`` chunks are in flight, so memory stays bounded. Chunks are independent (own RNG
    stream), so the number of workers does not change the output.
    """
    specs = plan_chunks(config)
    if workers <= 1:
        for spec in specs:
            yield (spec, *_generate_chunk(config, population, spec))
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-data-gen") as pool:
        pending: deque[tuple[ChunkSpec, Future[tuple[pl.DataFrame, Counter[str]]]]] = deque()
        for spec in specs:
            pending.append((spec, pool.submit(_generate_chunk, config, population, spec)))
            if len(pending) >= workers:
                done_spec, future = pending.popleft()
                yield (done_spec, *future.result())
        while pending:
            done_spec, future = pending.popleft()
            yield (done_spec, *future.result())


def _write_events(config: DemoDataConfig, population: Population, staging: Path, writer: _Writer,
                  progress: Callable[[str], None] | None, workers: int) -> dict[str, dict[str, Any]]:
    totals: dict[str, Counter[str]] = {table: Counter() for table in CHUNK_GENERATORS}
    partitions: dict[str, dict[str, dict[str, int]]] = {table: {} for table in CHUNK_GENERATORS}
    for spec, frame, counts in _generated_chunks(config, population, workers):
        day = day_of(config, spec.day)
        writer.submit(frame, partition_dir(staging, spec.table, day) / part_name(spec.chunk))
        totals[spec.table].update(counts)
        entry = partitions[spec.table].setdefault(day.isoformat(), {"rows": 0, "files": 0, "late_events": 0})
        entry["rows"] += frame.height
        entry["files"] += 1
        entry["late_events"] += counts["late_events"]
        if progress is not None:
            progress(f"{spec.table} {day.isoformat()} {part_name(spec.chunk)}: {frame.height:,} rows")
    summaries: dict[str, dict[str, Any]] = {}
    for table, counts in totals.items():
        rows = sum(p["rows"] for p in partitions[table].values())
        defects = {key: counts[key] for key in _DEFECT_KEYS[table]}
        details = {key: value for key, value in sorted(counts.items()) if "." in key}
        summaries[table] = {
            "rows": rows,
            "files": sum(p["files"] for p in partitions[table].values()),
            "partitions": partitions[table],
            "defects": defects,
            "defect_details": details,
            "defect_rows": sum(defects.values()),
            "defect_rate": round(sum(defects.values()) / rows, 6) if rows else 0.0,
            "quirks": {key: counts[key] for key in _QUIRK_KEYS[table]},
        }
    return summaries


def _manifest(config: DemoDataConfig, tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    event_rows = sum(tables[t]["rows"] for t in CHUNK_GENERATORS)
    defect_rows = sum(tables[t]["defect_rows"] for t in CHUNK_GENERATORS)
    end = day_of(config, config.days - 1)
    return {
        "generator": "feature_platform.demo_data",
        "format_version": MANIFEST_FORMAT_VERSION,
        "parameters": config.to_json(),
        "seed": config.seed,
        "days": [day_of(config, d).isoformat() for d in range(config.days)],
        "window": {"start": config.start_date.isoformat(), "end": end.isoformat(),
                   "start_ms": int(datetime.combine(config.start_date, datetime.min.time(), tzinfo=UTC)
                                   .timestamp()) * 1000,
                   "end_ms_exclusive": int(datetime.combine(end, datetime.min.time(), tzinfo=UTC)
                                           .timestamp()) * 1000 + DAY_MS},
        "ids": {"user_id": [USER_ID_OFFSET, USER_ID_OFFSET + config.users - 1],
                "item_id": [ITEM_ID_OFFSET, ITEM_ID_OFFSET + config.items - 1]},
        "layout": {
            ENGAGEMENT_EVENTS: f"{ENGAGEMENT_EVENTS}/{PARTITION_KEY}=YYYY-MM-DD/part-NNNNN.parquet",
            SEARCH_EVENTS: f"{SEARCH_EVENTS}/{PARTITION_KEY}=YYYY-MM-DD/part-NNNNN.parquet",
            ITEM_EMBEDDINGS: f"{ITEM_EMBEDDINGS}/part-NNNNN.parquet",
            ITEM_CATEGORIES: f"{ITEM_CATEGORIES}/part-NNNNN.parquet",
        },
        "tables": tables,
        "totals": {"event_rows": event_rows, "defect_rows": defect_rows,
                   "defect_rate": round(defect_rows / event_rows, 6) if event_rows else 0.0},
        "notes": list(NOTES),
    }
