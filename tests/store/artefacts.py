"""Minimal valid artefacts for store tests, built without the compiler.

The store only cares that bytes are a sealed, canonical artefact; the content is irrelevant, so a
tiny feature with no event types is enough. Varying ``description`` gives distinct hashes.
"""

from __future__ import annotations

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.format import (
    FORMAT_VERSION,
    Artefact,
    ColumnSpec,
    CompiledFeature,
    FreshnessSpec,
)
from feature_platform.artefact.loader import seal_artefact

FEATURE_ID = "clicks_v1"


def make_artefact(description: str = "", feature_id: str = FEATURE_ID) -> Artefact:
    name, _, version = feature_id.rpartition("_v")
    return Artefact(
        format_version=FORMAT_VERSION,
        compiler_version="test",
        feature=CompiledFeature(
            id=feature_id,
            name=name,
            version=int(version),
            description=description,
            lifecycle="experimental",
            entity_key=ColumnSpec(name="user_id", dtype=DType.INT64, nullable=False),
            event_types=(),
            max_length=10,
            retention_seconds=86_400,
            dedup_by=(),
            fields=(ColumnSpec(name="user_id", dtype=DType.INT64, nullable=False),),
            freshness=FreshnessSpec(streaming_max_lag_seconds=60, batch_max_lag_seconds=86_400),
        ),
        event_types={},
        enrichments={},
        sources={},
        config_hash="0" * 64,
    )


def sealed(description: str = "", feature_id: str = FEATURE_ID) -> tuple[bytes, str]:
    """Canonical bytes and content hash of a minimal artefact."""
    return seal_artefact(make_artefact(description, feature_id))


def sealed_with_format_version(format_version: str, description: str = "") -> tuple[bytes, str]:
    """A correctly sealed artefact claiming another format version (as a future compiler would write)."""
    return seal_artefact(make_artefact(description).model_copy(update={"format_version": format_version}))
