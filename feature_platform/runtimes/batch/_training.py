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

All examples are processed together: the examples are reduced to distinct ``(user, t)`` keys, joined
to the candidates of their ``(user, D)`` on a slim frame (sort and dedup columns only), ranked in one
sorted pass, and only the kept rows are joined back to their fields and gathered into lists.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pyarrow as pa

from feature_platform.artefact.format import Artefact
from feature_platform.engine import POSITION, TIMESTAMP, dedup_and_rank, events_schema, parse_iso_timestamp
from feature_platform.errors import SourceDataError
from feature_platform.runtimes.batch._indexer import (
    EVENT_ID,
    EVENT_TYPE,
    artefact_hash,
    day_start,
    retention_first_day,
    usable_snapshot,
)
from feature_platform.runtimes.batch._indexer import TIMESTAMP as TS
from feature_platform.runtimes.batch._locations import EVENTS, PARTITION_KEY, TableLocations
from feature_platform.runtimes.batch._tables import FeatureTables, conform

SEQUENCE = "sequence"
SEQUENCE_LENGTH = "sequence_length"
_ROW = "__row"
_KEY = "__key"
_AS_OF = "__as_of"
_DAY = "__day"
_EVENT = "__event"


def build_training_set(
    artefact: Artefact,
    examples: pl.DataFrame | pl.LazyFrame,
    locations: TableLocations,
    *,
    user_column: str = "user_id",
    time_column: str = "timestamp",
) -> pl.DataFrame:
    """``examples`` with ``sequence`` (list of structs, most recent first) and ``sequence_length`` added.

    Every example column is carried through unchanged and the examples' order is kept. The sequence
    holds the events strictly before the example's timestamp, within the retention, de-duplicated and
    truncated to N — the snapshots' projection and order (see the module docstring for how).
    """
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
    keys = keyed.select(user, _AS_OF, _DAY).unique().sort([user, _AS_OF]).with_row_index(_KEY)

    tables = FeatureTables(feature.id, locations)
    if not tables.complete_days():
        msg = (
            f"feature {feature.id} has no indexed day at {locations.feature_root(feature.id)}; "
            "run batch-index for the days the examples need first"
        )
        raise SourceDataError(msg)
    list_type = pl.List(pl.Struct({name: schema[name] for name in fields}))
    if keys.height == 0:
        return frame.with_columns(
            pl.lit(None, dtype=list_type).alias(SEQUENCE), pl.lit(None, dtype=pl.Int32).alias(SEQUENCE_LENGTH)
        )
    candidates = _candidates(artefact, tables, keys).with_row_index(_EVENT)

    slim = [_EVENT, user, _DAY, TS, EVENT_ID, EVENT_TYPE, *(d for d in feature.dedup_by if d not in (user, TS))]
    joined = keys.lazy().join(candidates.lazy().select(list(dict.fromkeys(slim))), on=[user, _DAY], how="inner")
    kept = dedup_and_rank(joined, artefact, as_of=_AS_OF, keys=[_KEY]).select(_KEY, _EVENT, POSITION).collect()
    if not kept.get_column(_KEY).is_sorted():  # pragma: no cover - dedup_and_rank documents this order
        kept = kept.sort(_KEY, POSITION)
    elements = candidates[kept.get_column(_EVENT)].select(pl.struct(fields)).to_series()
    sequences = _lists(kept.get_column(_KEY), elements)
    per_row = (
        keyed.join(keys, on=[user, _AS_OF, _DAY], how="left")
        .join(sequences, on=_KEY, how="left")
        .sort(_ROW)
        .select(pl.col(SEQUENCE).fill_null(pl.lit([], dtype=list_type)).cast(list_type))
        .with_columns(pl.col(SEQUENCE).list.len().cast(pl.Int32).alias(SEQUENCE_LENGTH))
    )
    return frame.hstack(per_row)


