"""`feature-platform schema` exports a valid JSON Schema that every compiled artefact satisfies."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from feature_platform.artefact import FORMAT_VERSION
from feature_platform.cli.main import cli
from feature_platform.compiler import artefact_json_schema, compile_configs
from tests.compiler._helpers import EXAMPLE_CONFIGS, VALID_FIXTURE


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    exported: dict[str, Any] = json.loads(result.stdout)
    return exported


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


def _artefacts() -> dict[str, dict[str, Any]]:
    documents = {}
    for configs in (EXAMPLE_CONFIGS, VALID_FIXTURE):
        result = compile_configs(configs)
        assert result.ok, result.issues
        for feature_id, sealed in result.artefacts.items():
            documents[feature_id] = json.loads(sealed.data)
    return documents


ARTEFACTS = _artefacts()


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert FORMAT_VERSION in schema["$id"]
    assert schema == artefact_json_schema()


def test_schema_documents_fields_for_other_runtimes(schema: dict[str, Any]) -> None:
    feature = schema["$defs"]["CompiledFeature"]
    assert feature["additionalProperties"] is False
    assert "max_length" in feature["required"]
    assert feature["properties"]["id"]["description"]
    assert set(schema["$defs"]["DType"]["enum"]) >= {"string", "int64", "timestamp", "list[float32]"}
    assert "ts_from_epoch_ms" in schema["$defs"]["ExprOp"]["enum"]


def test_schema_export_to_a_file(tmp_path: Any) -> None:
    out = tmp_path / "artefact.schema.json"
    result = CliRunner().invoke(cli, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == artefact_json_schema()


@pytest.mark.parametrize("feature_id", sorted(ARTEFACTS))
def test_every_compiled_artefact_validates(validator: Draft202012Validator, feature_id: str) -> None:
    errors = [e.message for e in validator.iter_errors(ARTEFACTS[feature_id])]
    assert errors == []


def _break_max_length(doc: dict[str, Any]) -> None:
    doc["feature"]["max_length"] = str(doc["feature"]["max_length"])


def _break_op(doc: dict[str, Any]) -> None:
    event_type = next(iter(doc["event_types"].values()))
    event_type["filter"]["op"] = "frobnicate"


def _break_dtype(doc: dict[str, Any]) -> None:
    doc["feature"]["fields"][0]["dtype"] = "varchar"


def _add_unknown_key(doc: dict[str, Any]) -> None:
    doc["feature"]["max_lenght"] = 10


def _drop_required(doc: dict[str, Any]) -> None:
    del doc["feature"]["retention_seconds"]


def _fractional_retention(doc: dict[str, Any]) -> None:
    doc["feature"]["retention_seconds"] = 1.5


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (_break_max_length, "is not of type 'integer'"),
        (_break_op, "'frobnicate' is not one of"),
        (_break_dtype, "'varchar' is not one of"),
        (_add_unknown_key, "Additional properties are not allowed ('max_lenght' was unexpected)"),
        (_drop_required, "'retention_seconds' is a required property"),
        (_fractional_retention, "1.5 is not of type 'integer'"),
    ],
    ids=[
        "max_length_as_string",
        "unknown_op",
        "unknown_dtype",
        "unknown_key",
        "missing_required",
        "float_seconds",
    ],
)
def test_a_broken_artefact_fails_validation(
    validator: Draft202012Validator, breakage: Any, complaint: str
) -> None:
    document = copy.deepcopy(ARTEFACTS["recent_engagements_v1"])
    breakage(document)

    messages = [e.message for e in validator.iter_errors(document)]
    # nested errors (the op sits in a recursive anyOf) are reported through their context
    messages += [sub.message for e in validator.iter_errors(document) for sub in e.context or ()]
    assert any(complaint in m for m in messages), messages
