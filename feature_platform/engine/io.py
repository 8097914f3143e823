"""Reading raw sources: day-partitioned event logs and lookup tables, local or on S3.

The framework owns IO; executors never open files. Layout (``batch.path`` relative to ``raw_root``,
or used as is when it is an ``s3://`` URL or an absolute local path)::

    <raw_root>/<batch.path>/<partition_key>=YYYY-MM-DD/*.parquet     events sources, one dir per day
    <raw_root>/<batch.path>/*.parquet                                 lookup tables

``raw_root`` may be a local directory or ``s3://bucket/prefix``; ``storage_options`` go to polars as
they are (e.g. ``{"aws_endpoint_url": ..., "aws_region": ..., "aws_allow_http": "true"}``).

Each day's schema is checked *before* any plan is built: a file missing a column the artefact
reads fails with :class:`SourceDataError` naming the column, the source, the day and the config
objects that read it; a column whose type cannot hold the declared type fails the same way. Declared
columns nobody reads may be absent (they become typed nulls). The frame has exactly the source's
declared columns, cast to their declared types, plus ``_ingest_day`` (Date) for events sources.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl
from polars._typing import PolarsDataType

from feature_platform.artefact.format import CompiledSource
from feature_platform.engine.dtypes import polars_schema
from feature_platform.engine.requirements import Requirements, check_columns
from feature_platform.engine.validation import INGEST_DAY
from feature_platform.errors import SourceDataError


@dataclass(frozen=True)
class SourceScan:
    """A lazily scanned source, and the requested days that had no partition (``allow_missing``)."""

    frame: pl.LazyFrame
    missing_days: tuple[date, ...] = ()


def table_root(source: CompiledSource, raw_root: str) -> str:
    """Where ``source``'s batch table lives."""
    if source.batch is None:
        msg = f"source '{source.name}' has no batch origin; it can only be read from its stream"
        raise SourceDataError(msg)
    path = source.batch.path
    if "://" in path or os.path.isabs(path):
        return path.rstrip("/")
    return f"{raw_root.rstrip('/')}/{path.strip('/')}"


def partition_glob(source: CompiledSource, raw_root: str, day: date) -> str:
    """The files of one day of an events source."""
    key = source.batch.partition_key if source.batch is not None else "dt"
    return f"{table_root(source, raw_root)}/{key}={day.isoformat()}/*.parquet"


def scan_source(
    source: CompiledSource,
    raw_root: str,
    days: Sequence[date] | None = None,
    storage_options: Mapping[str, str] | None = None,
    *,
    needed_by: Requirements | None = None,
    allow_missing: bool = False,
) -> SourceScan:
    """Scan ``source`` lazily: the given ``days`` of an events source, or the whole lookup table.

    ``needed_by`` (from :func:`~feature_platform.engine.requirements.required_columns`) names the
    columns that must be present and who reads them. A day with no partition raises
    :class:`SourceDataError` naming the source and every missing day, unless ``allow_missing``, in
    which case it is skipped and reported in :attr:`SourceScan.missing_days`.
    """
    needs: Requirements = needed_by or {}
    options = dict(storage_options) if storage_options is not None else None
    if source.kind == "lookup":
        pattern = f"{table_root(source, raw_root)}/*.parquet"
        scanned = _probe(pattern, options, source.name, "lookup table")
        if scanned is None:
            msg = f"lookup table of source '{source.name}' has no Parquet files at {pattern}"
            raise SourceDataError(msg)
        return SourceScan(_conform(*scanned, source, needs, where=pattern))

    if days is None:
        msg = f"source '{source.name}' is a day-partitioned event log; say which days to read"
        raise SourceDataError(msg)
    frames: list[pl.LazyFrame] = []
    missing: list[date] = []
    for day in sorted(set(days)):
        pattern = partition_glob(source, raw_root, day)
        scanned = _probe(pattern, options, source.name, f"day {day.isoformat()}")
        if scanned is None:
            missing.append(day)
            continue
        conformed = _conform(*scanned, source, needs, where=f"day {day.isoformat()}, {pattern}")
        frames.append(conformed.with_columns(pl.lit(day, dtype=pl.Date).alias(INGEST_DAY)))
    if missing and not allow_missing:
        listed = ", ".join(d.isoformat() for d in missing)
        msg = (
            f"source '{source.name}' has no partition for {len(missing)} requested day(s): {listed} "
            f"(expected files at {partition_glob(source, raw_root, missing[0])}); "
            "pass allow_missing=True to skip missing days"
        )
        raise SourceDataError(msg)
    if not frames:
        empty = pl.DataFrame(schema=polars_schema(source.columns)).with_columns(
            pl.lit(None, dtype=pl.Date).alias(INGEST_DAY)
        )
        return SourceScan(empty.lazy(), tuple(missing))
    return SourceScan(pl.concat(frames, how="vertical"), tuple(missing))


def _probe(
    pattern: str, options: dict[str, str] | None, source: str, what: str
) -> tuple[pl.LazyFrame, pl.Schema] | None:
    """Scan ``pattern`` and read its schema; ``None`` when no file matches."""
    frame = pl.scan_parquet(pattern, storage_options=options, hive_partitioning=False)
    try:
        schema = frame.collect_schema()
    except FileNotFoundError:
        return None
    except pl.exceptions.PolarsError as exc:
        text = str(exc).lower()
        if "expanded paths were empty" in text or "no such file" in text or "not found" in text:
            return None
        msg = f"cannot read source '{source}' ({what}) at {pattern}: {exc}"
        raise SourceDataError(msg) from exc
    return frame, schema


def _conform(
    frame: pl.LazyFrame, schema: pl.Schema, source: CompiledSource, needs: Requirements, *, where: str
) -> pl.LazyFrame:
    """Check ``schema`` against the artefact's needs and project ``frame`` to the declared columns."""
    check_columns(schema.names(), needs, source=source.name, where=where)
    declared = polars_schema(source.columns)
    for name, dtype in declared.items():
        if name in schema and not _compatible(schema[name], dtype):
            readers = f", read by {', '.join(needs[name])}" if name in needs else ""
            msg = (
                f"column '{name}' of source '{source.name}' ({where}) has type {schema[name]}, "
                f"which cannot hold the declared {dtype}{readers}"
            )
            raise SourceDataError(msg)
    return frame.select(
        pl.col(name).cast(dtype) if name in schema else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in declared.items()
    )


def _compatible(actual: PolarsDataType, declared: PolarsDataType) -> bool:
    """Whether values of type ``actual`` convert to ``declared`` without loss or failure."""
    if actual == declared:
        return True
    if isinstance(actual, pl.List) and isinstance(declared, pl.List):
        return _compatible(actual.inner, declared.inner)
    if actual.is_integer() and (declared.is_integer() or declared.is_float()):
        return True
    if actual.is_float() and declared.is_float():
        return True
    if isinstance(actual, pl.Datetime) and isinstance(declared, pl.Datetime):
        return True
    return actual == pl.Null
