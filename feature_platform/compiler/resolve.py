"""Validate config objects and resolve them into compiled models in one pass.

Each ``_check_*`` step appends to a shared issue list instead of raising, so one run reports every
problem. Resolution needs the same facts validation does (schemas after each mapping and enrichment),
so both happen here and the compiled models fall out of a successful pass.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import ValidationError

from feature_platform.artefact.dtypes import KEY_DTYPES, DType
from feature_platform.artefact.format import (
    BatchOriginSpec,
    ColumnSpec,
    CompiledEnrichment,
    CompiledEventType,
    CompiledFeature,
    CompiledField,
    CompiledSource,
    FreshnessSpec,
    LookupSpec,
    PluginCall,
    StreamOriginSpec,
)
from feature_platform.authoring import (
    CORE_FIELDS,
    ConfigObject,
    DerivedEnrichment,
    EventType,
    LookupEnrichment,
    PluginEnrichment,
    SequenceFeature,
    Source,
)
from feature_platform.authoring.enrichments import PluginCall as AuthoredPluginCall
from feature_platform.authoring.lifecycle import FORBIDDEN_DEPENDENCIES, Lifecycle
from feature_platform.compiler.discovery import Discovered
from feature_platform.compiler.issues import ValidationIssue, display_path
from feature_platform.compiler.typecheck import infer
from feature_platform.plugins import UnknownPluginError, get_plugin, plugin_names

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_LENGTH_RANGE = (1, 10_000)
MAX_RETENTION = timedelta(days=3 * 365)
CORE_TYPES: dict[str, tuple[DType, ...]] = {
    "event_id": (DType.STRING,),
    "user_id": KEY_DTYPES,
    "timestamp": (DType.TIMESTAMP,),
}
ALWAYS_PROJECTED = ("event_id", "timestamp", "event_type")
_EVENT_TIME_TYPES = (DType.TIMESTAMP, DType.INT64, DType.STRING)


@dataclass
class Resolved:
    """Compiled models for every valid object, and every issue found."""

    sources: dict[str, CompiledSource] = field(default_factory=dict)
    enrichments: dict[str, CompiledEnrichment] = field(default_factory=dict)
    event_types: dict[str, CompiledEventType] = field(default_factory=dict)
    features: dict[str, CompiledFeature] = field(default_factory=dict)
    issues: list[ValidationIssue] = field(default_factory=list)


class _Checker:
    def __init__(self, discovered: list[Discovered]) -> None:
        self.out = Resolved()
        self.by_kind: dict[str, dict[str, ConfigObject]] = defaultdict(dict)
        self._index(discovered)
        # enrichment name -> {event type name -> output schema}, for derived enrichments
        self._enrichment_outputs: dict[str, dict[str, dict[str, DType]]] = defaultdict(dict)

    def issue(self, obj: ConfigObject, message: str, hint: str = "") -> None:
        self.out.issues.append(
            ValidationIssue(
                file=display_path(obj.defined_at.file), line=obj.defined_at.line, kind=obj.kind_label,
                name=obj.name, message=message, hint=hint,
            )
        )

    # ---- names -----------------------------------------------------------------------------------
    def _index(self, discovered: list[Discovered]) -> None:
        for item in discovered:
            obj = item.obj
            if not NAME_PATTERN.match(obj.name):
                self.issue(obj, "name must be snake_case: a lower-case letter, then letters, digits or _ "
                           "(at most 63 characters)")
            # Sequence features are identified by name *and* version, so v1 and v2 can be live side by side
            # while consumers migrate; every other kind is identified by its name.
            key = obj.feature_id if isinstance(obj, SequenceFeature) else obj.name
            existing = self.by_kind[item.kind.key].get(key)
            if existing is not None:
                what = f"'{obj.name}' version {obj.version}" if isinstance(obj, SequenceFeature) else f"'{obj.name}'"
                self.issue(obj, f"duplicate {obj.kind_label} name {what}: also defined at "
                           f"{display_path(existing.defined_at.file)}:{existing.defined_at.line}",
                           hint="names are unique per kind (sequence features: per name and version); "
                           "rename one of them")
                continue
            self.by_kind[item.kind.key][key] = obj

    def lookup(self, owner: ConfigObject, kind: str, name: str, what: str) -> ConfigObject | None:
        found = self.by_kind[kind].get(name)
        if found is None:
            known = ", ".join(sorted(self.by_kind[kind])) or "none defined"
            self.issue(owner, f"unknown {what} '{name}' (known: {known})")
        return found

    # ---- sources -----------------------------------------------------------------------------------
    def sources(self) -> None:
        for obj in self.by_kind["source"].values():
            assert isinstance(obj, Source)
            names = [c.name for c in obj.columns]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                self.issue(obj, f"duplicate column(s): {', '.join(dupes)}")
            types = {c.name: c.dtype for c in obj.columns}
            ok = not dupes
            if obj.kind == "events":
                if obj.timestamp_column is None or types.get(obj.timestamp_column) not in _EVENT_TIME_TYPES:
                    self.issue(obj, "an events source needs timestamp_column naming its event-time column "
                               "(timestamp, int64 epoch milliseconds, or ISO-8601 string)")
                    ok = False
                if obj.batch is None and obj.stream is None:
                    self.issue(obj, "an events source needs a batch origin, a stream origin, or both")
                    ok = False
            else:
                if obj.key_column is None or types.get(obj.key_column) not in KEY_DTYPES:
                    self.issue(obj, "a lookup source needs key_column naming an int64 or string column")
                    ok = False
                if obj.batch is None or obj.stream is not None:
                    self.issue(obj, "a lookup source needs a batch origin and no stream origin")
                    ok = False
            if ok:
                self.out.sources[obj.name] = CompiledSource(
                    name=obj.name, kind=obj.kind, description=obj.description, owners=obj.owners,
                    columns=tuple(sorted((ColumnSpec(name=c.name, dtype=c.dtype, nullable=c.nullable,
                                                     description=c.description) for c in obj.columns),
                                         key=lambda c: c.name)),
                    batch=BatchOriginSpec(**obj.batch.model_dump()) if obj.batch else None,
                    stream=StreamOriginSpec(**obj.stream.model_dump()) if obj.stream else None,
                    timestamp_column=obj.timestamp_column, key_column=obj.key_column,
                )

    # ---- plugins -----------------------------------------------------------------------------------
    def plugin_call(self, owner: ConfigObject, call: AuthoredPluginCall) -> tuple[PluginCall, object] | None:
        try:
            plugin = get_plugin(call.plugin)
        except UnknownPluginError:
            self.issue(owner, f"unknown plugin '{call.plugin}' (known: {', '.join(plugin_names())})")
            return None
        try:
            params = plugin.parse_params(dict(call.params))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            self.issue(owner, f"parameters for plugin '{call.plugin}' do not fit its model: {problems}",
                       hint=f"see {type(plugin).__module__}.{plugin.params_model.__name__}")
            return None
        return PluginCall(plugin=call.plugin, params=params.model_dump(mode="json")), params

    def apply_plugin(self, owner: ConfigObject, call: AuthoredPluginCall, schema: dict[str, DType],
                     context: str) -> list[ColumnSpec] | None:
        resolved = self.plugin_call(owner, call)
        if resolved is None:
            return None
        _, params = resolved
        plugin = get_plugin(call.plugin)
        for name, accepted in plugin.input_fields(params).items():
            if name not in schema:
                self.issue(owner, f"plugin '{call.plugin}' reads field '{name}', which {context} does not have")
                return None
            if schema[name] not in accepted:
                self.issue(owner, f"plugin '{call.plugin}' needs field '{name}' as one of "
                           f"{', '.join(accepted)}, but {context} has it as {schema[name]}")
                return None
        return list(plugin.output_fields(params))

    # ---- enrichments ------------------------------------------------------------------------------
    def apply_enrichment(self, et: EventType, name: str, schema: dict[str, DType]) -> list[ColumnSpec] | None:
        enrichment = self.lookup(et, "enrichment", name, "enrichment")
        if enrichment is None:
            return None
        context = f"event type '{et.name}' (after mapping and earlier enrichments)"
        if isinstance(enrichment, LookupEnrichment):
            source = self.out.sources.get(enrichment.source)
            if source is None:
                return None  # reported once, by enrichments()
            key_type = next(c.dtype for c in source.columns if c.name == source.key_column)
            if enrichment.on not in schema:
                self.issue(enrichment, f"joins on field '{enrichment.on}', which {context} does not have")
                return None
            if schema[enrichment.on] != key_type:
                self.issue(enrichment, f"joins {schema[enrichment.on]} field '{enrichment.on}' of event type "
                           f"'{et.name}' with {key_type} key '{source.key_column}' of '{source.name}'")
                return None
            columns = {c.name: c for c in source.columns}
            return [ColumnSpec(name=out, dtype=columns[col].dtype, description=columns[col].description)
                    for out, col in sorted(enrichment.columns.items()) if col in columns]
        if isinstance(enrichment, DerivedEnrichment):
            outputs: list[ColumnSpec] = []
            for out, expr in sorted(enrichment.fields.items()):
                dtype, errors = infer(expr.node, schema)
                for error in errors:
                    self.issue(enrichment, f"field '{out}' (in {context}): {error}")
                if errors:
                    return None
                if dtype is None:
                    self.issue(enrichment, f"field '{out}' is always null; give the literal a type with "
                               "lit(None, dtype)")
                    return None
                outputs.append(ColumnSpec(name=out, dtype=dtype))
            self._enrichment_outputs[name][et.name] = {c.name: c.dtype for c in outputs}
            return outputs
        assert isinstance(enrichment, PluginEnrichment)
        return self.apply_plugin(enrichment, enrichment.call, schema, context)

    def enrichments(self) -> None:
        """Checks that need no event type; derived output types come from the event types using them."""
        for obj in self.by_kind["enrichment"].values():
            if isinstance(obj, LookupEnrichment):
                source = self.lookup(obj, "source", obj.source, "source")
                if source is None:
                    continue
                assert isinstance(source, Source)
                if source.kind != "lookup":
                    self.issue(obj, f"source '{source.name}' is an events source; a lookup needs kind='lookup'")
                    continue
                known = {c.name for c in source.columns}
                missing = sorted(set(obj.columns.values()) - known)
                if missing:
                    self.issue(obj, f"unknown field(s) {', '.join(missing)} in lookup source '{source.name}' "
                               f"(available: {', '.join(sorted(known))})")
            elif isinstance(obj, PluginEnrichment):
                self.plugin_call(obj, obj.call)

    def finish_enrichment(self, name: str) -> CompiledEnrichment | None:
        obj = self.by_kind["enrichment"][name]
        assert isinstance(obj, LookupEnrichment | DerivedEnrichment | PluginEnrichment)
        common = {"name": obj.name, "description": obj.description, "owners": obj.owners,
                  "lifecycle": obj.lifecycle.value}
        if isinstance(obj, LookupEnrichment):
            source = self.out.sources[obj.source]
            columns = {c.name: c for c in source.columns}
            return CompiledEnrichment(
                kind="lookup", **common,
                lookup=LookupSpec(source=obj.source, event_field=obj.on, columns=dict(obj.columns)),
                output_fields=tuple(ColumnSpec(name=o, dtype=columns[c].dtype, description=columns[c].description)
                                    for o, c in sorted(obj.columns.items())),
            )
        if isinstance(obj, DerivedEnrichment):
            per_event = self._enrichment_outputs[name]
            first = per_event[min(per_event)]
            for et_name, schema in sorted(per_event.items()):
                if schema != first:
                    self.issue(obj, f"derives different types for event type '{et_name}' ({schema}) than for "
                               f"'{min(per_event)}' ({first}); cast to one type")
                    return None
            return CompiledEnrichment(
                kind="derived", **common,
                derived=tuple(CompiledField(name=o, expr=e.node, dtype=first[o])
                              for o, e in sorted(obj.fields.items())),
                output_fields=tuple(ColumnSpec(name=o, dtype=t) for o, t in sorted(first.items())),
            )
        call, params = self.plugin_call(obj, obj.call) or (None, None)
        if call is None:
            return None
        outputs = get_plugin(call.plugin).output_fields(params)
        return CompiledEnrichment(kind="plugin", **common, plugin=call,
                                  output_fields=tuple(sorted(outputs, key=lambda c: c.name)))

    # ---- event types ----------------------------------------------------------------------------
    def event_types(self) -> None:
        for obj in self.by_kind["event_type"].values():
            assert isinstance(obj, EventType)
            compiled = self._event_type(obj)
            if compiled is not None:
                self.out.event_types[obj.name] = compiled

    def _event_type(self, et: EventType) -> CompiledEventType | None:
        found = self.lookup(et, "source", et.source, "source")
        if found is None:
            return None
        source = self.out.sources.get(et.source)
        if source is None:
            return None
        if source.kind != "events":
            self.issue(et, f"source '{et.source}' is a lookup table; an event type reads an events source")
            return None
        raw = {c.name: c.dtype for c in source.columns}
        ok = True
        if et.filter is not None:
            dtype, errors = infer(et.filter.node, raw)
            for error in errors:
                self.issue(et, f"filter: {error}")
            if not errors and dtype not in (DType.BOOL, None):
                self.issue(et, f"filter must be boolean, but {et.filter!r} is {dtype}")
            ok &= not errors
        fields: list[CompiledField] = []
        for name, expr in sorted(et.fields.items()):
            if not NAME_PATTERN.match(name):
                self.issue(et, f"field name '{name}' must be snake_case")
                ok = False
            dtype, errors = infer(expr.node, raw)
            for error in errors:
                self.issue(et, f"field '{name}': {error}")
            if errors:
                ok = False
                continue
            if dtype is None:
                self.issue(et, f"field '{name}' is always null; give the literal a type with lit(None, dtype)")
                ok = False
                continue
            fields.append(CompiledField(name=name, expr=expr.node, dtype=dtype))
        schema = {f.name: f.dtype for f in fields}
        for core, accepted in CORE_TYPES.items():
            if core not in et.fields:
                self.issue(et, f"missing required field '{core}' in the mapping",
                           hint=f"every event type maps {', '.join(CORE_FIELDS)}")
                ok = False
            elif core in schema and schema[core] not in accepted:
                self.issue(et, f"field '{core}' must be {' or '.join(accepted)}, got {schema[core]}",
                           hint="add .cast(...) to the mapping")
                ok = False
        if "event_type" in et.fields:
            self.issue(et, "field 'event_type' is reserved; the platform sets it to the event type's name")
            ok = False
        if not ok:
            return None
        schema["event_type"] = DType.STRING
        executor = None
        if et.executor is not None:
            outputs = self.apply_plugin(et, et.executor, schema, f"event type '{et.name}'")
            if outputs is None:
                return None
            resolved = self.plugin_call(et, et.executor)
            executor = resolved[0] if resolved else None
            schema.update({c.name: c.dtype for c in outputs})
        for enrichment_name in et.enrichments:
            outputs = self.apply_enrichment(et, enrichment_name, schema)
            if outputs is None:
                return None
            clashes = sorted({c.name for c in outputs} & set(schema))
            if clashes:
                self.issue(et, f"enrichment '{enrichment_name}' adds field(s) {', '.join(clashes)} that the event "
                           "type already has", hint="rename the output field in the enrichment")
                return None
            schema.update({c.name: c.dtype for c in outputs})
        return CompiledEventType(
            name=et.name, description=et.description, owners=et.owners, lifecycle=et.lifecycle.value,
            source=et.source, filter=et.filter.node if et.filter is not None else None, fields=tuple(fields),
            executor=executor, enrichments=tuple(et.enrichments),
            output_fields=tuple(ColumnSpec(name=n, dtype=t, nullable=n not in CORE_FIELDS and n != "event_type")
                                for n, t in sorted(schema.items())),
        )

    # ---- sequence features ------------------------------------------------------------------------
    def features(self) -> None:
        for obj in self.by_kind["sequence_feature"].values():
            assert isinstance(obj, SequenceFeature)
            compiled = self._feature(obj)
            if compiled is not None:
                self.out.features[compiled.id] = compiled

    def _feature(self, sf: SequenceFeature) -> CompiledFeature | None:
        ok = self._feature_ranges(sf)
        if not sf.event_types:
            self.issue(sf, "needs at least one event type")
            return None
        twice = sorted({name for name in sf.event_types if sf.event_types.count(name) > 1})
        if twice:
            self.issue(sf, f"event type(s) listed twice: {', '.join(twice)}")
            ok = False
        event_types: list[CompiledEventType] = []
        for name in sf.event_types:
            obj = self.lookup(sf, "event_type", name, "event type")
            if obj is None:
                ok = False
                continue
            ok &= self._lifecycle(sf, obj, "event type")
            assert isinstance(obj, EventType)
            for enrichment_name in obj.enrichments:
                enrichment = self.by_kind["enrichment"].get(enrichment_name)
                if enrichment is not None:
                    ok &= self._lifecycle(sf, enrichment, f"enrichment (via event type '{name}')")
            compiled = self.out.event_types.get(name)
            if compiled is None:
                ok = False  # its own issues are reported on the event type
                continue
            event_types.append(compiled)
        if not ok:
            return None
        producers: dict[str, dict[str, DType]] = defaultdict(dict)
        for et in event_types:
            for column in et.output_fields:
                producers[column.name][et.name] = column.dtype
        key_types = producers["user_id"]
        if len(set(key_types.values())) > 1:
            self.issue(sf, f"event types disagree on the type of user_id: {dict(sorted(key_types.items()))}")
            ok = False
        projected: list[ColumnSpec] = []
        seen: set[str] = set()
        for name in (*ALWAYS_PROJECTED, *sf.fields):
            if name in seen:
                if name not in ALWAYS_PROJECTED:
                    self.issue(sf, f"projected field '{name}' is listed twice")
                    ok = False
                continue
            seen.add(name)
            made_by = producers.get(name)
            if not made_by:
                self.issue(sf, f"projected field '{name}' is produced by none of its event types "
                           f"({', '.join(sf.event_types)})",
                           hint="add it to an event type's mapping or enrichments, or drop it from fields")
                ok = False
                continue
            if len(set(made_by.values())) > 1:
                self.issue(sf, f"projected field '{name}' has different types across event types: "
                           f"{dict(sorted(made_by.items()))}")
                ok = False
                continue
            nullable = (name not in ALWAYS_PROJECTED and len(made_by) < len(event_types)) or any(
                c.nullable for et in event_types for c in et.output_fields if c.name == name
            )
            projected.append(ColumnSpec(name=name, dtype=next(iter(made_by.values())), nullable=nullable))
        for name in sf.dedup_by:
            missing = sorted(et.name for et in event_types if name not in {c.name for c in et.output_fields})
            if missing:
                self.issue(sf, f"dedup_by field '{name}' is not produced by event type(s) {', '.join(missing)}")
                ok = False
        if not ok or not key_types:
            return None
        return CompiledFeature(
            id=sf.feature_id, name=sf.name, version=sf.version, description=sf.description, owners=sf.owners,
            lifecycle=sf.lifecycle.value, entity_key=ColumnSpec(name="user_id", dtype=next(iter(key_types.values())),
                                                                nullable=False),
            event_types=tuple(sorted(sf.event_types)), max_length=sf.max_length,
            retention_seconds=int(sf.retention.total_seconds()), dedup_by=tuple(sf.dedup_by),
            fields=tuple(projected),
            freshness=FreshnessSpec(
                streaming_max_lag_seconds=int(sf.freshness.streaming_max_lag.total_seconds()),
                batch_max_lag_seconds=int(sf.freshness.batch_max_lag.total_seconds()),
                batch_deadline_cron=sf.freshness.batch_deadline_cron,
            ),
            serving_default_length=sf.serving_default_length, tags=dict(sorted(sf.tags.items())),
        )

    def _feature_ranges(self, sf: SequenceFeature) -> bool:
        before = len(self.out.issues)
        low, high = MAX_LENGTH_RANGE
        if not low <= sf.max_length <= high:
            self.issue(sf, f"max_length must be between {low} and {high}, got {sf.max_length}")
        if sf.version < 1:
            self.issue(sf, f"version must be 1 or more, got {sf.version}")
        retention_ok = timedelta(0) < sf.retention <= MAX_RETENTION
        if not retention_ok:
            self.issue(sf, f"retention must be positive and at most {MAX_RETENTION.days} days, got {sf.retention}")
        fresh = sf.freshness
        for label, lag in (("streaming_max_lag", fresh.streaming_max_lag), ("batch_max_lag", fresh.batch_max_lag)):
            if lag <= timedelta(0):
                self.issue(sf, f"freshness.{label} must be positive, got {lag}")
            elif retention_ok and lag > sf.retention:
                self.issue(sf, f"freshness.{label} ({lag}) exceeds retention ({sf.retention}): every event would "
                           "have expired before it is guaranteed to be servable")
        if fresh.batch_deadline_cron is not None and len(fresh.batch_deadline_cron.split()) != 5:
            self.issue(sf, f"freshness.batch_deadline_cron must be a 5-field cron, got {fresh.batch_deadline_cron!r}")
        if sf.serving_default_length is not None and not 1 <= sf.serving_default_length <= sf.max_length:
            self.issue(sf, f"serving_default_length must be between 1 and max_length ({sf.max_length})")
        if not sf.dedup_by:
            self.issue(sf, "dedup_by needs at least one field (event_id de-duplicates exact replays)")
        return len(self.out.issues) == before

    def _lifecycle(self, sf: SequenceFeature, dep: ConfigObject, what: str) -> bool:
        stage: Lifecycle = getattr(dep, "lifecycle", Lifecycle.EXPERIMENTAL)
        if stage in FORBIDDEN_DEPENDENCIES.get(sf.lifecycle, frozenset()):
            self.issue(sf, f"lifecycle violation: a {sf.lifecycle.value} sequence uses {stage.value} {what} "
                       f"'{dep.name}'",
                       hint=f"promote '{dep.name}' or keep this sequence below {sf.lifecycle.value}")
            return False
        return True


def resolve(discovered: list[Discovered]) -> Resolved:
    """Validate everything and build the compiled models of everything valid."""
    checker = _Checker(discovered)
    checker.sources()
    checker.enrichments()
    checker.event_types()
    used = sorted({name for et in checker.out.event_types.values() for name in et.enrichments})
    for name in used:
        compiled = checker.finish_enrichment(name)
        if compiled is not None:
            checker.out.enrichments[name] = compiled
    checker.features()
    checker.out.issues = sorted(set(checker.out.issues))
    return checker.out
