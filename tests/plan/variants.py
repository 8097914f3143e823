"""Build artefact variants the way an edited config would compile, without going through the compiler.

Artefacts are frozen pydantic models, so every helper rebuilds the changed sub-model with
``model_copy(update=...)`` and returns a new artefact; the input is never modified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feature_platform.artefact import ColumnSpec, DType
from feature_platform.artefact.format import Artefact
from feature_platform.compiler import compile_configs

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / "feature_configs"


def compile_examples(configs: Path = CONFIGS) -> dict[str, Artefact]:
    """Compile a config package in memory and return its artefacts by feature id."""
    result = compile_configs(configs)
    assert result.ok, result.issues
    return {feature_id: sealed.artefact for feature_id, sealed in result.artefacts.items()}


def with_feature(artefact: Artefact, **update: Any) -> Artefact:
    """``artefact`` with fields of its ``feature`` replaced."""
    return artefact.model_copy(update={"feature": artefact.feature.model_copy(update=update)})


def with_event_type(artefact: Artefact, name: str, **update: Any) -> Artefact:
    """``artefact`` with fields of event type ``name`` replaced."""
    event_types = dict(artefact.event_types)
    event_types[name] = event_types[name].model_copy(update=update)
    return artefact.model_copy(update={"event_types": event_types})


def retype_field(artefact: Artefact, field: str, dtype: DType) -> Artefact:
    """Change the dtype of output field ``field``."""
    fields = tuple(
        c.model_copy(update={"dtype": dtype}) if c.name == field else c for c in artefact.feature.fields
    )
    return with_feature(artefact, fields=fields)


def drop_field(artefact: Artefact, field: str) -> Artefact:
    """Remove output field ``field``."""
    return with_feature(artefact, fields=tuple(c for c in artefact.feature.fields if c.name != field))


def insert_field(artefact: Artefact, index: int, column: ColumnSpec) -> Artefact:
    """Insert ``column`` into the output fields at ``index``."""
    fields = list(artefact.feature.fields)
    fields.insert(index, column)
    return with_feature(artefact, fields=tuple(fields))


def as_version(artefact: Artefact, version: int) -> Artefact:
    """The same feature published under another version (and so another id)."""
    name = artefact.feature.name
    return with_feature(artefact, version=version, id=f"{name}_v{version}")
