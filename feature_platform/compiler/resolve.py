"""Validate config objects and resolve them into compiled models in one pass.

Each ``_check_*`` step appends to a shared issue list instead of raising, so one run reports every
problem. Resolution needs the same facts validation does (schemas after each mapping and enrichment),
so both happen here and the compiled models fall out of a successful pass.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import ValidationError

from feature_platform.artefact.dtypes import KEY_DTYPES, DType
from feature_platform.artefact.expressions import ExprNode, ExprOp
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
from feature_platform.compiler.cron import cron_problem
from feature_platform.compiler.discovery import Discovered
from feature_platform.compiler.issues import ValidationIssue, display_path
from feature_platform.compiler.owners import owner_problem
from feature_platform.compiler.typecheck import infer
from feature_platform.errors import StoreError
from feature_platform.plugins import UnknownPluginError, get_plugin, plugin_names
from feature_platform.storage import S3URL, parse_storage_url

NAME_PATTERN = re.compile(r"\A[a-z][a-z0-9_]{0,62}\Z")
"""Names of objects and fields. ``\\A``/``\\Z`` (not ``^``/``$``): ``$`` also matches before a trailing
newline, which let ``"clicks\\n"`` through and put a newline in an artefact's file name."""
_VERSIONED_NAME = re.compile(r"_v\d+\Z")
MIN_LAG = timedelta(seconds=1)
BATCH_CADENCE = timedelta(days=1)
"""Batch partitions are daily: a batch snapshot cannot be promised fresher than this."""
MAX_LENGTH_RANGE = (1, 10_000)
MAX_RETENTION = timedelta(days=3 * 365)
CORE_TYPES: dict[str, tuple[DType, ...]] = {
    "event_id": (DType.STRING,),
    "user_id": KEY_DTYPES,
    "timestamp": (DType.TIMESTAMP,),
}
ALWAYS_PROJECTED = ("event_id", "timestamp", "event_type")
_EVENT_TIME_TYPES = (DType.TIMESTAMP, DType.INT64, DType.STRING)
MAX_VERSION = 2**31 - 1
"""A feature version fits 32 bits (date-like versions such as 20261201 too), so every runtime can hold it."""
_STREAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")
_PARTITION_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_TAG_KEY = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
"""Tag keys are name-like (``\\Z``, not ``$``: a trailing newline is not a name)."""
_TAG_VALUE = re.compile(r"\A(?:[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]{0,198}[^\x00-\x1f\x7f\s])?)?\Z")
"""Tag values are free text on one line: printable, no leading or trailing white space (empty is allowed)."""


