"""The JSON Schema of the artefact format, and validating artefact bytes against it.

The schema is generated from the same pydantic models the loader uses, and it is what runtimes
written in other languages validate against; so a release must satisfy it as well as the loader. It
lives beside the format (not in the compiler) because the release gate, which runs where only
artefacts exist, applies it. Not imported by ``feature_platform.artefact`` itself: runtimes that only
load artefacts do not pay for importing ``jsonschema``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema

from feature_platform.artefact.format import FORMAT_VERSION, Artefact


def artefact_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the current artefact format."""
    schema = Artefact.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://feature-platform.dev/schemas/artefact-{FORMAT_VERSION}.json"
    schema["title"] = f"feature_platform artefact, format {FORMAT_VERSION}"
    return schema


def json_schema_errors(data: bytes) -> list[str]:
    """Every violation of the exported JSON Schema by ``data``, as ``path: message``, sorted by path.

    The pydantic loader is more lenient than the schema (it coerces ``"500"`` to ``500``, for one), so
    bytes it accepts can still break a runtime that validates against the schema: hence this check.
    """
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    errors = sorted(_validator().iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    """Built once: generating the schema and checking it costs far more than one validation."""
    schema = artefact_json_schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    return validator_cls(schema)
