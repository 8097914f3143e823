"""Reading raw sources: day-partitioned event logs and lookup tables, local or on S3.

The framework owns IO; executors never open files. Layout (``batch.path`` relative to ``raw_root``,
or used as is when it is an ``s3://`` URL or an absolute local path)::

    <raw_root>/<batch.path>/<partition_key>=YYYY-MM-DD/*.parquet     events sources, one dir per day
    <raw_root>/<batch.path>/*.parquet                                 lookup tables

Files whose names start with ``.`` or ``_`` are not data (hidden staging files of a writer still at
work, ``_SUCCESS`` markers) and are never read; anything else in a day folder (or a lookup table's folder)
that is not a regular ``*.parquet`` file is refused, naming it — the one rule of
:mod:`feature_platform.engine.partitions`. ``raw_root`` may be a local directory or
``s3://bucket/prefix``; ``storage_options`` go to polars as they are (e.g. ``{"aws_endpoint_url": ...,
"aws_region": ..., "aws_allow_http": "true"}``).

**Every file** of a day (or of a lookup table) is checked on its own *before* any plan is built — files
of one partition may come from different writers and their schemas may drift. What happens to each
kind of bad raw input:

=============================================  ============================================================
the file …                                     outcome
=============================================  ============================================================
is not Parquet, is truncated, cannot be read   :class:`SourceDataError` naming the file, source and day
                                               (a whole file cannot be rejected row by row)
lacks a column the artefact reads              :class:`SourceDataError` naming the file, column, source,
                                               day and the config objects that read it
lacks a column declared ``nullable=False``     :class:`SourceDataError` naming the file, column and day
has a column of a type that cannot hold the    :class:`SourceDataError` naming the file, column, both types
declared one (a string for an ``int64``, …)    and the day
has an integer column wider than declared      read; each row whose value does not fit is a **row
(``int64`` in the file, ``int32`` declared)    reject** with reason ``<column> out of range for <type>``
has a null in a ``nullable=False`` column      each such row is a **row reject** with reason
                                               ``null <column>``
=============================================  ============================================================

A row reject of the source's declared schema (a *contract breach*) is decided per row and per event
type exactly as the plan decides its own rejects (:mod:`feature_platform.engine.validation`): only
rows an event type selects are its rejects, each with exactly one reason, the first that applies —
``<column> out of range for <type>`` before the plan's reasons (a field computed from a value that does
not fit reads as a null: an overflowing ``user_id`` is not a ``null user_id``), ``null <column>`` after
them (a null already reported as ``null event_id`` / ``null user_id`` / … of a field computed from that
column is reported as that). :func:`split_rows` decides which rows break the declared schema and why (per file
here, per decoded micro-batch in the streaming indexer, through :class:`~feature_platform.engine.MicroBatchPlan`
``check_sources``); :func:`contract_rejects` builds their rejects from :attr:`SourceScan.breaches`. A row of a
lookup table that breaks its declared schema is not used: the events that would join it get a lookup
miss, as for a key the table lacks (a null key never matches anyway; a lookup row is not an event, so
it has no rejects table).

Declared columns nobody reads and that are nullable may be absent (they become typed nulls). The
frame has exactly the source's declared columns, cast to their declared types, plus ``_ingest_day``
(Date) for events sources.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl
from polars._typing import PolarsDataType

from feature_platform.artefact.expressions import ExprNode, ExprOp
from feature_platform.artefact.format import Artefact, CompiledSource
from feature_platform.engine.dtypes import polars_schema
from feature_platform.engine.executors import executor_for
from feature_platform.engine.partitions import FILE, FOLDER, OTHER, RawDays, check_day_folder, list_raw_days
from feature_platform.engine.requirements import Requirements, check_columns
from feature_platform.engine.validation import (
    INGEST_DAY,
    REASON_SEPARATOR,
    REJECTS_SCHEMA,
    null_column_reason,
    out_of_range_reason,
    reason_expr,
)
from feature_platform.errors import SourceDataError, StoreError
from feature_platform.storage import S3Connection, open_storage

SOURCE_REASON = "__fp_source_reason"
"""Column of :attr:`SourceScan.breaches`: the source reasons of the row, joined by ``"; "``."""
RAW_JSON = "__fp_raw"
"""Column of :attr:`SourceScan.breaches`: the raw row as JSON (an out-of-range value as it was read)."""
SOURCE_FILE = "__fp_file"
"""Column of :attr:`SourceScan.breaches`: the file the row was read from."""

_RANGE_REASON = "__fp_range_reason"
_NULL_FLAG = "__fp_null_"
_TS_INPUTS_NULL = "__fp_timestamp_inputs_null"
_PLAN_REASON = "__fp_plan_reason"

_INT_RANGES: dict[PolarsDataType, tuple[int, int]] = {
    pl.Int8: (-(2**7), 2**7 - 1),
    pl.Int16: (-(2**15), 2**15 - 1),
    pl.Int32: (-(2**31), 2**31 - 1),
    pl.Int64: (-(2**63), 2**63 - 1),
    pl.Int128: (-(2**127), 2**127 - 1),
    pl.UInt8: (0, 2**8 - 1),
    pl.UInt16: (0, 2**16 - 1),
    pl.UInt32: (0, 2**32 - 1),
    pl.UInt64: (0, 2**64 - 1),
}


@dataclass(frozen=True)
class SourceScan:
    """A lazily scanned source, and the requested days that had no partition (``allow_missing``).

    ``frame`` holds the rows that keep the source's declared schema; ``breaches`` the rows that break
    it (a null in a ``nullable=False`` column, an integer out of its declared type's range): the
    declared columns, ``_ingest_day`` for events sources, and :data:`SOURCE_REASON`, :data:`RAW_JSON`,
    :data:`SOURCE_FILE`. Turn them into rejects with :func:`contract_rejects`.
    """

    frame: pl.LazyFrame
    missing_days: tuple[date, ...] = ()
    breaches: pl.LazyFrame | None = None
    files: tuple[str, ...] = ()


def table_root(source: CompiledSource, raw_root: str) -> str:
    """Where ``source``'s batch table lives."""
    if source.batch is None:
        msg = f"source '{source.name}' has no batch origin; it can only be read from its stream"
        raise SourceDataError(msg)
    path = source.batch.path
    if "://" in path or os.path.isabs(path):
        return path.rstrip("/")
    return f"{raw_root.rstrip('/')}/{path.strip('/')}"


def partition_dir(source: CompiledSource, raw_root: str, day: date) -> str:
    """The directory of one day of an events source."""
    key = source.batch.partition_key if source.batch is not None else "dt"
    return f"{table_root(source, raw_root)}/{key}={day.isoformat()}"


def partition_glob(source: CompiledSource, raw_root: str, day: date) -> str:
    """The files of one day of an events source."""
    return f"{partition_dir(source, raw_root, day)}/*.parquet"


def day_files(
    source: CompiledSource, raw_root: str, day: date, storage_options: Mapping[str, str] | None = None
) -> list[str]:
    """The data files of one day of an events source, sorted (empty when the day has no partition)."""
    options = dict(storage_options) if storage_options is not None else None
    try:
        return _list_parquet(partition_dir(source, raw_root, day), options)
    except SourceDataError as exc:
        msg = f"source '{source.name}', day {day.isoformat()}: {exc}"
        raise SourceDataError(msg) from exc


def source_days(source: CompiledSource, raw_root: str, storage_options: Mapping[str, str] | None = None) -> RawDays:
    """The day partitions of an events source (:func:`~feature_platform.engine.partitions.list_raw_days`)."""
    root = table_root(source, raw_root)
    key = source.batch.partition_key if source.batch is not None else "dt"
    storage = open_storage(root, S3Connection.from_polars_options(storage_options), what="raw source")
    return list_raw_days(storage, key, source=source.name, root=root)


def missing_day_message(source: CompiledSource, raw_root: str, day: date, storage_options: Mapping[str, str] | None
                        = None) -> str:
    """``source 'S' has no raw partition for D (no Parquet file in <folder>/); days with data nearest to it: …``:
    names the source, the day, where it looked and, from one listing, the days that do exist."""
    where = f"no Parquet file in {partition_dir(source, raw_root, day)}/"
    try:
        listed = source_days(source, raw_root, storage_options)
    except SourceDataError as exc:  # the folder's own damage says more than the missing day
        return f"source '{source.name}' has no readable raw partition for {day.isoformat()} ({where}); {exc}"
    near = listed.nearest(day)
    if near:
        found = f"days with data nearest to it: {', '.join(d.isoformat() for d in near)}"
    else:
        found = f"the source has no day with data under {listed.root}/"
    return f"source '{source.name}' has no raw partition for {day.isoformat()} ({where}); {found}"


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
    which case it is skipped and reported in :attr:`SourceScan.missing_days`. Every file is checked
    on its own (see the module docstring).
    """
    needs: Requirements = needed_by or {}
    options = dict(storage_options) if storage_options is not None else None
    if source.kind == "lookup":
        root = table_root(source, raw_root)
        try:
            files = _list_parquet(root, options)
        except SourceDataError as exc:
            msg = f"lookup table of source '{source.name}': {exc}"
            raise SourceDataError(msg) from exc
        if not files:
            msg = f"lookup table of source '{source.name}' has no Parquet files at {root}/*.parquet"
            raise SourceDataError(msg)
        good, bad = _read_files(files, options, source, needs, what="lookup table")
        return SourceScan(good, breaches=bad, files=tuple(files))

    if days is None:
        msg = f"source '{source.name}' is a day-partitioned event log; say which days to read"
        raise SourceDataError(msg)
    goods: list[pl.LazyFrame] = []
    bads: list[pl.LazyFrame] = []
    every: list[str] = []
    missing: list[date] = []
    for day in sorted(set(days)):
        files = day_files(source, raw_root, day, options)
        if not files:
            missing.append(day)
            continue
        good, bad = _read_files(files, options, source, needs, what=f"day {day.isoformat()}")
        stamp = pl.lit(day, dtype=pl.Date).alias(INGEST_DAY)
        goods.append(good.with_columns(stamp))
        bads.append(bad.with_columns(stamp))
        every.extend(files)
    if missing and not allow_missing:
        listed = ", ".join(d.isoformat() for d in missing)
        msg = (
            f"source '{source.name}' has no partition for {len(missing)} requested day(s): {listed} "
            f"(expected files at {partition_glob(source, raw_root, missing[0])}); "
            "pass allow_missing=True to skip missing days"
        )
        raise SourceDataError(msg)
    if not goods:
        empty = pl.DataFrame(schema=polars_schema(source.columns)).with_columns(
            pl.lit(None, dtype=pl.Date).alias(INGEST_DAY)
        )
        return SourceScan(empty.lazy(), tuple(missing), _empty_breaches(source, with_day=True))
    return SourceScan(pl.concat(goods, how="vertical"), tuple(missing), pl.concat(bads, how="vertical"), tuple(every))


def contract_rejects(
    artefact: Artefact,
    breaches: Mapping[str, pl.LazyFrame],
    *,
    max_event_time: datetime | None = None,
) -> pl.LazyFrame:
    """The rejects (``REJECTS_SCHEMA`` + ``_ingest_day``) of the rows that break their source's schema.

    ``breaches`` maps an events source to :attr:`SourceScan.breaches`. Per event type of the feature,
    the rows it selects are rejects with the plan's own reasons (the same expressions, the same
    ``max_event_time``) and the source's, one per row: the first that applies (see the module docstring);
    the raw JSON is the row as read, so an out-of-range value is kept.
    """
    user = artefact.feature.entity_key.name
    parts: list[pl.LazyFrame] = []
    for name in artefact.feature.event_types:
        executor = executor_for(artefact, name)
        compiled = executor.event_type
        rows = breaches.get(compiled.source)
        if rows is None:
            continue
        selection = executor.selection()
        if selection is not None:
            rows = rows.filter(selection)
        fields = {f.name: f for f in compiled.fields}
        declared = {c.name: c for c in artefact.sources[compiled.source].columns}
        ts_inputs = sorted(fields["timestamp"].expr.columns()) if "timestamp" in fields else []
        # as the plan does (a row with a value out of range never gets to the plan's reasons: see below)
        ts_inputs_null = pl.all_horizontal([pl.col(c).is_null() for c in ts_inputs if c in declared] or [pl.lit(True)])
        normalised = rows.select(
            *executor.mapping(),
            pl.col(SOURCE_REASON),
            pl.col(RAW_JSON),
            pl.col(INGEST_DAY),
            ts_inputs_null.alias(_TS_INPUTS_NULL),
            pl.col(_RANGE_REASON),
            *(pl.col(f"{_NULL_FLAG}{c}") for c in _non_nullable(artefact.sources[compiled.source])),
        )
        plan_reason = reason_expr(
            event_id="event_id",
            user_id=user,
            timestamp="timestamp",
            timestamp_inputs_null=pl.col(_TS_INPUTS_NULL),
            max_event_time=max_event_time,
        ).alias(_PLAN_REASON)
        checked = normalised.with_columns(plan_reason)
        # exactly one reason per row, the first that applies (the order of engine.validation): a value out of
        # its declared range first — every field computed from it reads as a null, and an overflowing user_id
        # is not a "null user_id" — then the plan's own, then a null in a nullable=False column
        first_range = pl.col(_RANGE_REASON).str.split(REASON_SEPARATOR).list.first()
        null_columns = [
            pl.when(pl.col(f"{_NULL_FLAG}{column}")).then(pl.lit(null_column_reason(column)))
            for column in _non_nullable(artefact.sources[compiled.source])
        ]
        first = pl.coalesce([first_range, pl.col(_PLAN_REASON), *null_columns])
        parts.append(
            checked.select(
                pl.lit(compiled.name, dtype=pl.String).alias("event_type"),
                pl.lit(compiled.source, dtype=pl.String).alias("source"),
                first.alias("reason"),
                pl.col("event_id").cast(pl.String).alias("event_id"),
                pl.col(user).cast(pl.String).alias("user_id"),
                pl.col(RAW_JSON).alias("raw"),
                pl.col(INGEST_DAY),
            ).filter(pl.col("reason").is_not_null())
        )
    if not parts:
        return pl.DataFrame(schema={**dict(REJECTS_SCHEMA), INGEST_DAY: pl.Date()}).lazy()
    return pl.concat(parts, how="vertical")


# -- files ----------------------------------------------------------------------------------------------


def _list_parquet(directory: str, options: dict[str, str] | None) -> list[str]:
    """The data files directly in ``directory``, sorted by name (empty when there is none or no folder).

    An entry that is neither hidden nor a Parquet file (a folder named ``part-x.parquet``, a ``README``)
    is refused, naming it (the rule of :mod:`feature_platform.engine.partitions`): its rows would otherwise
    be silently left out."""
    if directory.startswith("s3://"):
        return _list_s3(directory, options or {})
    if "://" in directory:  # another object store: let polars expand the glob, as one input
        pattern = f"{directory}/*.parquet"
        try:
            pl.scan_parquet(pattern, storage_options=options, hive_partitioning=False).collect_schema()
        except FileNotFoundError:
            return []
        except pl.exceptions.PolarsError as exc:
            text = str(exc).lower()
            if "expanded paths were empty" in text or "no such file" in text or "not found" in text:
                return []
        return [pattern]
    try:
        with os.scandir(directory) as entries:
            found = {entry.name: _kind(entry) for entry in entries}
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        msg = f"cannot list {directory}: {exc.strerror or exc}"
        raise SourceDataError(msg) from exc
    return [str(Path(directory) / name) for name in check_day_folder(directory, found)]


def _kind(entry: os.DirEntry[str]) -> str:
    """A folder, a regular file, or anything else (a pipe, a device, a link to nothing: never opened)."""
    try:
        if entry.is_dir():
            return FOLDER
        return FILE if entry.is_file() else OTHER
    except OSError:
        return OTHER


def _list_s3(directory: str, options: Mapping[str, str]) -> list[str]:
    """The data files directly under an ``s3://`` prefix, through the storage layer's S3 client."""
    try:
        storage = open_storage(directory, S3Connection.from_polars_options(options), what="raw source")
        listing = storage.list_folder("")
    except StoreError as exc:
        msg = f"cannot list {directory}: {exc}"
        raise SourceDataError(msg) from exc
    found = {**dict.fromkeys(listing.files, FILE), **dict.fromkeys(listing.folders, FOLDER)}
    return [f"{directory.rstrip('/')}/{name}" for name in check_day_folder(directory.rstrip("/"), found)]


