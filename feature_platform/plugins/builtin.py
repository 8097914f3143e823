"""The plugins the platform ships. Each is a real piece of per-event logic the expression language lacks."""

from __future__ import annotations

from itertools import pairwise

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.format import ColumnSpec
from feature_platform.plugins.base import ExecutorPlugin
from feature_platform.plugins.registry import register

_NUMERIC = (DType.INT32, DType.INT64, DType.FLOAT32, DType.FLOAT64)


class DwellBucketParams(BaseModel):
    """Bucket a dwell time into ``len(boundaries_ms) + 1`` ordinal buckets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_field: str = Field(default="dwell_ms", description="Numeric dwell time in milliseconds.")
    output_field: str = Field(default="dwell_bucket", description="Output bucket index (int32).")
    boundaries_ms: tuple[int, ...] = Field(
        default=(1_000, 5_000, 15_000, 60_000), description="Strictly increasing bucket upper bounds (ms)."
    )

    @field_validator("boundaries_ms")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            msg = "needs at least one boundary"
            raise ValueError(msg)
        if any(b <= a for a, b in pairwise(value)) or value[0] <= 0:
            msg = f"boundaries must be positive and strictly increasing, got {list(value)}"
            raise ValueError(msg)
        return value


@register
class DwellBucketiser(ExecutorPlugin[DwellBucketParams]):
    """Turns a raw dwell time into an ordinal bucket: 0 below the first boundary, len(b) above the last.

    Negative dwell times are treated as unknown (null), since they come from clock skew on clients.
    """

    name = "dwell_bucketiser"
    description = "Bucket a dwell time (ms) into ordinal buckets."
    params_model = DwellBucketParams

    def input_fields(self, params: DwellBucketParams) -> dict[str, tuple[DType, ...]]:
        return {params.input_field: _NUMERIC}

    def output_fields(self, params: DwellBucketParams) -> tuple[ColumnSpec, ...]:
        return (ColumnSpec(name=params.output_field, dtype=DType.INT32, description="Dwell-time bucket."),)

    def apply(self, frame: pl.LazyFrame, params: DwellBucketParams) -> pl.LazyFrame:
        dwell = pl.col(params.input_field).cast(pl.Float64)
        bucket = pl.lit(0, dtype=pl.Int32)
        for index, boundary in enumerate(params.boundaries_ms, start=1):
            bucket = pl.when(dwell >= boundary).then(pl.lit(index, dtype=pl.Int32)).otherwise(bucket)
        return frame.with_columns(
            pl.when(dwell.is_null() | (dwell < 0)).then(None).otherwise(bucket).cast(pl.Int32)
            .alias(params.output_field)
        )


class QueryNormaliserParams(BaseModel):
    """Normalise free-text search queries so equal intents compare equal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_field: str = Field(default="query", description="Raw query text.")
    output_field: str = Field(default="query_norm", description="Normalised query text.")
    token_count_field: str = Field(default="query_tokens", description="Number of tokens (int32).")
    max_chars: int = Field(default=128, ge=1, le=4096, description="Truncate the normalised text to this.")


@register
class QueryNormaliser(ExecutorPlugin[QueryNormaliserParams]):
    """Lower-cases, strips punctuation, collapses whitespace, truncates, and counts tokens."""

    name = "query_normaliser"
    description = "Normalise search query text and count its tokens."
    params_model = QueryNormaliserParams

    def input_fields(self, params: QueryNormaliserParams) -> dict[str, tuple[DType, ...]]:
        return {params.input_field: (DType.STRING,)}

    def output_fields(self, params: QueryNormaliserParams) -> tuple[ColumnSpec, ...]:
        return (
            ColumnSpec(name=params.output_field, dtype=DType.STRING, description="Normalised query."),
            ColumnSpec(name=params.token_count_field, dtype=DType.INT32, description="Query token count."),
        )

    def apply(self, frame: pl.LazyFrame, params: QueryNormaliserParams) -> pl.LazyFrame:
        text = (
            pl.col(params.input_field)
            .str.to_lowercase()
            .str.replace_all(r"[^\p{L}\p{N}\s]", " ")
            .str.replace_all(r"\s+", " ")
            .str.strip_chars()
            .str.slice(0, params.max_chars)
            .str.strip_chars()
        )
        normalised = pl.when(text == "").then(None).otherwise(text)
        return frame.with_columns(normalised.alias(params.output_field)).with_columns(
            pl.col(params.output_field).str.split(" ").list.len().fill_null(0).cast(pl.Int32)
            .alias(params.token_count_field)
        )