def _lists(keys: pl.Series, elements: pl.Series) -> pl.DataFrame:
    """One list per run of equal ``keys`` (``_KEY``, ``sequence``), built from offsets without grouping.

    ``keys`` is sorted (then by position), so each key's elements are one contiguous run, in order.
    """
    runs = keys.rle().struct.unnest()
    offsets = pa.array([0, *runs.get_column("len").cum_sum().to_list()], type=pa.int64())
    lists = pa.LargeListArray.from_arrays(offsets, elements.to_arrow())
    return pl.DataFrame({_KEY: runs.get_column("value"), SEQUENCE: pl.Series(SEQUENCE, lists)})


def _example_keys(
    frame: pl.DataFrame, user_column: str, time_column: str, user: str, user_dtype: pl.DataType
) -> pl.DataFrame:
    """Row number, user (the entity key's type), as-of instant (UTC) and its day, per example."""
    for name in (user_column, time_column):
        if name not in frame.columns:
            msg = f"the examples have no '{name}' column (columns: {', '.join(frame.columns) or 'none'})"
            raise SourceDataError(msg)
    try:
        keyed = frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW),
            pl.col(user_column).cast(user_dtype, strict=True).alias(user),
            _as_utc(pl.col(time_column), frame.schema[time_column], time_column).alias(_AS_OF),
        )
    except pl.exceptions.PolarsError as exc:
        msg = f"example column '{user_column}' cannot be read as the feature's {user_dtype} entity key: {exc}"
        raise SourceDataError(msg) from exc
    bad = keyed.filter(pl.col(user).is_null() | pl.col(_AS_OF).is_null())
    if bad.height:
        first = int(bad.get_column(_ROW)[0])
        msg = (
            f"{bad.height} example row(s) have a null or unreadable '{user_column}' or '{time_column}' "
            f"(first: row {first}: {frame.row(first, named=True)}); every example needs both"
        )
        raise SourceDataError(msg)
    return keyed.with_columns(pl.col(_AS_OF).dt.date().alias(_DAY))


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


def _candidates(artefact: Artefact, tables: FeatureTables, keys: pl.DataFrame) -> pl.DataFrame:
    """Base and tail events of every example (user, day), in the events schema plus ``__day``."""
    user = artefact.feature.entity_key.name
    schema = events_schema(artefact)
    content_hash = artefact_hash(artefact)
    days: list[date] = sorted(keys.get_column(_DAY).unique().to_list())
    user_days = keys.select(user, _DAY).unique()
    complete = tables.complete_days()

    parts: list[pl.LazyFrame] = []
    for day in days:
        users = user_days.filter(pl.col(_DAY) == day).select(user).lazy()
        base = usable_snapshot(artefact, tables, day - timedelta(days=1), content_hash)
        if base is not None:
            frame = conform(base[0].lazy(), schema, where=f"snapshot of {day - timedelta(days=1)}")
        else:
            first = retention_first_day(day_start(day), artefact)
            older = [d for d in complete if first <= d < day]
            frame = tables.scan_days(EVENTS, older, schema)
        parts.append(frame.join(users, on=user, how="semi").with_columns(pl.lit(day, dtype=pl.Date).alias(_DAY)))

    first_day, last_day = days[0], days[-1]
    oldest = day_start(first_day) - timedelta(seconds=artefact.feature.retention_seconds)
    ts = pl.col(TS)
    tail = (
        tables.scan_days(EVENTS, [d for d in complete if d >= first_day], schema, with_day=True)
        .filter((ts < pl.lit(day_start(last_day + timedelta(days=1)), dtype=TIMESTAMP)) & (ts >= oldest))
        .join(user_days.select(user).unique().lazy(), on=user, how="semi")
        .with_columns(
            pl.date_ranges(
                pl.max_horizontal(ts.dt.date(), pl.lit(first_day, dtype=pl.Date)), pl.col(PARTITION_KEY)
            ).alias(_DAY)
        )
        .explode(_DAY)
        .join(user_days.lazy(), on=[user, _DAY], how="semi")
        .drop(PARTITION_KEY)
    )
    parts.append(tail)
    return pl.concat(parts, how="vertical").collect()