def _read_files(
    files: Sequence[str], options: dict[str, str] | None, source: CompiledSource, needs: Requirements, *, what: str
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The rows of ``files`` that keep ``source``'s declared schema, and those that break it."""
    goods: list[pl.LazyFrame] = []
    bads: list[pl.LazyFrame] = []
    for path in files:
        frame = pl.scan_parquet(path, storage_options=options, hive_partitioning=False)
        where = f"{what}, file {path}"
        try:
            schema = frame.collect_schema()
        except (pl.exceptions.PolarsError, OSError) as exc:
            msg = f"cannot read source '{source.name}' ({where}): not a readable Parquet file ({_first_line(exc)})"
            raise SourceDataError(msg) from exc
        good, bad = _conform(frame, schema, source, needs, where=where, path=path)
        goods.append(good)
        bads.append(bad)
    return pl.concat(goods, how="vertical"), pl.concat(bads, how="vertical")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _conform(
    frame: pl.LazyFrame,
    schema: pl.Schema,
    source: CompiledSource,
    needs: Requirements,
    *,
    where: str,
    path: str,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Check one file's ``schema`` against the source and project ``frame`` to the declared columns.

    Returns the rows that keep the declared schema and those that break it (with their reasons).
    """
    check_columns(schema.names(), needs, source=source.name, where=where)
    declared = polars_schema(source.columns)
    absent = [c.name for c in source.columns if not c.nullable and c.name not in schema]
    if absent:
        listed = ", ".join(f"'{name}'" for name in absent)
        msg = (
            f"source '{source.name}' ({where}) has no column {listed}, declared nullable=False; "
            f"columns present: {', '.join(sorted(schema.names())) or 'none'}"
        )
        raise SourceDataError(msg)
    for name, dtype in declared.items():
        if name in schema and not _compatible(schema[name], dtype):
            readers = f", read by {', '.join(needs[name])}" if name in needs else ""
            msg = (
                f"column '{name}' of source '{source.name}' ({where}) has type {schema[name]}, "
                f"which cannot hold the declared {dtype}{readers}"
            )
            raise SourceDataError(msg)
    if INGEST_DAY in schema:  # the framework's column, stamped by the caller: never read from a file
        frame = frame.drop(INGEST_DAY)
        schema = pl.Schema({n: t for n, t in schema.items() if n != INGEST_DAY})
    return split_rows(frame, schema, source, file=path)


def split_rows(
    frame: pl.LazyFrame,
    schema: pl.Schema,
    source: CompiledSource,
    *,
    carry: Sequence[str] = (),
    file: str | None = None,
    reported_nulls: Collection[str] = (),
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Split raw rows *as read* into those that keep ``source``'s declared schema and those that break it.

    ``frame`` (of ``schema``) holds the source's declared columns as read — integers may be of a wider
    type than declared (see :func:`wide_schema`); an absent nullable column becomes a typed null — plus
    the columns named in ``carry`` (e.g. the streaming indexer's entry id) and ``_ingest_day`` if present.
    The first frame has the declared columns cast to their declared types, then ``carry`` and
    ``_ingest_day``; the second is in the form of :attr:`SourceScan.breaches` (plus ``carry``, which also
    ends each row's :data:`RAW_JSON`, after the declared columns), for :func:`contract_rejects`. The one
    definition of a row's source reasons (``null <column>``, ``<column> out of range for <type>``) for
    the batch reader (per file) and the streaming indexer (per micro-batch).

    ``reported_nulls`` (see :func:`reported_null_columns`): ``nullable=False`` columns whose null alone
    does not make a row break the schema, because the plan rejects such a row itself with exactly the
    reasons :func:`contract_rejects` would give it.
    """
    declared = polars_schema(source.columns)
    columns: list[pl.Expr] = []
    raw: list[pl.Expr] = []
    nulls: list[pl.Expr] = []
    ranges: list[pl.Expr] = []
    overflows: list[pl.Expr] = []
    by_name = {c.name: c for c in source.columns}
    for name, dtype in declared.items():
        if name not in schema:
            typed_null = pl.lit(None, dtype=dtype).alias(name)
            columns.append(typed_null)
            raw.append(typed_null)
            continue
        actual = schema[name]
        if not by_name[name].nullable:
            nulls.append(pl.col(name).is_null().alias(f"{_NULL_FLAG}{name}"))
        overflow = _out_of_range(pl.col(name), actual, dtype)
        if overflow is None:
            columns.append(pl.col(name).cast(dtype))
            raw.append(pl.col(name).cast(dtype))
        else:
            overflows.append(overflow.fill_null(False))
            ranges.append(pl.when(overflows[-1]).then(pl.lit(out_of_range_reason(name, by_name[name]))))
            columns.append(pl.col(name).cast(dtype, strict=False))
            raw.append(pl.col(name))  # as read: the value that does not fit is kept in the reject
    carried = [pl.col(c) for c in carry]
    day = [pl.col(INGEST_DAY)] if INGEST_DAY in schema else []

    def joined(parts: list[pl.Expr]) -> pl.Expr:
        if not parts:
            return pl.lit(None, dtype=pl.String)
        text = pl.concat_str(parts, separator=REASON_SEPARATOR, ignore_nulls=True)
        return pl.when(text != "").then(text)

    null_reasons = [
        pl.when(pl.col(c.name).is_null()).then(pl.lit(null_column_reason(c.name)))
        for c in source.columns
        if not c.nullable
    ]
    # which rows break the schema is decided with boolean checks over every row; the reason strings are
    # built for those rows only (the good rows are almost all of them)
    breaks = [pl.col(c.name).is_null() for c in source.columns if not c.nullable and c.name not in reported_nulls]
    breaks += overflows
    is_bad = pl.any_horizontal(breaks) if breaks else pl.lit(False)
    good = (frame.filter(~is_bad) if breaks else frame).select(*columns, *carried, *day)
    checked = frame.filter(is_bad).with_columns(
        joined(null_reasons + ranges).alias(SOURCE_REASON), joined(ranges).alias(_RANGE_REASON)
    )
    bad = checked.select(
        *columns,
        *carried,
        *day,
        pl.col(SOURCE_REASON),
        pl.col(_RANGE_REASON),
        *nulls,
        pl.struct(raw + carried).struct.json_encode().alias(RAW_JSON),
        pl.lit(file, dtype=pl.String).alias(SOURCE_FILE),
    )
    return good, bad


def wide_schema(source: CompiledSource) -> pl.Schema:
    """``source``'s declared schema with every integer type (also inside lists) widened to ``Int128``:
    read with it, a value that does not fit its declared type is kept, for :func:`split_rows` to reject
    as out of range, instead of failing the read or becoming a null."""
    return pl.Schema({name: _widened(dtype) for name, dtype in polars_schema(source.columns).items()})


def breaks_rows(schema: pl.Schema, source: CompiledSource, *, reported_nulls: Collection[str] = ()) -> bool:
    """Whether :func:`split_rows` can find a row of ``schema`` that breaks ``source``'s declared schema
    (``False``: every row is kept, the second frame is always empty)."""
    declared = polars_schema(source.columns)
    if any(not c.nullable and c.name not in reported_nulls for c in source.columns):
        return True
    return any(
        _out_of_range(pl.col(name), schema[name], dtype) is not None
        for name, dtype in declared.items()
        if name in schema
    )


def reported_null_columns(artefact: Artefact, source_name: str) -> frozenset[str]:
    """The ``nullable=False`` columns of ``source_name`` whose null the feature's plan always reports itself
    as :func:`contract_rejects` would: for every event type of the feature reading the source, the
    ``event_id``, entity key or ``timestamp`` field is the column itself (possibly cast), so a null there
    is a null key field (``null event_id``, …) and ``null <column>`` is never added to it."""
    source = artefact.sources[source_name]
    user = artefact.feature.entity_key.name
    names = [n for n in artefact.feature.event_types if artefact.event_types[n].source == source_name]
    found: set[str] = set()
    for column in _non_nullable(source):
        covered = bool(names)
        for name in names:
            fields = {f.name: f for f in artefact.event_types[name].fields}
            keys = (fields.get(k) for k in ("event_id", user, "timestamp"))
            if not any(f is not None and _column_itself(f.expr) == column for f in keys):
                covered = False
                break
        if covered:
            found.add(column)
    return frozenset(found)


def _column_itself(node: ExprNode) -> str | None:
    """The column ``node`` is, through casts (null exactly when the column is); else ``None``."""
    while node.op is ExprOp.CAST and len(node.args) == 1:
        node = node.args[0]
    return node.name if node.op is ExprOp.COL else None


def _widened(dtype: PolarsDataType) -> PolarsDataType:
    if isinstance(dtype, pl.List):
        return pl.List(_widened(dtype.inner))
    return pl.Int128() if dtype.is_integer() else dtype


def _out_of_range(column: pl.Expr, actual: PolarsDataType, declared: PolarsDataType) -> pl.Expr | None:
    """True where an integer (or list of integers) of type ``actual`` does not fit ``declared``;
    ``None`` when every value of ``actual`` fits."""
    if isinstance(actual, pl.List) and isinstance(declared, pl.List):
        inner = _out_of_range(pl.element(), actual.inner, declared.inner)
        if inner is None:
            return None
        return column.list.eval(inner).list.any()
    if not (actual.is_integer() and declared.is_integer()):
        return None
    have_lo, have_hi = _INT_RANGES[actual.base_type()]
    lo, hi = _INT_RANGES[declared.base_type()]
    checks = []
    if have_lo < lo:
        checks.append(column < lo)
    if have_hi > hi:
        checks.append(column > hi)
    if not checks:
        return None
    return pl.any_horizontal(checks)


def _compatible(actual: PolarsDataType, declared: PolarsDataType) -> bool:
    """Whether values of type ``actual`` convert to ``declared`` (integers too wide are checked per row)."""
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


def _non_nullable(source: CompiledSource) -> list[str]:
    return [c.name for c in source.columns if not c.nullable]


def _empty_breaches(source: CompiledSource, *, with_day: bool) -> pl.LazyFrame:
    schema = dict(polars_schema(source.columns))
    if with_day:
        schema[INGEST_DAY] = pl.Date()
    schema.update({SOURCE_REASON: pl.String(), _RANGE_REASON: pl.String()})
    schema.update({f"{_NULL_FLAG}{name}": pl.Boolean() for name in _non_nullable(source)})
    schema.update({RAW_JSON: pl.String(), SOURCE_FILE: pl.String()})
    return pl.DataFrame(schema=schema).lazy()


__all__ = [
    "RAW_JSON",
    "SOURCE_FILE",
    "SOURCE_REASON",
    "SourceScan",
    "breaks_rows",
    "contract_rejects",
    "day_files",
    "missing_day_message",
    "partition_dir",
    "partition_glob",
    "reported_null_columns",
    "scan_source",
    "source_days",
    "split_rows",
    "table_root",
    "wide_schema",
]
