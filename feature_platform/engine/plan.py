"""Turn a compiled artefact into one lazy polars plan: filter → map → validate → featurise → enrich → project.

The same plan runs lazily over days of Parquet files (batch indexer) and over a micro-batch of a few
hundred rows (streaming indexer, via :func:`feature_platform.engine.run.run_micro_batch`); nothing in
here knows which.

Per event type (:func:`build_event_type_frame`):

1. **check** the raw frame has every column the event type reads (else :class:`SourceDataError`
   naming the column, the source and the event type);
2. keep the raw row (for rejects), then cast raw columns to the source's declared types
   (non-strict: a value that does not convert becomes null);
3. **filter** raw rows with the event type's filter. SQL ``WHERE`` semantics: a row whose filter is
   false *or null* (e.g. ``action == 'save'`` on a null ``action``) is not an event of this type —
   it is neither an event nor a reject;
4. **map** raw columns to the normalised fields, each cast to its declared type, and add the
   ``event_type`` literal;
5. **validate** (:mod:`feature_platform.engine.validation`): malformed rows go to ``rejects`` with
   their reasons, never silently dropped;
6. **featurise** (the executor plugin, if any) and **enrich** (each enrichment in order) the valid rows;
7. project to the event type's ``output_fields``.

Per feature (:func:`build_feature_frame`): the union of its event types projected to
:func:`events_schema`. ``_ingest_day`` (the raw day partition, Date) is carried through to events and
rejects when the raw frames have it.

A raw row selected by two event types of one feature yields two events (one per ``event_type``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.format import Artefact, CompiledField
from feature_platform.engine.dtypes import to_polars_dtype
from feature_platform.engine.executors import EventTypeExecutor, event_type, executor_for
from feature_platform.engine.requirements import check_columns, required_columns
from feature_platform.engine.validation import INGEST_DAY, REJECTS_SCHEMA, reason_expr
from feature_platform.errors import ArtefactError, SourceDataError

EVENT_ID = "event_id"
TIMESTAMP = "timestamp"
EVENT_TYPE = "event_type"

_RAW = "__raw"
_REASON = "__reason"
_TS_INPUTS_NULL = "__timestamp_inputs_null"


@dataclass(frozen=True)
class EventTypeFrames:
    """One event type's plan: valid, enriched events and the rows rejected as malformed."""

    valid: pl.LazyFrame
    rejects: pl.LazyFrame


@dataclass(frozen=True)
class FeatureFrames:
    """One feature's plan: its events in :func:`events_schema` and its rejects in ``REJECTS_SCHEMA``."""

    events: pl.LazyFrame
    rejects: pl.LazyFrame


def events_schema(artefact: Artefact, *, ingest_day: bool = False) -> pl.Schema:
    """The stable schema of a feature's enriched events.

    The entity key (``user_id``) first, then ``feature.fields`` in order (they start with
    ``event_id``, ``timestamp``, ``event_type``), then every ``dedup_by`` field not already there,
    then ``_ingest_day`` (Date) when ``ingest_day``.
    """
    feature = artefact.feature
    columns: dict[str, pl.DataType] = {feature.entity_key.name: to_polars_dtype(feature.entity_key.dtype)}
    for field in feature.fields:
        columns.setdefault(field.name, to_polars_dtype(field.dtype))
    for name in feature.dedup_by:
        if name not in columns:
            columns[name] = to_polars_dtype(_field_dtype(artefact, name))
    if ingest_day:
        columns[INGEST_DAY] = pl.Date()
    return pl.Schema(columns)


def rejects_schema(*, ingest_day: bool = False) -> pl.Schema:
    """The stable schema of a rejects frame (:data:`~feature_platform.engine.validation.REJECTS_SCHEMA`)."""
    columns = dict(REJECTS_SCHEMA)
    if ingest_day:
        columns[INGEST_DAY] = pl.Date()
    return pl.Schema(columns)