def _escaped(text: str) -> str:
    """``text`` with control characters (and backslashes) shown escaped (a newline as ``\\n``), as names are
    reported; printable letters stay as written (``récent``, not ``r\\xe9cent``)."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii") for c in text)


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
        # every issue -> the object it is about, to name the others when one line is wrong for several
        self._objects: dict[ValidationIssue, ConfigObject] = {}
        # issues blamed inside a value built apart from its user's constructor call -> that user (and the path)
        self._shared_uses: dict[ValidationIssue, ConfigObject] = {}
        self._shared_paths: dict[ValidationIssue, str] = {}
        self._index(discovered)
        # enrichment name -> {event type name -> output schema}, for derived enrichments
        self._enrichment_outputs: dict[str, dict[str, dict[str, DType]]] = defaultdict(dict)
        # enrichments whose own checks (in enrichments()) failed: already reported, never applied or compiled
        self._invalid_enrichments: set[str] = set()
        # invalid sources -> which of their parts are wrong ("columns", "timestamp_column"; none: elsewhere)
        self._bad_parts: dict[str, set[str]] = defaultdict(set)
        # (kind, name) of an object with errors -> errors of the objects using it that may follow from them
        self._follow_ons: dict[tuple[str, str], list[ValidationIssue]] = defaultdict(list)
        # (kind, name) -> the objects it uses, to find whose errors a follow-on is counted on
        self._uses: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        # an enrichment's error found while applying it to one event type -> (what, error, event type), to
        # report an error several event types run into once (see fold_event_types)
        # (the message for several event types, with _EVENT_TYPES where their names go; the event type)
        self._per_event_type: dict[ValidationIssue, tuple[str, str]] = {}

    def issue(self, obj: ConfigObject, message: str, hint: str = "", at: str = "") -> None:
        """Report ``message`` about ``obj``, at the line of its argument ``at`` (e.g. "max_length").

        When that argument's value was built apart from the constructor call (a helper's ``Freshness(...)``
        or dict of plugin parameters, a module constant), the issue is blamed where it was built, and the
        same issue from every other object using that value is folded into it (see :func:`_fold_shared`)."""
        site, shared = obj.blame(at)
        issue = ValidationIssue(
            file=display_path(site.file), line=site.line, kind=obj.kind_label,
            name=_escaped(obj.name), message=message, hint=hint,
        )
        self.out.issues.append(issue)
        self._objects.setdefault(issue, obj)
        if shared:
            self._shared_uses[issue] = obj
            self._shared_paths[issue] = at

    # ---- names -----------------------------------------------------------------------------------
    def _index(self, discovered: list[Discovered]) -> None:
        for item in discovered:
            obj = item.obj
            if not NAME_PATTERN.match(obj.name):
                shown = _escaped(obj.name)
                self.issue(obj, f"name '{shown}' must be snake_case: a lower-case letter, then letters, digits "
                           "or _ (at most 63 characters)", at="name")
            elif isinstance(obj, SequenceFeature) and _VERSIONED_NAME.search(obj.name):
                self.issue(obj, f"name '{obj.name}' ends in a version suffix; the feature id is "
                           f"<name>_v<version>, so it would become '{obj.feature_id}'",
                           hint=f"name it '{_VERSIONED_NAME.sub('', obj.name)}' and set version=...", at="name")
            # Sequence features are identified by name *and* version, so v1 and v2 can be live side by side
            # while consumers migrate; every other kind is identified by its name.
            key = obj.feature_id if isinstance(obj, SequenceFeature) else obj.name
            existing = self.by_kind[item.kind.key].get(key)
            if existing is not None:
                what = f"'{obj.name}' version {obj.version}" if isinstance(obj, SequenceFeature) else f"'{obj.name}'"
                copied = obj.defined_at != existing.defined_at and _same_values(obj, existing)
                self.issue(obj, f"duplicate {obj.kind_label} name {what}: also defined at "
                           f"{display_path(existing.defined_at.file)}:{existing.defined_at.line}",
                           hint="it is a copy of that one: to derive another, use .model_copy(update={'name': ...})"
                           if copied else "names are unique per kind (sequence features: per name and version); "
                           "rename one of them", at="name")
                continue
            self.by_kind[item.kind.key][key] = obj

    def lookup(self, owner: ConfigObject, kind: str, name: str, what: str, at: str = "") -> ConfigObject | None:
        found = self.by_kind[kind].get(name)
        if found is None:
            known = ", ".join(sorted(self.by_kind[kind])) or "none defined"
            self.issue(owner, f"unknown {what} '{name}' (known: {known}){did_you_mean(name, self.by_kind[kind])}",
                       at=at)
        return found

    # ---- sources -----------------------------------------------------------------------------------
    def sources(self) -> None:
        for obj in self.by_kind["source"].values():
            assert isinstance(obj, Source)
            names = [c.name for c in obj.columns]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                self.issue(obj, f"duplicate column(s): {', '.join(dupes)}", at="columns")
                self._bad_parts[obj.name].add("columns")
            types = {c.name: c.dtype for c in obj.columns}
            ok = not dupes
            if obj.kind == "events":
                if obj.timestamp_column is None or types.get(obj.timestamp_column) not in _EVENT_TIME_TYPES:
                    self.issue(obj, "an events source needs timestamp_column naming its event-time column "
                               "(timestamp, int64 epoch milliseconds, or ISO-8601 string)"
                               f"{_column_problem(obj.timestamp_column, types)}", at="timestamp_column")
                    self._bad_parts[obj.name].add("timestamp_column")
                    ok = False
                if obj.batch is not None and (problem := _path_problem(obj.batch.path)):
                    self.issue(obj, f"batch.path {obj.batch.path!r} {problem}", at="batch.path")
                    ok = False
                if obj.batch is not None and not _PARTITION_KEY.fullmatch(obj.batch.partition_key):
                    self.issue(obj, f"batch.partition_key {obj.batch.partition_key!r} must be a column name "
                               "(letters, digits and _, not starting with a digit): partitions are "
                               "<path>/<partition_key>=YYYY-MM-DD/", at="batch.partition_key")
                    ok = False
                if obj.batch is None and obj.stream is None:
                    self.issue(obj, "an events source needs a batch origin, a stream origin, or both")
                    ok = False
                if obj.stream is not None and not _STREAM_NAME.fullmatch(obj.stream.stream):
                    self.issue(obj, f"stream name {obj.stream.stream!r} must be 1-200 characters from letters, "
                               "digits, '_', '.', ':' and '-', starting with a letter or digit", at="stream.stream")
                    ok = False
            else:
                if obj.key_column is None or types.get(obj.key_column) not in KEY_DTYPES:
                    self.issue(obj, "a lookup source needs key_column naming an int64 or string column"
                               f"{_column_problem(obj.key_column, types)}", at="key_column")
                    ok = False
                if obj.batch is not None and (problem := _path_problem(obj.batch.path)):
                    self.issue(obj, f"batch.path {obj.batch.path!r} {problem}", at="batch.path")
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
    def plugin_call(self, owner: ConfigObject, call: AuthoredPluginCall, at: str,
                    report: bool = True) -> tuple[PluginCall, object] | None:
        """Check a plugin call; parameters are checked strictly (``True`` is not 1, "5" is not 5), as JSON,
        which is how every runtime will read them from the artefact."""
        try:
            plugin = get_plugin(call.plugin)
        except UnknownPluginError:
            if report:
                self.issue(owner, f"unknown plugin '{call.plugin}' (known: {', '.join(plugin_names())})"
                           f"{did_you_mean(call.plugin, plugin_names())}", at=f"{at}.plugin")
            return None
        try:
            params = plugin.params_model.model_validate_json(json.dumps(dict(call.params)), strict=True)
        except ValidationError as exc:
            if report:
                first = exc.errors()[0]["loc"]
                fields = list(plugin.params_model.model_fields)
                self.issue(owner, f"parameters for plugin '{call.plugin}' do not fit its model: "
                           f"{plain_errors(exc, fields)}",
                           hint=f"see {type(plugin).__module__}.{plugin.params_model.__name__}",
                           at=f"{at}.params.{first[0]}" if first else f"{at}.params")
            return None
        dumped = params.model_dump(mode="json")
        if (huge := _huge_int(dumped)) is not None:
            if report:
                self.issue(owner, f"parameters for plugin '{call.plugin}' hold the integer {_short_int(huge)}, "
                           "outside the 64-bit range every runtime uses", at=f"{at}.params")
            return None
        return PluginCall(plugin=call.plugin, params=dumped), params

    def apply_plugin(self, owner: ConfigObject, call: AuthoredPluginCall, schema: dict[str, DType],
                     context: str, at: str, report: bool = True) -> list[ColumnSpec] | None:
        """The fields the plugin adds, after checking its inputs against ``schema`` (its parameters are
        reported here unless ``report`` is False: then the caller has reported them)."""
        resolved = self.plugin_call(owner, call, at, report=report)
        if resolved is None:
            return None
        _, params = resolved
        plugin = get_plugin(call.plugin)
        for name, accepted in plugin.input_fields(params).items():
            if name not in schema:
                self.issue(owner, f"plugin '{call.plugin}' reads field '{name}', which {context} does not have"
                           f"{did_you_mean(name, schema)}", at=f"{at}.params")
                return None
            if schema[name] not in accepted:
                self.issue(owner, f"plugin '{call.plugin}' needs field '{name}' as one of "
                           f"{', '.join(accepted)}, but {context} has it as {schema[name]}", at=f"{at}.params")
                return None
        outputs = list(plugin.output_fields(params))
        for column in outputs:
            if not NAME_PATTERN.match(column.name):
                self.issue(owner, f"plugin '{call.plugin}' would add field {column.name!r}, which is not a "
                           "snake_case name", at=f"{at}.params")
                return None
        return outputs

    # ---- enrichments ------------------------------------------------------------------------------
    def apply_enrichment(self, et: EventType, index: int, schema: dict[str, DType]) -> list[ColumnSpec] | None:
        name = et.enrichments[index]
        enrichment = self.lookup(et, "enrichment", name, "enrichment", at=f"enrichments[{index}]")
        if enrichment is None:
            return None
        if name in self._invalid_enrichments:
            return None  # reported once, on the enrichment, by enrichments()
        context = f"event type '{et.name}' (after mapping and earlier enrichments)"
        if isinstance(enrichment, LookupEnrichment):
            source = self.out.sources.get(enrichment.source)
            if source is None or source.kind != "lookup":
                return None  # reported once, by enrichments() (an events source has no key column)
            key_type = next((c.dtype for c in source.columns if c.name == source.key_column), None)
            if key_type is None:
                return None  # reported once, by sources()
            if enrichment.on not in schema:
                hint = ""
                if any(enrichment.on in _outputs(self.by_kind["enrichment"].get(later))
                       for later in et.enrichments[index + 1:]):
                    hint = "an enrichment listed later provides it: list that one first"
                mean = did_you_mean(enrichment.on, schema)
                self.issue(enrichment, f"joins on field '{enrichment.on}', which {context} does not have{mean}",
                           hint=hint, at="on")
                self._per_event_type[self.out.issues[-1]] = (
                    f"joins on field '{enrichment.on}', which event types {_EVENT_TYPES} (after mapping and earlier "
                    f"enrichments) do not have{mean}", et.name)
                return None
            if schema[enrichment.on] != key_type:
                joined = f"{schema[enrichment.on]} field '{enrichment.on}' of event type"
                key = f"with {key_type} key '{source.key_column}' of '{source.name}'"
                self.issue(enrichment, at="on", message=f"joins {joined} '{et.name}' {key}")
                self._per_event_type[self.out.issues[-1]] = (f"joins {joined}s {_EVENT_TYPES} {key}", et.name)
                return None
            columns = {c.name: c for c in source.columns}
            return [ColumnSpec(name=out, dtype=columns[col].dtype, description=columns[col].description)
                    for out, col in sorted(enrichment.columns.items()) if col in columns]
        if isinstance(enrichment, DerivedEnrichment):
            outputs: list[ColumnSpec] = []
            for out, expr in sorted(enrichment.fields.items()):
                dtype, errors = infer(expr.node, schema)
                for error in errors:
                    self.issue(enrichment, f"field '{out}' (in {context}): {_suggest(error)}",
                               at=_error_path(expr.node, schema, error, f"fields.{out}"),
                               hint=_expression_hint(error, et, index, self.by_kind["enrichment"]))
                    self._per_event_type[self.out.issues[-1]] = (
                        f"field '{out}' (in event types {_EVENT_TYPES}, after mapping and earlier enrichments): "
                        f"{_suggest(error)}", et.name)
                if errors:
                    return None
                if dtype is None:
                    self.issue(enrichment, f"field '{out}' is always null; give the literal a type with "
                               "lit(None, dtype)", at=f"fields.{out}")
                    return None
                outputs.append(ColumnSpec(name=out, dtype=dtype))
            self._enrichment_outputs[name][et.name] = {c.name: c.dtype for c in outputs}
            return outputs
        assert isinstance(enrichment, PluginEnrichment)
        return self.apply_plugin(enrichment, enrichment.call, schema, context, "call")

    def enrichments(self) -> None:
        """Checks that need no event type; derived output types come from the event types using them."""
        for obj in self.by_kind["enrichment"].values():
            before = len(self.out.issues)
            self._enrichment(obj)
            if len(self.out.issues) > before:
                self._invalid_enrichments.add(obj.name)

    def _enrichment(self, obj: ConfigObject) -> None:
        """One enrichment's own checks (no event type needed); issues make it invalid everywhere."""
        if isinstance(obj, LookupEnrichment):
            source = self.lookup(obj, "source", obj.source, "source", at="source")
            if source is None:
                return
            self._uses[_key(obj)].append(_key(source))
            assert isinstance(source, Source)
            if source.kind != "lookup":
                self.issue(obj, f"source '{source.name}' is an events source; a lookup needs kind='lookup'",
                           at="source")
                return
            known = {c.name for c in source.columns}
            missing = sorted(set(obj.columns.values()) - known)
            if missing:
                first = next(o for o, c in obj.columns.items() if c in missing)
                self.issue(obj, f"unknown field(s) {', '.join(missing)} in lookup source '{source.name}' "
                           f"(available: {', '.join(sorted(known))}){did_you_mean(missing[0], known)}",
                           at=f"columns.{first}")
            for out in obj.columns:
                if not NAME_PATTERN.match(out):
                    self.issue(obj, f"output field name {out!r} must be snake_case (no '/', '..' or spaces)",
                               at=f"columns.{out}")
        elif isinstance(obj, DerivedEnrichment):
            for out in obj.fields:
                if not NAME_PATTERN.match(out):
                    self.issue(obj, f"output field name {out!r} must be snake_case (no '/', '..' or spaces)",
                               at=f"fields.{out}")
        elif isinstance(obj, PluginEnrichment):
            self.plugin_call(obj, obj.call, "call")

    def finish_enrichment(self, name: str) -> CompiledEnrichment | None:
        if name in self._invalid_enrichments:
            return None  # its event types were not compiled either; reported once by enrichments()
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
                    self.issue(obj, f"derives different types for event type '{et_name}' ({_types(schema)}) than "
                               f"for '{min(per_event)}' ({_types(first)}); cast to one type", at="fields")
                    return None
            return CompiledEnrichment(
                kind="derived", **common,
                derived=tuple(CompiledField(name=o, expr=e.node, dtype=first[o])
                              for o, e in sorted(obj.fields.items())),
                output_fields=tuple(ColumnSpec(name=o, dtype=t) for o, t in sorted(first.items())),
            )
        call, params = self.plugin_call(obj, obj.call, "call", report=False) or (None, None)
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
        """Check one event type; compiled when it and its source are valid.

        Its own errors are reported whatever its source's state: the checks that do not read the source
        (names, required fields, executor parameters, enrichment references) always run; the ones that read
        the source's schema run against the source as written, and when the part of the source they read is
        itself wrong (duplicate columns, a bad timestamp_column), their errors may only follow from that one:
        they are counted on the source's error ("N follow-on errors suppressed"), never silently dropped."""
        found = self.lookup(et, "source", et.source, "source", at="source")
        self._uses[_key(et)] += [_key(o) for o in (found, *map(self.by_kind["enrichment"].get, et.enrichments)) if o]
        if isinstance(found, Source) and found.kind != "events":
            self.issue(et, f"source '{et.source}' is a lookup table; an event type reads an events source",
                       at="source")
        source = found if isinstance(found, Source) and found.kind == "events" else None
        ok = self._event_type_own(et) and source is not None and source.name in self.out.sources
        if source is None:
            return None  # nothing to check the mapping against: it is checked once the source is fixed
        bad = self._bad_parts.get(source.name, set()) if source.name not in self.out.sources else set()
        raw = {c.name: c.dtype for c in source.columns}
        with self._follow_ons_of(source if "columns" in bad else None):
            schema = self._event_type_mapping(et, raw)
        with self._follow_ons_of(source if bad & {"columns", "timestamp_column"} else None):
            timestamp_ok = self._event_type_timestamp(et, source)
        if schema is None or not timestamp_ok:
            return None
        with self._follow_ons_of(source if "columns" in bad else None):
            outputs = self._event_type_enrichments(et, schema)
        if not ok or outputs is None:
            return None
        executor = self.plugin_call(et, et.executor, "executor", report=False) if et.executor else None
        return CompiledEventType(
            name=et.name, description=et.description, owners=et.owners, lifecycle=et.lifecycle.value,
            source=et.source, filter=et.filter.node if et.filter is not None else None,
            fields=tuple(CompiledField(name=n, expr=et.fields[n].node, dtype=t) for n, t in sorted(schema.items())
                         if n in et.fields),
            executor=executor[0] if executor else None, enrichments=tuple(et.enrichments),
            output_fields=tuple(ColumnSpec(name=n, dtype=t, nullable=n not in CORE_FIELDS and n != "event_type")
                                for n, t in sorted(outputs.items())),
        )

    @contextmanager
    def _follow_ons_of(self, cause: ConfigObject | None) -> Iterator[None]:
        """Issues raised inside are counted as possible follow-ons of ``cause``'s errors instead of reported
        (when ``cause`` is None, they are reported as usual)."""
        if cause is None:
            yield
            return
        before = len(self.out.issues)
        try:
            yield
        finally:
            caught = self.out.issues[before:]
            del self.out.issues[before:]
            self._follow_ons[_key(cause)].extend(caught)

    def _event_type_own(self, et: EventType) -> bool:
        """The checks that read nothing but the event type itself (and the names it refers to)."""
        ok = True
        for name in sorted(et.fields):
            if not NAME_PATTERN.match(name):
                self.issue(et, f"field name {name!r} must be snake_case", at=f"fields.{name}")
                ok = False
        for core in CORE_TYPES:
            if core not in et.fields:
                self.issue(et, f"missing required field '{core}' in the mapping",
                           hint=f"every event type maps {', '.join(CORE_FIELDS)}", at="fields")
                ok = False
        if "event_type" in et.fields:
            self.issue(et, "field 'event_type' is reserved; the platform sets it to the event type's name",
                       at="fields.event_type")
            ok = False
        if et.executor is not None and self.plugin_call(et, et.executor, "executor") is None:
            ok = False
        twice = sorted({n for n in et.enrichments if et.enrichments.count(n) > 1})
        if twice:
            second = next(i for i, n in enumerate(et.enrichments) if n in twice and et.enrichments.index(n) < i)
            self.issue(et, f"enrichment(s) listed twice: {', '.join(twice)}", at=f"enrichments[{second}]",
                       hint="each enrichment applies once; remove the repeated entry")
            ok = False
        for index, name in enumerate(et.enrichments):
            if self.lookup(et, "enrichment", name, "enrichment", at=f"enrichments[{index}]") is None:
                ok = False
        return ok

    def _event_type_mapping(self, et: EventType, raw: dict[str, DType]) -> dict[str, DType] | None:
        """The filter and the mapping, type-checked against the source's columns: the mapped schema."""
        ok = True
        if et.filter is not None:
            dtype, errors = infer(et.filter.node, raw)
            for error in errors:
                self.issue(et, f"filter: {_suggest(error)}", at=_error_path(et.filter.node, raw, error, "filter"),
                           hint=_expression_hint(error, et, -1, {}))
            if not errors and dtype not in (DType.BOOL, None):
                self.issue(et, f"filter must be boolean, but {et.filter!r} is {dtype}", at="filter")
            if not errors and (never := _never_true(et.filter.node, "filter")) is not None:
                self.issue(et, "filter can never be true: is_in([]) matches no value, so every row would be "
                           "dropped; list the values to match", at=never)
                ok = False
            ok &= not errors
        schema: dict[str, DType] = {}
        for name, expr in sorted(et.fields.items()):
            dtype, errors = infer(expr.node, raw)
            for error in errors:
                self.issue(et, f"field '{name}': {_suggest(error)}",
                           at=_error_path(expr.node, raw, error, f"fields.{name}"),
                           hint=_expression_hint(error, et, -1, {}))
            if errors:
                ok = False
                continue
            if dtype is None:
                self.issue(et, f"field '{name}' is always null; give the literal a type with lit(None, dtype)",
                           at=f"fields.{name}")
                ok = False
                continue
            schema[name] = dtype
        for core, accepted in CORE_TYPES.items():
            if core in schema and schema[core] not in accepted:
                self.issue(et, f"field '{core}' must be {' or '.join(accepted)}, got {schema[core]}",
                           hint="add .cast(...) to the mapping", at=f"fields.{core}")
                ok = False
        return schema if ok else None

    def _event_type_timestamp(self, et: EventType, source: Source) -> bool:
        """The event time is mapped from the source's timestamp_column, nothing else."""
        if "timestamp" not in et.fields or source.timestamp_column is None:
            return True
        read = _columns_of(et.fields["timestamp"].node)
        if read == {source.timestamp_column}:
            return True
        self.issue(et, f"field 'timestamp' must be computed from the source's timestamp_column "
                   f"'{source.timestamp_column}', but reads {', '.join(sorted(read)) or 'no column'}",
                   hint="the event time drives ordering, retention and partitioning; map it from "
                   f"col('{source.timestamp_column}') (or change the source's timestamp_column)",
                   at="fields.timestamp")
        return False

    def _event_type_enrichments(self, et: EventType, mapped: dict[str, DType]) -> dict[str, DType] | None:
        """The executor's and the enrichments' inputs and outputs, in order: the event type's output schema."""
        schema = {**mapped, "event_type": DType.STRING}
        if et.executor is not None:
            outputs = self.apply_plugin(et, et.executor, schema, f"event type '{et.name}'", "executor", report=False)
            if outputs is None:
                return None
            schema.update({c.name: c.dtype for c in outputs})
        if len(set(et.enrichments)) < len(et.enrichments) or any(
            n not in self.by_kind["enrichment"] for n in et.enrichments
        ):
            return None  # reported by _event_type_own
        for index, enrichment_name in enumerate(et.enrichments):
            enriched = self.apply_enrichment(et, index, schema)
            if enriched is None:
                return None
            clashes = sorted({c.name for c in enriched} & set(schema))
            if clashes:
                self.issue(et, f"enrichment '{enrichment_name}' adds field(s) {', '.join(clashes)} that the event "
                           "type already has", hint="rename the output field in the enrichment",
                           at=f"enrichments[{index}]")
                return None
            schema.update({c.name: c.dtype for c in enriched})
        return schema

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
            self.issue(sf, "needs at least one event type", at="event_types")
            return None
        twice = sorted({name for name in sf.event_types if sf.event_types.count(name) > 1})
        if twice:
            second = next(i for i, n in enumerate(sf.event_types) if n in twice and sf.event_types.index(n) < i)
            self.issue(sf, f"event type(s) listed twice: {', '.join(twice)}", at=f"event_types[{second}]")
            ok = False
        event_types: list[CompiledEventType] = []
        unknown = False
        failed: list[ConfigObject] = []
        for position, name in enumerate(sf.event_types):
            obj = self.lookup(sf, "event_type", name, "event type", at=f"event_types[{position}]")
            if obj is None:
                ok, unknown = False, True
                continue
            ok &= self._lifecycle(sf, obj, "event type", f"event_types[{position}]")
            assert isinstance(obj, EventType)
            for enrichment_name in obj.enrichments:
                enrichment = self.by_kind["enrichment"].get(enrichment_name)
                if enrichment is not None:
                    ok &= self._lifecycle(sf, enrichment, f"enrichment (via event type '{name}')",
                                          f"event_types[{position}]")
            self._uses[_key(sf)].append(_key(obj))
            compiled = self.out.event_types.get(name)
            if compiled is None:
                ok = False  # its own issues are reported on the event type
                failed.append(obj)
                continue
            event_types.append(compiled)
        for index, name in enumerate(sf.fields):
            if name in sf.fields[:index] and name not in ALWAYS_PROJECTED and name not in sf.fields[index + 1:]:
                self.issue(sf, f"projected field '{name}' is listed twice", at=f"fields[{index}]")
                ok = False
        if not event_types:
            return None  # the projection has nothing to be checked against until an event type is fixed
        # What the projection reads from event types that are unknown or invalid is unknown: its errors may
        # only follow from theirs, so they are counted on those errors instead of reported.
        with self._follow_ons_of(sf if unknown else failed[0] if failed else None):
            projection = self._projection(sf, event_types)
        if not ok or projection is None:
            return None
        key_type, projected = projection
        return CompiledFeature(
            id=sf.feature_id, name=sf.name, version=sf.version, description=sf.description, owners=sf.owners,
            lifecycle=sf.lifecycle.value, entity_key=ColumnSpec(name="user_id", dtype=key_type, nullable=False),
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

    def _projection(self, sf: SequenceFeature, event_types: list[CompiledEventType]
                    ) -> tuple[DType, list[ColumnSpec]] | None:
        """The entity key's type and the projected fields, from what the (valid) event types produce."""
        ok = True
        producers: dict[str, dict[str, DType]] = defaultdict(dict)
        for et in event_types:
            for column in et.output_fields:
                producers[column.name][et.name] = column.dtype
        key_types = producers["user_id"]
        if len(set(key_types.values())) > 1:
            self.issue(sf, f"event types disagree on the type of user_id: {_types(key_types)}", at="event_types")
            ok = False
        projected: list[ColumnSpec] = []
        for name in dict.fromkeys((*ALWAYS_PROJECTED, *sf.fields)):
            at = f"fields[{sf.fields.index(name)}]" if name in sf.fields else "fields"
            made_by = producers.get(name)
            if not made_by:
                self.issue(sf, f"projected field '{name}' is produced by none of its event types "
                           f"({', '.join(sf.event_types)}){did_you_mean(name, producers)}",
                           hint="add it to an event type's mapping or enrichments, or drop it from fields", at=at)
                ok = False
                continue
            if len(set(made_by.values())) > 1:
                self.issue(sf, f"projected field '{name}' has different types across event types: "
                           f"{_types(made_by)}", at=at)
                ok = False
                continue
            nullable = (name not in ALWAYS_PROJECTED and len(made_by) < len(event_types)) or any(
                c.nullable for et in event_types for c in et.output_fields if c.name == name
            )
            projected.append(ColumnSpec(name=name, dtype=next(iter(made_by.values())), nullable=nullable))
        for name in sf.dedup_by:
            missing = sorted(et.name for et in event_types if name not in {c.name for c in et.output_fields})
            if missing:
                self.issue(sf, f"dedup_by field '{name}' is not produced by event type(s) {', '.join(missing)}"
                           f"{did_you_mean(name, producers)}", at=f"dedup_by[{sf.dedup_by.index(name)}]")
                ok = False
        if not ok or not key_types:
            return None
        return next(iter(key_types.values())), projected

    def _feature_ranges(self, sf: SequenceFeature) -> bool:
        before = len(self.out.issues)
        low, high = MAX_LENGTH_RANGE
        if not low <= sf.max_length <= high:
            self.issue(sf, f"max_length must be between {low} and {high}, got {sf.max_length}", at="max_length")
        if not 1 <= sf.version <= MAX_VERSION:
            self.issue(sf, f"version must be between 1 and {MAX_VERSION}, got {_short_int(sf.version)}", at="version")
        retention_ok = timedelta(0) < sf.retention <= MAX_RETENTION
        if not retention_ok:
            self.issue(sf, f"retention must be positive and at most {MAX_RETENTION.days} days, got "
                       f"{_duration(sf.retention)}", at="retention")
        elif sf.retention % MIN_LAG:
            # The artefact records whole seconds; truncating silently would serve a shorter window than written.
            retention_ok = False
            self.issue(sf, f"retention must be a whole number of seconds, got {_duration(sf.retention)}: the "
                       "artefact records retention in whole seconds", at="retention")
        fresh = sf.freshness
        for label, lag in (("streaming_max_lag", fresh.streaming_max_lag), ("batch_max_lag", fresh.batch_max_lag)):
            at = f"freshness.{label}"
            if lag <= timedelta(0):
                self.issue(sf, f"freshness.{label} must be positive, got {_duration(lag)}", at=at)
            elif lag < MIN_LAG or lag % MIN_LAG:
                self.issue(sf, f"freshness.{label} must be a whole number of seconds (at least 1 s), got "
                           f"{_duration(lag)}: the artefact records lags in whole seconds", at=at)
            elif label == "batch_max_lag" and lag < BATCH_CADENCE:
                self.issue(sf, f"freshness.batch_max_lag ({_duration(lag)}) is shorter than the batch cadence "
                           "(one partition a day): the batch path cannot keep that promise", at=at,
                           hint="promise at least timedelta(days=1) plus the time the daily run takes")
            elif retention_ok and lag > sf.retention:
                self.issue(sf, f"freshness.{label} ({lag}) exceeds retention ({sf.retention}): every event would "
                           "have expired before it is guaranteed to be servable", at=at)
        for key, value in sf.tags.items():
            if not _TAG_KEY.fullmatch(key):
                self.issue(sf, f"tag key '{_escaped(key)}' must be 1-63 letters, digits, '_', '.' or '-', starting "
                           "with a letter or digit", at=f"tags.{key}")
            elif not _TAG_VALUE.fullmatch(value):
                self.issue(sf, f"tag value '{_escaped(value)}' (of tag '{key}') must be at most 200 printable "
                           "characters, without leading or trailing spaces", at=f"tags.{key}")
        if fresh.batch_deadline_cron is not None:
            problem = cron_problem(fresh.batch_deadline_cron)
            if problem:
                self.issue(sf, f"freshness.batch_deadline_cron {fresh.batch_deadline_cron!r} is not a valid cron: "
                           f"{problem}", hint="5 fields: minute hour day-of-month month day-of-week, e.g. "
                           "'0 6 * * *'", at="freshness.batch_deadline_cron")
        if sf.serving_default_length is not None and not 1 <= sf.serving_default_length <= sf.max_length:
            self.issue(sf, f"serving_default_length must be between 1 and max_length ({sf.max_length})",
                       at="serving_default_length")
        if not sf.dedup_by:
            self.issue(sf, "dedup_by needs at least one field (event_id de-duplicates exact replays)", at="dedup_by")
        return len(self.out.issues) == before

    def _lifecycle(self, sf: SequenceFeature, dep: ConfigObject, what: str, at: str) -> bool:
        stage: Lifecycle = getattr(dep, "lifecycle", Lifecycle.EXPERIMENTAL)
        if stage in FORBIDDEN_DEPENDENCIES.get(sf.lifecycle, frozenset()):
            self.issue(sf, f"lifecycle violation: a {sf.lifecycle.value} sequence uses {stage.value} {what} "
                       f"'{dep.name}'",
                       hint=f"promote '{dep.name}' or keep this sequence below {sf.lifecycle.value}", at=at)
            return False
        return True

    def count_follow_ons(self) -> None:
        """Count the held-back follow-on errors on the error they may follow from.

        They are counted on the first issue of the object they were held back for, or, when that object has
        no issue of its own (an event type invalid only through its source), of the first object it uses
        that has one. Should none have any, they are reported after all: never silently dropped."""
        by_object: dict[tuple[str, str], list[ValidationIssue]] = defaultdict(list)
        for issue in self.out.issues:
            by_object[(issue.kind, issue.name)].append(issue)

        def root(key: tuple[str, str], seen: frozenset[tuple[str, str]]) -> tuple[str, str] | None:
            if key in by_object:
                return key
            for used in self._uses.get(key, ()):
                if used not in seen and (found := root(used, seen | {used})) is not None:
                    return found
            return None

        counted: dict[tuple[str, str], set[ValidationIssue]] = defaultdict(set)
        for cause, caught in self._follow_ons.items():
            if not caught:
                continue  # checked under a cause, but nothing failed: nothing to count
            target = root(cause, frozenset({cause}))
            if target is None:
                self.out.issues.extend(caught)
            else:
                counted[target].update(caught)
        for target, held in counted.items():
            first = min(by_object[target])
            objects = ", ".join(sorted({f"{i.kind} '{i.name}'" for i in held}))
            many = len(held) != 1
            text = (f"{len(held)} follow-on error{'s' if many else ''} suppressed (in {objects}): "
                    f"{'they' if many else 'it'} may only follow from this one")
            self.out.issues[self.out.issues.index(first)] = ValidationIssue(
                file=first.file, line=first.line, kind=first.kind, name=first.name, message=first.message,
                hint=f"{first.hint}; {text}" if first.hint else text)

    def blame_misfit_uses(self) -> None:
        """A shared value that is wrong for one of its users but fine for another (a tuple of projected fields
        that one feature's event types produce and another's do not) is not wrong where it is built: the use
        is. Such an issue is blamed at the user's argument, naming where the value comes from."""
        users: dict[tuple[str, int, object], list[ConfigObject]] = defaultdict(list)
        for objects in self.by_kind.values():
            for each in objects.values():
                for where in {(o.file, o.line, o.call) for o in each.origins.values()}:
                    users[where].append(each)
        blamed = {(i.file, i.line, i.kind, i.name) for i in self.out.issues}
        for index, issue in enumerate(self.out.issues):
            user = self._shared_uses.get(issue)
            if user is None:
                continue
            obj: ConfigObject = user
            path = self._shared_paths[issue]
            origin = obj.origin_of(path)
            if origin is None:
                continue
            fine = [u for u in users[(origin.file, origin.line, origin.call)] if u is not obj and
                    (issue.file, issue.line, u.kind_label, _escaped(u.name)) not in blamed]
            if not fine:
                continue
            site = obj.defined_at.at(path)
            moved = ValidationIssue(
                file=display_path(site.file), line=site.line, kind=issue.kind, name=issue.name, message=issue.message,
                hint=(f"{issue.hint}; " if issue.hint else "") + f"the value comes from {issue.file}:{issue.line}, "
                f"which fits {fine[0].kind_label} '{fine[0].name}': it is this use that does not fit")
            self.out.issues[index] = moved
            self._objects[moved] = obj
            del self._shared_uses[issue]

    def fold_event_types(self) -> None:
        """An enrichment's error that every event type using it runs into (a derived field's type error, the
        same whatever the event type) is one error, naming the event types, rather than one per event type."""
        groups: dict[tuple[object, ...], list[ValidationIssue]] = defaultdict(list)
        for issue in self.out.issues:
            if (tag := self._per_event_type.get(issue)) is not None:
                groups[(issue.file, issue.line, issue.kind, issue.name, tag[0])].append(issue)
        for group in groups.values():
            if len(group) < 2:
                continue
            first = group[0]
            template = self._per_event_type[first][0]
            names = ", ".join(f"'{n}'" for n in sorted({self._per_event_type[i][1] for i in group}))
            merged = ValidationIssue(file=first.file, line=first.line, kind=first.kind, name=first.name,
                                     hint=first.hint, message=template.replace(_EVENT_TYPES, names))
            self.out.issues = [merged if i is first else i for i in self.out.issues if i is first or i not in group]
            if first in self._shared_uses:
                self._shared_uses[merged] = self._shared_uses[first]
            if first in self._objects:
                self._objects[merged] = self._objects[first]
            for other in group:
                self._shared_uses.pop(other, None)

    def owners(self) -> None:
        """Owners are people or teams, as Dagster accepts them (:mod:`.owners`); a production sequence feature
        (a consumer contract) must have at least one."""
        for objects in self.by_kind.values():
            for obj in objects.values():
                for index, owner in enumerate(obj.owners):
                    if problem := owner_problem(owner):
                        self.issue(obj, problem, hint="Dagster refuses it, so the code location would not load",
                                   at=f"owners[{index}]")
                if isinstance(obj, SequenceFeature) and obj.lifecycle == Lifecycle.PRODUCTION and not obj.owners:
                    self.issue(obj, f"a production {obj.kind_label} needs at least one owner",
                               hint="owners=('team-...',): who is paged when the contract breaks",
                               at="lifecycle")


def resolve(discovered: list[Discovered]) -> Resolved:
    """Validate everything and build the compiled models of everything valid."""
    checker = _Checker(discovered)
    checker.owners()
    checker.sources()
    checker.enrichments()
    checker.event_types()
    used = sorted({name for et in checker.out.event_types.values() for name in et.enrichments})
    for name in used:
        compiled = checker.finish_enrichment(name)
        if compiled is not None:
            checker.out.enrichments[name] = compiled
    checker.features()
    checker.blame_misfit_uses()
    checker.fold_event_types()
    checker.count_follow_ons()
    checker.out.issues = sorted(_fold_shared(checker.out.issues, checker._shared_uses, checker._objects))
    return checker.out


_EVENT_TYPES = "\x00event types\x00"
"""Where the names of the event types go in a message folded over several (see ``fold_event_types``)."""


def _same_values(one: ConfigObject, other: ConfigObject) -> bool:
    """Whether two objects hold the same arguments (one is a ``copy.copy`` of the other)."""
    try:
        return type(one) is type(other) and one.model_dump(mode="json") == other.model_dump(mode="json")
    except Exception:  # a value that does not serialise: not worth a hint
        return False


def _never_true(node: ExprNode, path: str) -> str | None:
    """The path of an ``is_in([])`` that every row must pass (the filter itself, or a term of its ``&``
    chain), which no row can: a filter that silently drops everything. Under ``~`` or ``|`` it is legitimate."""
    if node.op is ExprOp.IS_IN and not node.values:
        return path
    if node.op is ExprOp.AND:
        for index, arg in enumerate(node.args):
            if (found := _never_true(arg, f"{path}.args[{index}]")) is not None:
                return found
    return None


def _error_path(node: ExprNode, schema: dict[str, DType], error: str, path: str) -> str:
    """The argument path of the innermost sub-expression of ``node`` (at ``path``) that ``error`` is about:
    ``filter.args[1]`` for the right operand of an ``&``. A sub-expression a helper built is blamed in the
    helper (see ``ConfigObject.blame``), and one written inline at its own line."""
    while True:
        for index, arg in enumerate(node.args):
            if error in infer(arg, schema)[1]:
                node, path = arg, f"{path}.args[{index}]"
                break
        else:
            return path


def _where(obj: ConfigObject) -> str:
    site = obj.defined_at
    where = f"{obj.kind_label} '{obj.name}' at {display_path(site.file)}:{site.line}"
    if site.called_from is not None:
        where += f" (called from {display_path(site.called_from[0])}:{site.called_from[1]})"
    return where


def _written_in_call(obj: ConfigObject, issue: ValidationIssue) -> bool:
    """Whether ``issue`` is blamed inside ``obj``'s own constructor call (a value written inline)."""
    site = obj.defined_at
    last = site.call[1] if site.call else site.line
    return display_path(site.file) == issue.file and site.line <= issue.line <= last


def _key(obj: ConfigObject) -> tuple[str, str]:
    """An object as its issues name it (kind and escaped name)."""
    return obj.kind_label, _escaped(obj.name)


def _fold_shared(issues: list[ValidationIssue], uses: dict[ValidationIssue, ConfigObject],
                 objects: dict[ValidationIssue, ConfigObject]) -> set[ValidationIssue]:
    """One issue per wrong line: the same message at the same line for several objects — a value built once
    (in a helper, as a constant, by the original of a ``model_copy``) and used by several objects, or a
    factory function whose constructor call builds several — is reported once, naming the first user and
    counting the others ("and N more uses"), rather than once per object."""
    groups: dict[tuple[str, int, str], list[ValidationIssue]] = defaultdict(list)
    for issue in issues:
        groups[(issue.file, issue.line, issue.message)].append(issue)
    kept: set[ValidationIssue] = set()
    for group in groups.values():
        # the object written at this line first (its own call holds the value), then by kind and name
        group.sort(key=lambda i: (i in uses, i.kind, i.name))
        first, others = group[0], group[1:]
        if not others and (first not in uses or _written_in_call(uses[first], first)):
            kept.add(first)
            continue
        users = [uses.get(i) or objects.get(i) for i in group]
        described = [_where(u) if u is not None else f"{i.kind} '{i.name}'" for u, i in zip(users, group, strict=True)]
        many = len(others) != 1
        if first in uses:
            text = f"the value is built here and used by {described[0]}"
            if others:
                text += f" and {len(others)} more use{'s' if many else ''} ({'; '.join(described[1:])}): reported once"
        else:
            text = f"this line is wrong for {len(group)} objects ({'; '.join(described)}): reported once"
        hint = f"{first.hint}; {text}" if first.hint else text
        kept.add(ValidationIssue(file=first.file, line=first.line, kind=first.kind, name=first.name,
                                 message=first.message, hint=hint))
    return kept


# ---- messages in the author's words ------------------------------------------------------------------

def did_you_mean(name: str, known: object) -> str:
    """' — did you mean 'x'?' for a near miss among ``known`` (names), else ''."""
    candidates = [str(k) for k in known] if not isinstance(known, str) else []  # type: ignore[attr-defined]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""


def plain_errors(exc: ValidationError, fields: list[str]) -> str:
    """A pydantic ValidationError as plain sentences: no documentation URLs, no Python reprs."""
    out = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "value"
        if error["type"] == "extra_forbidden":
            out.append(f"unknown parameter '{where}'{did_you_mean(str(error['loc'][-1]), fields)} "
                       f"(Extra inputs are not permitted; known: {', '.join(fields)})")
            continue
        value = error.get("input")
        shown = f" (got {json.dumps(value)})" if isinstance(value, str | int | float | bool) else ""
        out.append(f"{where}: {error['msg'].removeprefix('Value error, ')}{shown}")
    return "; ".join(out)


def _short_int(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:10]}…({len(text)} digits)"


