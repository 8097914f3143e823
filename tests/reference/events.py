"""Reference of the engine's plan, one raw row at a time: filter, map, validate, featurise, enrich.

Follows the docstrings of ``feature_platform.engine.plan``, ``.validation`` and ``.enrichments``
with plain dicts and lists. Raw rows are dicts holding values of the source's declared types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from feature_platform.artefact import Artefact, CompiledEventType, DType
from tests.reference.expressions import cast, evaluate
from tests.reference.plugins import PLUGINS

MIN_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def events_columns(artefact: Artefact) -> list[tuple[str, DType]]:
    """The feature's events columns: entity key, feature fields, then dedup fields not yet there."""
    feature = artefact.feature
    columns = [(feature.entity_key.name, feature.entity_key.dtype)]
    columns += [(f.name, f.dtype) for f in feature.fields if f.name != feature.entity_key.name]
    names = {name for name, _ in columns}
    for name in feature.dedup_by:
        if name not in names:
            dtype = next(
                c.dtype for t in feature.event_types for c in artefact.event_types[t].output_fields if c.name == name
            )
            columns.append((name, dtype))
    return columns


def reference_events(
    artefact: Artefact,
    raw_rows_by_source: Mapping[str, Sequence[dict[str, Any]]],
    lookups: Mapping[str, Sequence[dict[str, Any]]],
    *,
    max_event_time: datetime | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The feature's events (dicts in the events columns) and rejects (``raw`` as a dict)."""
    events: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    columns = events_columns(artefact)
    user = artefact.feature.entity_key.name
    for type_name in artefact.feature.event_types:
        event_type = artefact.event_types[type_name]
        source = event_type.source
        for raw in raw_rows_by_source.get(source, ()):
            raw = {k: v for k, v in raw.items() if k != "_ingest_day"}
            if event_type.filter is not None and evaluate(event_type.filter, raw) is not True:
                continue  # not an event of this type (false or null filter): neither event nor reject
            event = {f.name: cast(evaluate(f.expr, raw), f.dtype) for f in event_type.fields}
            event["event_type"] = type_name
            reasons = _reasons(event_type, event, raw, user, max_event_time)
            if reasons:
                rejects.append(
                    {
                        "event_type": type_name,
                        "source": source,
                        "reason": reasons[0],  # exactly one reason: the first that applies
                        "event_id": cast(event["event_id"], DType.STRING),
                        "user_id": cast(event[user], DType.STRING),
                        "raw": raw,
                    }
                )
                continue
            _featurise_and_enrich(artefact, event_type, event, lookups)
            events.append({name: cast(event.get(name), dtype) for name, dtype in columns})
    return events, rejects


def _reasons(
    event_type: CompiledEventType,
    event: dict[str, Any],
    raw: dict[str, Any],
    user: str,
    max_event_time: datetime | None,
) -> list[str]:
    reasons = []
    if event["event_id"] is None:
        reasons.append("null event_id")
    if event[user] is None:
        reasons.append("null user_id")
    ts = event["timestamp"]
    if ts is None:
        (field,) = (f for f in event_type.fields if f.name == "timestamp")
        inputs_null = all(raw.get(c) is None for c in field.expr.columns())
        reasons.append("null timestamp" if inputs_null else "unparseable timestamp")
    else:
        if ts < MIN_EVENT_TIME:
            reasons.append("timestamp before 2000-01-01")
        if max_event_time is not None and ts > max_event_time:
            reasons.append("timestamp after max_event_time")
    return reasons


def _featurise_and_enrich(
    artefact: Artefact,
    event_type: CompiledEventType,
    event: dict[str, Any],
    lookups: Mapping[str, Sequence[dict[str, Any]]],
) -> None:
    output_types = {c.name: c.dtype for c in event_type.output_fields}
    if event_type.executor is not None:
        event.update(PLUGINS[event_type.executor.plugin](event, dict(event_type.executor.params)))
    for name in event_type.enrichments:
        enrichment = artefact.enrichments[name]
        if enrichment.kind == "lookup" and enrichment.lookup is not None:
            spec = enrichment.lookup
            key_column = artefact.sources[spec.source].key_column or ""
            first: dict[Any, dict[str, Any]] = {}
            for row in lookups.get(spec.source, ()):
                if row[key_column] is not None:
                    first.setdefault(row[key_column], row)
            match = first.get(event.get(spec.event_field)) if event.get(spec.event_field) is not None else None
            for output, column in spec.columns.items():
                event[output] = None if match is None else cast(match[column], output_types[output])
        elif enrichment.kind == "derived" and enrichment.derived is not None:
            before = dict(event)
            event.update({f.name: cast(evaluate(f.expr, before), f.dtype) for f in enrichment.derived})
        elif enrichment.kind == "plugin" and enrichment.plugin is not None:
            event.update(PLUGINS[enrichment.plugin.plugin](event, dict(enrichment.plugin.params)))
