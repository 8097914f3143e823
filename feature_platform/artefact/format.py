"""The compiled artefact format: what the compiler writes and every runtime reads.

These pydantic models are the format's single definition: the compiler builds them, ``schema`` exports
their JSON Schema for non-Python runtimes, and the loader parses and checks them. An artefact is
self-contained: it carries the closure of event types, enrichments and sources its feature uses.

Versioning: ``FORMAT_VERSION`` is ``MAJOR.MINOR``. A minor bump only adds optional fields or operations;
a major bump changes meaning, and runtimes refuse a major version they do not know
(:mod:`feature_platform.artefact.loader`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.expressions import ExprNode

FORMAT_VERSION = "1.0"

Lifecycle = Literal["experimental", "staging", "production", "deprecated"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnSpec(_Frozen):
    """A named, typed column."""

    name: str = Field(description="Column name.")
    dtype: DType = Field(description="Logical type.")
    nullable: bool = Field(default=True, description="Whether the column may hold nulls.")
    description: str = Field(default="", description="What the column means.")


class BatchOriginSpec(_Frozen):
    """Where a source's batch data lives: day-partitioned Parquet under ``path``."""

    path: str = Field(description="Table root, relative to the raw data root or an s3:// URL.")
    format: Literal["parquet"] = Field(default="parquet", description="File format.")
    partition_key: str = Field(default="dt", description="Hive partition column holding the day.")


class StreamOriginSpec(_Frozen):
    """Where a source's events arrive as a stream."""

    stream: str = Field(description="Stream (topic) name.")


class CompiledSource(_Frozen):
    """A raw event log or a lookup table, with its schema."""

    name: str
    kind: Literal["events", "lookup"] = Field(description="Time-partitioned events or a keyed lookup table.")
    description: str = ""
    owners: tuple[str, ...] = ()
    columns: tuple[ColumnSpec, ...] = Field(description="Raw schema, sorted by name.")
    batch: BatchOriginSpec | None = None
    stream: StreamOriginSpec | None = None
    timestamp_column: str | None = Field(default=None, description="Event-time column (events sources).")
    key_column: str | None = Field(default=None, description="Primary key column (lookup sources).")


class PluginCall(_Frozen):
    """A reference to an executor plugin with its validated parameters (defaults filled in)."""

    plugin: str = Field(description="Registered plugin name.")
    params: dict[str, JsonValue] = Field(default_factory=dict, description="Validated parameters.")


class CompiledField(_Frozen):
    """A normalised field: its name, the expression computing it and the expression's type."""

    name: str
    expr: ExprNode
    dtype: DType


class LookupSpec(_Frozen):
    """Join a lookup table on ``event_field == source.key_column`` and take ``columns`` from it."""

    source: str
    event_field: str
    columns: dict[str, str] = Field(description="Output field name -> lookup table column.")


class CompiledEnrichment(_Frozen):
    """How one signal is fetched or derived, and the fields it adds to an event."""

    name: str
    kind: Literal["lookup", "derived", "plugin"]
    description: str = ""
    owners: tuple[str, ...] = ()
    lifecycle: Lifecycle = "experimental"
    lookup: LookupSpec | None = None
    derived: tuple[CompiledField, ...] | None = None
    plugin: PluginCall | None = None
    output_fields: tuple[ColumnSpec, ...] = Field(description="Fields this enrichment adds, sorted by name.")


class CompiledEventType(_Frozen):
    """One event type: source, filter, raw -> normalised mapping, enrichments, executor."""

    name: str
    description: str = ""
    owners: tuple[str, ...] = ()
    lifecycle: Lifecycle = "experimental"
    source: str
    filter: ExprNode | None = None
    fields: tuple[CompiledField, ...] = Field(description="Normalised fields, sorted by name.")
    executor: PluginCall | None = None
    enrichments: tuple[str, ...] = Field(description="Enrichments applied, in application order.")
    output_fields: tuple[ColumnSpec, ...] = Field(
        description="Schema after mapping, executor and enrichments, sorted by name."
    )


class FreshnessSpec(_Frozen):
    """The documented freshness (streaming) and completeness (batch) profile of a sequence."""

    streaming_max_lag_seconds: int = Field(description="Events are servable within this lag.")
    batch_max_lag_seconds: int = Field(description="The batch snapshot is at most this old.")
    batch_deadline_cron: str | None = Field(default=None, description="When each day's batch is due (UTC).")


class CompiledFeature(_Frozen):
    """The sequence feature itself: the consumer contract."""

    id: str = Field(description="Stable identity: `<name>_v<version>`.")
    name: str
    version: int
    description: str = ""
    owners: tuple[str, ...] = ()
    lifecycle: Lifecycle
    entity_key: ColumnSpec = Field(description="The key sequences are grouped by (the user id).")
    event_types: tuple[str, ...] = Field(description="Event types drawn from, sorted.")
    max_length: int
    retention_seconds: int
    order: Literal["recent_first"] = "recent_first"
    dedup_by: tuple[str, ...] = Field(description="Fields identifying a duplicate; the latest is kept.")
    fields: tuple[ColumnSpec, ...] = Field(
        description="Output schema of one sequence element, in consumer order (keys first)."
    )
    freshness: FreshnessSpec
    serving_default_length: int | None = Field(default=None, description="Elements returned when n is unset.")
    tags: dict[str, str] = Field(default_factory=dict)


class Artefact(_Frozen):
    """One self-contained compiled sequence feature."""

    format_version: str = Field(description="`MAJOR.MINOR` of this format.")
    compiler_version: str = Field(description="Version of the compiler that wrote it.")
    feature: CompiledFeature
    event_types: dict[str, CompiledEventType]
    enrichments: dict[str, CompiledEnrichment]
    sources: dict[str, CompiledSource]
    config_hash: str = Field(description="sha256 of the feature's config closure, without compiler metadata.")
    content_hash: str | None = Field(default=None, description="sha256 of the canonical bytes without this field.")


class ManifestEntry(_Frozen):
    """One feature in a compiled set."""

    id: str
    name: str
    version: int
    lifecycle: Lifecycle
    owners: tuple[str, ...]
    path: str = Field(description="Artefact file, relative to the manifest.")
    content_hash: str
    config_hash: str
    event_types: tuple[str, ...]
    enrichments: tuple[str, ...]
    sources: tuple[str, ...]


class Manifest(_Frozen):
    """The whole compiled set."""

    format_version: str
    compiler_version: str
    features: dict[str, ManifestEntry]
