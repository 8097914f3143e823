"""The authoring API: everything a config module needs, in one import line.

    from feature_platform.authoring import EventType, SequenceFeature, col, lit, when
"""

from feature_platform.artefact.dtypes import DType
from feature_platform.authoring._base import ConfigObject, SourceLocation
from feature_platform.authoring.enrichments import (
    DerivedEnrichment,
    Enrichment,
    LookupEnrichment,
    PluginCall,
    PluginEnrichment,
)
from feature_platform.authoring.event_types import CORE_FIELDS, EventType
from feature_platform.authoring.expressions import Expr, coalesce, col, concat, from_epoch_ms, lit, when
from feature_platform.authoring.lifecycle import Lifecycle
from feature_platform.authoring.sequences import Freshness, SequenceFeature
from feature_platform.authoring.sources import BatchOrigin, Column, Source, StreamOrigin

__all__ = [
    "CORE_FIELDS",
    "BatchOrigin",
    "Column",
    "ConfigObject",
    "DType",
    "DerivedEnrichment",
    "Enrichment",
    "EventType",
    "Expr",
    "Freshness",
    "Lifecycle",
    "LookupEnrichment",
    "PluginCall",
    "PluginEnrichment",
    "SequenceFeature",
    "Source",
    "SourceLocation",
    "StreamOrigin",
    "coalesce",
    "col",
    "concat",
    "from_epoch_ms",
    "lit",
    "when",
]
