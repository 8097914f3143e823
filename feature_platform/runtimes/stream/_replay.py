"""The producer: replay a raw Parquet partition into the event log, in arrival order.

Rows are read as they are in the files (file order is arrival order; nothing is validated or cast, so
malformed rows are replayed too) and each becomes one entry whose payload is the row as a JSON object.
The arrival time of entry ``i`` is ``D 00:00 UTC + i µs`` by default (``arrival="day"``): the entries
belong to arrival day D, as the batch path's partition D does, so the batch load of D covers exactly
them. ``arrival="now"`` stamps the wall clock instead (live traffic). ``rate`` paces the appends
(events per second); without it the partition is appended as fast as the log takes it.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import polars as pl

from feature_platform.artefact.format import CompiledSource
from feature_platform.engine import day_files, missing_day_message
from feature_platform.errors import SourceDataError
from feature_platform.runtimes.stream._indexer import day_start_us
from feature_platform.runtimes.stream._log import EventLog

CHUNK = 1_000


def stream_name(source: CompiledSource) -> str:
    if source.stream is None:
        msg = f"source '{source.name}' has no stream (sources.{source.name}.stream is not set in its config)"
        raise SourceDataError(msg)
    return source.stream.stream


def payloads(
    source: CompiledSource, raw_root: str, day: date, storage_options: dict[str, str] | None = None
) -> list[bytes]:
    """Each row of ``source``'s partition ``day`` as a JSON object, file by file in name order (files whose
    schemas drift are replayed as they are). No partition, or a file that is not Parquet: a
    :class:`SourceDataError` naming the source, the day and the folder or file."""
    if source.kind != "events":
        msg = (f"source '{source.name}' is a {source.kind} table, not a day-partitioned event log: only an events "
               "source has days to replay")
        raise SourceDataError(msg)
    files = day_files(source, raw_root, day, storage_options)
    if not files:
        raise SourceDataError(missing_day_message(source, raw_root, day, storage_options))
    rows: list[bytes] = []
    for path in files:
        try:
            frame = pl.read_parquet(path, storage_options=storage_options, hive_partitioning=False)
        except (pl.exceptions.PolarsError, OSError) as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            msg = (f"cannot replay source '{source.name}' day {day.isoformat()}: {path} is not a readable Parquet "
                   f"file ({text})")
            raise SourceDataError(msg) from exc
        if frame.height:
            encoded = frame.select(pl.struct(pl.all()).struct.json_encode()).to_series().to_list()
            rows.extend(s.encode() for s in encoded)
    return rows


def replay(
    log: EventLog,
    source: CompiledSource,
    raw_root: str,
    day: date,
    *,
    rate: float | None = None,
    offset: int = 0,
    limit: int | None = None,
    arrival: str = "day",
    storage_options: dict[str, str] | None = None,
) -> int:
    """Append rows ``offset .. offset+limit`` of ``source``'s partition ``day`` to its stream; return how many.

    A negative ``offset`` or ``limit`` is refused (a slice would count it from the end, and the entries would
    arrive before the day began)."""
    if offset < 0 or (limit is not None and limit < 0):
        msg = f"replay needs an offset and a limit of 0 or more (got offset={offset}, limit={limit})"
        raise SourceDataError(msg)
    stream = stream_name(source)  # a source without a stream is refused before its files are read
    rows = payloads(source, raw_root, day, storage_options)
    chosen = rows[offset : None if limit is None else offset + limit]
    base = day_start_us(day)
    started = time.monotonic()
    for start in range(0, len(chosen), CHUNK):
        chunk = chosen[start : start + CHUNK]
        if arrival == "now":
            now = int(datetime.now(UTC).timestamp() * 1_000_000)
            stamped = [(now, p) for p in chunk]
        else:
            stamped = [(base + offset + start + i, p) for i, p in enumerate(chunk)]
        log.append(stream, stamped)
        if rate:
            ahead = (start + len(chunk)) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    return len(chosen)
