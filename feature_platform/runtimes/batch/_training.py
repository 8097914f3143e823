"""Point-in-time training sets: each labelled example's sequence as of its own timestamp.

For an example ``(u, t)`` on day ``D = date(t)`` (UTC) the candidates are

* the **base**: user ``u``'s rows of snapshot(D-1) when it is complete, of this artefact and current —
  it already holds everything of partitions ``<= D-1`` that can still matter at any instant ``>= D``
  (the argument that makes incremental snapshots exact) — else every complete events partition in
  ``[date(D - R), D-1]``;
* the **tail**: ``u``'s events of *every* complete partition ``p >= D`` with ``timestamp < D+1``
  (partition ``D`` itself and anything that arrived later but happened by the end of D: late events,
  however late).

Partitions ``<= D-1`` hold only events before ``D <= t``, so base + tail contains every event of the
events table that can be in ``u``'s window at ``t``; ``dedup_and_rank`` with ``as_of = t`` then applies the
window, de-duplication and truncation. The result equals the brute-force definition over all events
of the table, whatever their arrival day.

The examples are processed in chunks: one example day at a time, a day with more than
``max_examples_per_chunk`` examples split into ranges of its users (snapshots are sorted by user, so a
range decodes only its row groups of the base). Within a chunk the examples are reduced to distinct
``(user, t)`` keys, joined to their candidates on a slim frame (sort and dedup columns only), ranked in
one sorted pass, and only the kept rows are gathered into lists with their other fields (the wide
ones, e.g. embeddings, never go through the join or the sort). The chunks' sequences are put back in
the examples' order at the end. The snapshot of the day before is verified once per day (manifest,
current inputs, sha256 of the file) and decoded per chunk from those verified bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from typing import cast

import polars as pl
import pyarrow as pa
from polars.datatypes import IntegerType

from feature_platform._days import FIRST_DAY, LAST_DAY
from feature_platform.artefact.format import Artefact
from feature_platform.engine import POSITION, TIMESTAMP, dedup_and_rank, events_schema, parse_iso_timestamp
from feature_platform.errors import SourceDataError
from feature_platform.runtimes.batch._completeness import day_start, retention_first_day
from feature_platform.runtimes.batch._indexer import (
    EVENT_ID,
    EVENT_TYPE,
    artefact_hash,
    current_snapshot_bytes,
)
from feature_platform.runtimes.batch._indexer import TIMESTAMP as TS
from feature_platform.runtimes.batch._locations import EVENTS, TableLocations
from feature_platform.runtimes.batch._tables import FeatureTables, conform

SEQUENCE = "sequence"
SEQUENCE_LENGTH = "sequence_length"
_ROW = "__row"
_KEY = "__key"
_AS_OF = "__as_of"
_DAY = "__day"
_EVENT = "__event"


DEFAULT_MAX_EXAMPLES_PER_CHUNK = 150_000
"""Examples processed together at most (one example day, a range of its users): bounds the memory."""


def build_training_set(
    artefact: Artefact,
    examples: pl.DataFrame | pl.LazyFrame,
    locations: TableLocations,
    *,
    user_column: str = "user_id",
    time_column: str = "timestamp",
    max_examples_per_chunk: int = DEFAULT_MAX_EXAMPLES_PER_CHUNK,
) -> pl.DataFrame:
    """``examples`` with ``sequence`` (list of structs, most recent first) and ``sequence_length`` added.

    Every example column is carried through unchanged and the examples' order is kept. The sequence
    holds the events strictly before the example's timestamp, within the retention, de-duplicated and
    truncated to N — the snapshots' projection and order (see the module docstring for how).

    The examples are processed in chunks — one example day at a time, and a day with more than
    ``max_examples_per_chunk`` examples in ranges of its users — so that the working memory is
    bounded by the chunk, not by the whole example set (the output itself still has to fit). An
    example's sequence depends only on its own user and instant, so the result does not depend on
    the chunking.
    """
    if max_examples_per_chunk < 1:
        msg = f"max_examples_per_chunk must be at least 1, got {max_examples_per_chunk}"
        raise ValueError(msg)
    frame = examples.collect() if isinstance(examples, pl.LazyFrame) else examples
    for name in (SEQUENCE, SEQUENCE_LENGTH):
        if name in frame.columns:
            msg = f"the examples already have a '{name}' column; rename it (the training set adds it)"
            raise SourceDataError(msg)
    feature = artefact.feature
    user = feature.entity_key.name
    schema = events_schema(artefact)
    fields = [c for c in schema if c != user]
    keyed = _example_keys(frame, user_column, time_column, user, schema[user])

    tables = FeatureTables(feature.id, locations)
    if not tables.complete_days():
        msg = (
            f"feature {feature.id} has no indexed day at {locations.feature_root(feature.id)}; "
            "run batch-index for the days the examples need first"
        )
        raise SourceDataError(msg)
    list_type = pl.List(pl.Struct({name: schema[name] for name in fields}))
    if keyed.height == 0:
        return frame.with_columns(
            pl.lit(None, dtype=list_type).alias(SEQUENCE), pl.lit(None, dtype=pl.Int32).alias(SEQUENCE_LENGTH)
        )
    content_hash = artefact_hash(artefact)
    rows: list[pl.DataFrame] = []
    lists: list[pl.Series] = []
    offset = 0
    base_day: date | None = None
    base: bytes | None = None
    for day, chunk in _chunks(keyed, user, max_examples_per_chunk):
        if day != base_day:  # chunks come in day order: the base is read and verified once per day
            found = current_snapshot_bytes(artefact, tables, day - timedelta(days=1), content_hash)
            base = found[0] if found is not None else None
            base_day = day
        row_keys, key_lists = _chunk_sequences(artefact, tables, chunk, base, fields)
        rows.append(row_keys.with_columns(pl.col(_KEY) + offset))
        lists.append(key_lists)
        offset += key_lists.len()
    del base
    # One list per distinct (user, t) key of every chunk; each example row takes its key's list: the
    # wide output is copied once, straight into the examples' order (a gather straight from the
    # chunks; concatenating them first would cost one more copy).
    take = pl.concat(rows).sort(_ROW).get_column(_KEY)
    sequence = (lists[0] if len(lists) == 1 else pl.concat(lists, rechunk=False)).gather(take)
    del lists
    if sequence.dtype != list_type:  # pragma: no cover - the elements are conformed to the events schema
        sequence = sequence.cast(list_type)
    return frame.hstack([sequence.alias(SEQUENCE), sequence.list.len().cast(pl.Int32).alias(SEQUENCE_LENGTH)])


def _chunks(keyed: pl.DataFrame, user: str, limit: int) -> Iterator[tuple[date, pl.DataFrame]]:
    """The keyed examples of each day (in day order), a large day split into ranges of its users.

    A range holds at most ``limit`` examples unless one user alone has more (then that user's
    examples are one chunk). Ranges of users, not hashes: the snapshots are sorted by user, so a
    range reads only the row groups of its users.
    """
    by_day = keyed.sort(_DAY, maintain_order=True).partition_by(_DAY, maintain_order=True, as_dict=True)
    for (day,), examples in by_day.items():
        if examples.height <= limit:
            yield day, examples
            continue
        counts = examples.group_by(user).len().sort(user)
        ends = counts.get_column("len").cum_sum()
        # A user starts a new range when the examples before it fill up the current one.
        starts = (ends - counts.get_column("len")).to_list()
        ranges, filled = [], 0
        current = -1
        for begin, end in zip(starts, ends.to_list(), strict=True):
            if current < 0 or end - filled > limit:
                current += 1
                filled = begin
            ranges.append(current)
        assignment = counts.select(user, pl.Series("__range", ranges, dtype=pl.UInt32))
        tagged = examples.join(assignment, on=user, how="left", maintain_order="left")
        for (_,), part in tagged.partition_by("__range", maintain_order=True, as_dict=True).items():
            yield day, part.drop("__range")


def _chunk_sequences(
    artefact: Artefact, tables: FeatureTables, keyed: pl.DataFrame, base: bytes | None, fields: list[str]
) -> tuple[pl.DataFrame, pl.Series]:
    """The sequences of the examples of one chunk (one day, some of its users).

    ``(_ROW, _KEY)`` of each example and the list of each distinct ``(user, t)`` key ``0..K-1`` (an
    empty list when the key has no event), so that example ``_ROW``'s sequence is ``lists[_KEY]``.
    """
    feature = artefact.feature
    user = feature.entity_key.name
    keys = keyed.select(user, _AS_OF, _DAY).unique().sort([user, _AS_OF]).with_row_index(_KEY)
    candidates = _candidates(artefact, tables, keys, base).with_row_index(_EVENT)

    slim = [_EVENT, user, _DAY, TS, EVENT_ID, EVENT_TYPE, *(d for d in feature.dedup_by if d not in (user, TS))]
    joined = keys.lazy().join(candidates.lazy().select(list(dict.fromkeys(slim))), on=[user, _DAY], how="inner")
    kept = dedup_and_rank(joined, artefact, as_of=_AS_OF, keys=[_KEY]).select(_KEY, _EVENT, POSITION).collect()
    if not kept.get_column(_KEY).is_sorted():  # pragma: no cover - dedup_and_rank documents this order
        kept = kept.sort(_KEY, POSITION)
    elements = candidates[kept.get_column(_EVENT)].select(pl.struct(fields)).to_series()
    del candidates
    row_keys = keyed.select(_ROW, user, _AS_OF, _DAY).join(keys, on=[user, _AS_OF, _DAY], how="left")
    return row_keys.select(_ROW, _KEY), _lists(kept.get_column(_KEY), keys.height, elements)


def _lists(keys: pl.Series, count: int, elements: pl.Series) -> pl.Series:
    """The list of each key ``0..count-1`` (empty when absent), built from offsets without grouping.

    ``keys`` is sorted (then by position), so each key's elements are one contiguous run, in order.
    The elements go to Arrow and back without conversion (string views kept).
    """
    runs = keys.rle().struct.unnest()
    lengths = (
        pl.DataFrame({_KEY: pl.int_range(count, dtype=cast(IntegerType, keys.dtype), eager=True)})
        .join(runs.select(pl.col("value").alias(_KEY), "len"), on=_KEY, how="left", maintain_order="left")
        .get_column("len")
        .fill_null(0)
    )
    offsets = pa.array([0, *lengths.cum_sum().to_list()], type=pa.int64())
    values = elements.to_arrow(compat_level=pl.CompatLevel.newest())
    return pl.Series(SEQUENCE, pa.LargeListArray.from_arrays(offsets, values))


def _example_keys(
    frame: pl.DataFrame, user_column: str, time_column: str, user: str, user_dtype: pl.DataType
) -> pl.DataFrame:
    """Row number, user (the entity key's type), as-of instant (UTC) and its day, per example."""
    for name in (user_column, time_column):
        if name not in frame.columns:
            msg = f"the examples have no '{name}' column (columns: {', '.join(frame.columns) or 'none'})"
            raise SourceDataError(msg)
    given = frame.schema[user_column]
    if not (given.is_integer() or given.is_float() or given in (pl.String, pl.Null)):
        # a datetime, boolean or date casts to an integer without complaint (and then matches no user)
        msg = (
            f"the examples' user column '{user_column}' is {given}, not an integer or string user id "
            "(--user-column names the user id column)"
        )
        raise SourceDataError(msg)
    if given.is_float() and user_dtype.is_integer():  # a strict cast truncates 1000001.5
        fractional = frame.with_row_index(_ROW).filter(
            pl.col(user_column).is_finite() & (pl.col(user_column) != pl.col(user_column).floor())
        )
        if fractional.height:
            first = int(fractional.get_column(_ROW)[0])
            msg = (
                f"{fractional.height} example row(s) have a '{user_column}' with a fractional part, which the "
                f"feature's {user_dtype} entity key cannot hold (first: row {first}: {_row_text(frame, first)})"
            )
            raise SourceDataError(msg)
    try:
        keyed = frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW),
            pl.col(user_column).cast(user_dtype, strict=True).alias(user),
            _as_utc(pl.col(time_column), frame.schema[time_column], time_column).alias(_AS_OF),
        )
    except pl.exceptions.PolarsError as exc:
        unreadable = frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW),
            (pl.col(user_column).is_not_null() & pl.col(user_column).cast(user_dtype, strict=False).is_null()).alias(
                "bad"
            ),
        ).filter("bad")
        where = ""
        if unreadable.height:
            first = int(unreadable.get_column(_ROW)[0])
            where = f" (first: row {first}: {_row_text(frame, first)})"
        msg = (
            f"{unreadable.height or 'some'} example row(s) have a '{user_column}' that cannot be read as the "
            f"feature's {user_dtype} entity key{where}"
        )
        raise SourceDataError(msg) from exc
    bad = keyed.filter(pl.col(user).is_null() | pl.col(_AS_OF).is_null())
    if bad.height:
        first = int(bad.get_column(_ROW)[0])
        msg = (
            f"{bad.height} example row(s) have a null or unreadable '{user_column}' or '{time_column}' "
            f"(first: row {first}: {_row_text(frame, first)}); every example needs both"
        )
        raise SourceDataError(msg)
    keyed = keyed.with_columns(pl.col(_AS_OF).dt.date().alias(_DAY))
    outside = keyed.filter((pl.col(_DAY) < FIRST_DAY) | (pl.col(_DAY) > LAST_DAY))
    if outside.height:
        first = int(outside.get_column(_ROW)[0])
        msg = (
            f"{outside.height} example row(s) have a '{time_column}' outside the days the tables can hold, "
            f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()} (first: row {first}: {_row_text(frame, first)})"
        )
        raise SourceDataError(msg)
    return keyed


