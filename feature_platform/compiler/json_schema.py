"""The JSON Schema of the artefact format, for runtimes written in other languages.

Defined in :mod:`feature_platform.artefact.schema` (the release gate validates against it without the
compiler); re-exported here because ``feature-platform schema`` is a compiler command.
"""

from __future__ import annotations

from feature_platform.artefact.schema import artefact_json_schema

__all__ = ["artefact_json_schema"]
