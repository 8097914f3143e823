"""The compiled artefact: its format, canonical encoding and loader.

This package is what every runtime imports. It must never import the authoring API, the compiler
or ``feature_configs`` (checked by the import-linter contract in ``pyproject.toml``).
"""

from feature_platform.artefact.canonical import canonical_bytes, claimed_and_actual_hash, seal
from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.expressions import ExprNode, ExprOp
from feature_platform.artefact.format import (
    FORMAT_VERSION,
    Artefact,
    ColumnSpec,
    CompiledEnrichment,
    CompiledEventType,
    CompiledFeature,
    CompiledField,
    CompiledSource,
    Manifest,
    ManifestEntry,
    PluginCall,
)
from feature_platform.artefact.loader import load_artefact, parse_artefact, seal_artefact

__all__ = [
    "FORMAT_VERSION",
    "Artefact",
    "ColumnSpec",
    "CompiledEnrichment",
    "CompiledEventType",
    "CompiledFeature",
    "CompiledField",
    "CompiledSource",
    "DType",
    "ExprNode",
    "ExprOp",
    "Manifest",
    "ManifestEntry",
    "PluginCall",
    "canonical_bytes",
    "claimed_and_actual_hash",
    "load_artefact",
    "parse_artefact",
    "seal",
    "seal_artefact",
]