def _huge_int(value: object) -> int | None:
    """The first integer outside the 64-bit range in a JSON-like value, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, int) and not isinstance(item, bool) and not -(2**63) <= item < 2**63:
            return item
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def _types(by_name: dict[str, DType]) -> str:
    return ", ".join(f"{name}: {dtype.value}" for name, dtype in sorted(by_name.items()))


def _duration(value: timedelta) -> str:
    """``timedelta(days=1825)`` as "1825 days", ``timedelta(milliseconds=500)`` as "0.5 s"."""
    total = value.total_seconds()
    sign, total = ("-", -total) if total < 0 else ("", total)
    for unit, seconds in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if total >= seconds and total % seconds == 0:
            return f"{sign}{int(total // seconds)} {unit}"
    return f"{sign}{f'{total:.6f}'.rstrip('0').rstrip('.')} s"  # never "2.592e+06 s"


def _outputs(obj: ConfigObject | None) -> set[str]:
    if isinstance(obj, DerivedEnrichment):
        return set(obj.fields)
    if isinstance(obj, LookupEnrichment):
        return set(obj.columns)
    return set()


_UNKNOWN_FIELD = re.compile(r"unknown field '([^']+)'")
_AVAILABLE = re.compile(r"unknown field '([^']+)' \(available: ([^)]*)\)")


_WRITTEN_AS = {
    **{op.value: f".str.{op.value.removeprefix('str_')}()" for op in ExprOp if op.value.startswith("str_")},
    **{op.value: f".dt.{op.value.removeprefix('ts_')}()" for op in ExprOp if op.value.startswith("ts_")},
    ExprOp.STR_CONCAT.value: "concat()", ExprOp.TS_FROM_EPOCH_MS.value: "from_epoch_ms()",
    ExprOp.TS_TO_EPOCH_MS.value: ".dt.epoch_ms()", ExprOp.AND.value: "`&`", ExprOp.OR.value: "`|`",
    ExprOp.NOT.value: "`~`",
}
"""An operation as the config writes it (``.dt.hour()``), for the type rules' messages that name it by its
artefact name (``ts_hour``)."""


def _suggest(error: str) -> str:
    """A type-check error in the config's words, with "did you mean" when it names an unknown field close to an
    available one."""
    for op, written in _WRITTEN_AS.items():
        if error.startswith(f"'{op}' needs "):
            error = f"{written} needs {error.removeprefix(f'{op!r} needs ')}"
            if written.startswith(".dt.") and " got int64 " in error:
                error += "; an integer of epoch milliseconds becomes a timestamp with from_epoch_ms(...)"
            break
    match = _AVAILABLE.search(error)
    if match is None:
        return error
    return error + did_you_mean(match[1], [n.strip() for n in match[2].split(",")])


def _column_problem(name: str | None, types: dict[str, DType]) -> str:
    """Why a named column does not qualify: it is missing (with "did you mean") or has another type."""
    if name is None:
        return ""
    if name not in types:
        return f"; '{name}' is not one of its columns ({', '.join(types)}){did_you_mean(name, types)}"
    return f"; '{name}' is {types[name].value}"


def _expression_hint(error: str, et: EventType, index: int, enrichments: dict[str, ConfigObject]) -> str:
    """A specific hint for the classic slips behind an unknown field."""
    match = _UNKNOWN_FIELD.search(error)
    if match is None:
        return ""
    field_name = match[1]
    if index >= 0:
        current = enrichments.get(et.enrichments[index])
        if field_name in _outputs(current):
            return ("the fields of one DerivedEnrichment do not see each other: each is computed from the event's "
                    "fields before the enrichment; repeat the expression or split it into two enrichments")
        for later in et.enrichments[index + 1:]:
            if field_name in _outputs(enrichments.get(later)):
                return f"enrichment '{later}' provides it but is listed later: list '{later}' first"
    return ""


def _columns_of(node: ExprNode) -> set[str]:
    names = {node.name} if node.op == ExprOp.COL and node.name else set()
    for arg in node.args:
        names |= _columns_of(arg)
    return names


def _path_problem(path: str) -> str:
    """Why a source path could escape the raw data root, or ""."""
    if "://" in path:  # the runtimes' one URL grammar decides what a URL may be
        try:
            parsed = parse_storage_url(path, "source path")
        except StoreError as exc:
            return f"is not a usable URL: {exc}"
        return "" if isinstance(parsed, S3URL) else "must be relative to the raw data root (or an s3:// URL)"
    if path.startswith("/") or "\\" in path or ":" in path:
        return "must be relative to the raw data root (or an s3:// URL)"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "must not contain '..', '.' or empty segments: it could leave the raw data root"
    return ""