def build_event_type_frame(
    artefact: Artefact,
    event_type_name: str,
    raw: pl.LazyFrame,
    lookups: Mapping[str, pl.LazyFrame],
    *,
    max_event_time: datetime | None = None,
    executor: EventTypeExecutor | None = None,
) -> EventTypeFrames:
    """The plan of one event type over ``raw`` rows of its source (see the module docstring)."""
    executor = executor if executor is not None else executor_for(artefact, event_type_name)
    compiled = executor.event_type
    source = artefact.sources[compiled.source]
    raw_schema = raw.collect_schema()
    check_columns(
        raw_schema.names(),
        required_columns(artefact, source.name, event_types=[compiled.name]),
        source=source.name,
    )
    user = artefact.feature.entity_key.name
    timestamp_field = _field(compiled.fields, TIMESTAMP, compiled.name)
    _field(compiled.fields, EVENT_ID, compiled.name)
    _field(compiled.fields, user, compiled.name)

    day = [pl.col(INGEST_DAY)] if INGEST_DAY in raw_schema else []
    raw_columns = [c for c in raw_schema.names() if c != INGEST_DAY]
    declared = {c.name: to_polars_dtype(c.dtype) for c in source.columns}
    casts = [
        pl.col(c).cast(declared[c], strict=False) for c in raw_columns if c in declared and raw_schema[c] != declared[c]
    ]
    frame = raw.with_columns(pl.struct(raw_columns).alias(_RAW)).with_columns(casts)
    selection = executor.selection()
    if selection is not None:
        frame = frame.filter(selection)

    ts_inputs = sorted(timestamp_field.expr.columns())
    ts_inputs_null = pl.all_horizontal([pl.col(_RAW).struct.field(c).is_null() for c in ts_inputs] or [pl.lit(True)])
    normalised = frame.select(
        *executor.mapping(),
        pl.lit(compiled.name, dtype=pl.String).alias(EVENT_TYPE),
        pl.col(_RAW),
        ts_inputs_null.alias(_TS_INPUTS_NULL),
        *day,
    )
    checked = normalised.with_columns(
        reason_expr(
            event_id=EVENT_ID,
            user_id=user,
            timestamp=TIMESTAMP,
            timestamp_inputs_null=pl.col(_TS_INPUTS_NULL),
            max_event_time=max_event_time,
        ).alias(_REASON)
    )

    valid = checked.filter(pl.col(_REASON).is_null()).drop(_RAW, _TS_INPUTS_NULL, _REASON)
    valid = executor.enrich(executor.featurise(valid), lookups)
    valid = valid.select(
        *(pl.col(c.name).cast(to_polars_dtype(c.dtype), strict=False) for c in compiled.output_fields), *day
    )
    rejects = checked.filter(pl.col(_REASON).is_not_null()).select(
        pl.lit(compiled.name, dtype=pl.String).alias("event_type"),
        pl.lit(source.name, dtype=pl.String).alias("source"),
        pl.col(_REASON).alias("reason"),
        pl.col(EVENT_ID).cast(pl.String).alias("event_id"),
        pl.col(user).cast(pl.String).alias("user_id"),
        pl.col(_RAW).struct.json_encode().alias("raw"),
        *day,
    )
    return EventTypeFrames(valid=valid, rejects=rejects)


def build_feature_frame(
    artefact: Artefact,
    raw_by_source: Mapping[str, pl.LazyFrame],
    lookups: Mapping[str, pl.LazyFrame],
    *,
    max_event_time: datetime | None = None,
) -> FeatureFrames:
    """The plan of a whole feature: the union of its event types in :func:`events_schema`.

    ``raw_by_source`` maps each events source the feature reads to its raw rows; ``lookups`` maps each
    lookup source to its table. Events and rejects carry ``_ingest_day`` when any raw frame has it
    (a typed null for the sources whose frame has not).
    """
    parts: list[tuple[EventTypeFrames, frozenset[str], bool]] = []
    for name in artefact.feature.event_types:
        compiled = event_type(artefact, name)
        raw = raw_by_source.get(compiled.source)
        if raw is None:
            msg = (
                f"no raw events were given for source '{compiled.source}', read by event type '{name}' "
                f"(sources given: {', '.join(sorted(raw_by_source)) or 'none'})"
            )
            raise SourceDataError(msg)
        frames = build_event_type_frame(artefact, name, raw, lookups, max_event_time=max_event_time)
        produced = frozenset(c.name for c in compiled.output_fields)
        parts.append((frames, produced, INGEST_DAY in raw.collect_schema()))

    with_day = any(has_day for _, _, has_day in parts)
    schema = events_schema(artefact, ingest_day=with_day)
    rejects = rejects_schema(ingest_day=with_day)
    events = pl.concat(
        [_project(f.valid, schema, produced | ({INGEST_DAY} if d else set())) for f, produced, d in parts],
        how="vertical",
    )
    rejected = pl.concat(
        [_project(f.rejects, rejects, set(REJECTS_SCHEMA) | ({INGEST_DAY} if d else set())) for f, _, d in parts],
        how="vertical",
    )
    return FeatureFrames(events=events, rejects=rejected)


def _project(frame: pl.LazyFrame, schema: pl.Schema, produced: set[str] | frozenset[str]) -> pl.LazyFrame:
    return frame.select(
        pl.col(name).cast(dtype) if name in produced else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
    )


def _field(fields: tuple[CompiledField, ...], name: str, event_type_name: str) -> CompiledField:
    for field in fields:
        if field.name == name:
            return field
    msg = f"event type '{event_type_name}' maps no '{name}' field; every event type needs one"
    raise ArtefactError(msg)


def _field_dtype(artefact: Artefact, name: str) -> DType:
    for type_name in artefact.feature.event_types:
        for column in artefact.event_types[type_name].output_fields:
            if column.name == name:
                return column.dtype
    msg = f"feature {artefact.feature.id} dedups by '{name}', which none of its event types produces"
    raise ArtefactError(msg)
