"""The JSON Schema of the artefact format, for runtimes written in other languages."""

from __future__ import annotations

from typing import Any

from feature_platform.artefact.format import FORMAT_VERSION, Artefact


def artefact_json_schema() -> dict[str, Any]:
    schema = Artefact.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://feature-platform.dev/schemas/artefact-{FORMAT_VERSION}.json"
    schema["title"] = f"feature_platform artefact, format {FORMAT_VERSION}"
    return schema