def _row_text(frame: pl.DataFrame, index: int) -> str:
    """One example row as its author wrote it (``user_id=abc, timestamp=2026-11-02T00:00:00+00:00``), not
    as Python reprs of datetimes and time zones."""
    values = frame.row(index, named=True)
    return ", ".join(
        f"{name}={value.isoformat() if hasattr(value, 'isoformat') else value}" for name, value in values.items()
    )


def _as_utc(column: pl.Expr, dtype: pl.DataType, name: str) -> pl.Expr:
    """An example time column as the engine's UTC timestamp (naive datetimes are UTC)."""
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return column.dt.replace_time_zone("UTC").cast(TIMESTAMP)
        return column.dt.convert_time_zone("UTC").cast(TIMESTAMP)
    if dtype == pl.Date:
        return column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").cast(TIMESTAMP)
    if dtype == pl.String:
        return parse_iso_timestamp(column)
    msg = f"example column '{name}' has type {dtype}; use a datetime, a date or ISO-8601 text"
    raise SourceDataError(msg)


def _candidates(artefact: Artefact, tables: FeatureTables, keys: pl.DataFrame, base: bytes | None) -> pl.DataFrame:
    """Base and tail events of the examples' users on their (single) day, in the events schema plus ``__day``.

    ``base`` is the bytes of the verified snapshot of the day before (see ``current_snapshot_bytes``), or
    None: then the base is the complete events partitions of the retention window before the day.
    """
    user = artefact.feature.entity_key.name
    schema = events_schema(artefact)
    days: list[date] = sorted(keys.get_column(_DAY).unique().to_list())
    if len(days) != 1:  # pragma: no cover - _chunks makes single-day chunks
        msg = f"a training-set chunk spans {len(days)} days"
        raise ValueError(msg)
    day = days[0]
    users = keys.select(user).unique()
    lowest, highest = users.get_column(user).min(), users.get_column(user).max()
    complete = tables.complete_days()

    if base is not None:
        frame = conform(pl.scan_parquet(io.BytesIO(base)), schema, where=f"snapshot of {day - timedelta(days=1)}")
        # Snapshots are sorted by user: the range filter skips the row groups of other users.
        frame = frame.filter(pl.col(user).is_between(lowest, highest))
    else:
        first = retention_first_day(day_start(day), artefact)
        older = [d for d in complete if first <= d < day]
        frame = tables.scan_days(EVENTS, older, schema)
    base_rows = frame.join(users.lazy(), on=user, how="semi").with_columns(pl.lit(day, dtype=pl.Date).alias(_DAY))

    oldest = day_start(day) - timedelta(seconds=artefact.feature.retention_seconds)
    ts = pl.col(TS)
    tail = (
        tables.scan_days(EVENTS, [d for d in complete if d >= day], schema)
        .filter((ts < pl.lit(day_start(day + timedelta(days=1)), dtype=TIMESTAMP)) & (ts >= oldest))
        .join(users.lazy(), on=user, how="semi")
        .with_columns(pl.lit(day, dtype=pl.Date).alias(_DAY))
    )
    return pl.concat([base_rows, tail], how="vertical").collect()
