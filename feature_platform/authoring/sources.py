"""Sources: raw event logs and lookup tables, each with its schema, defined once and referenced by name."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictStr

from feature_platform.artefact.dtypes import DType
from feature_platform.authoring._base import ConfigModel, ConfigObject


class Column(ConfigModel):
    """A typed column of a source. ``Column("user_id", "int64", nullable=False)`` works positionally."""

    name: StrictStr = Field(description="Column name in the raw data.")
    dtype: DType = Field(description="Logical type.")
    nullable: bool = Field(default=True, description="Whether raw rows may hold nulls here.")
    description: str = Field(default="", description="What the column holds.")

    def __init__(self, name: str | None = None, dtype: DType | str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        if dtype is not None:
            data["dtype"] = dtype
        super().__init__(**data)


class BatchOrigin(ConfigModel):
    """Day-partitioned Parquet files: ``<path>/<partition_key>=YYYY-MM-DD/*.parquet``."""

    path: StrictStr = Field(description="Table root: relative to the raw data root, or an s3:// URL.")
    partition_key: StrictStr = Field(default="dt", description="Hive partition column holding the day.")
    format: Literal["parquet"] = Field(default="parquet", description="File format.")


class StreamOrigin(ConfigModel):
    """A stream the streaming indexer consumes."""

    stream: StrictStr = Field(description="Stream (topic) name.")


class Source(ConfigObject):
    """A raw event log (``kind="events"``) or a keyed lookup table (``kind="lookup"``)."""

    kind_label = "source"

    kind: Literal["events", "lookup"] = Field(description="Time-partitioned events or a keyed lookup table.")
    columns: tuple[Column, ...] = Field(description="The raw schema.")
    batch: BatchOrigin | None = Field(default=None, description="Batch origin (required for lookups).")
    stream: StreamOrigin | None = Field(default=None, description="Stream origin (events only).")
    timestamp_column: StrictStr | None = Field(default=None, description="Event-time column (events).")
    key_column: StrictStr | None = Field(default=None, description="Primary key column (lookups).")
