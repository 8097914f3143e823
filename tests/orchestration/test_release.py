"""compile → validate → publish through Dagster, and the gates that stop it."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

import feature_platform.cli._common as cli_common
from feature_platform.artefact import parse_artefact
from feature_platform.artefact.canonical import HASH_FIELD, seal
from feature_platform.artefact.schema import json_schema_errors
from feature_platform.cli.main import cli
from feature_platform.compiler import CompileResult, compile_configs
from feature_platform.compiler.build import SealedArtefact
from feature_platform.orchestration import feature_keys
from feature_platform.orchestration.keys import ARTEFACT_INTEGRITY, CONFIG_VALID, RELEASE_ALLOWED
from feature_platform.release import JSON_SCHEMA, SealedBytes, check_release
from feature_platform.store import layout, open_store
from tests.orchestration.conftest import Platform, check_results, materialized, selection, step_keys

FEATURE = "recent_engagements_v1"
KEYS = feature_keys(FEATURE)


def _store(platform: Platform):  # type: ignore[no-untyped-def]
    return open_store(str(platform.data_dir / "artefacts"))


def test_release_publishes_the_compiled_artefact_and_every_gate_passes(platform: Platform) -> None:
    result = platform.run(selection(KEYS.release))

    assert result.success
    assert materialized(result) == {k.to_user_string() for k in KEYS.release}
    checks = check_results(result)
    assert {name: e.passed for name, e in checks.items()} == {
        f"{FEATURE}/compiled:{CONFIG_VALID}": True,
        f"{FEATURE}/validated:{RELEASE_ALLOWED}": True,
        f"{FEATURE}/published:{ARTEFACT_INTEGRITY}": True,
    }
    live = _store(platform).load_live("test", FEATURE)
    compiled = result.asset_materializations_for_node(f"{FEATURE}__compiled")[0]
    assert compiled.metadata["content_hash"].value == live.content_hash
    assert compiled.metadata["config_hash"].value == live.config_hash
    published = result.asset_materializations_for_node(f"{FEATURE}__published")[0]
    assert published.metadata["transition"].value == "create"
    assert "Plan: 1 to add" in str(published.metadata["plan"].value)
    assert _store(platform).history("test", FEATURE)[0].actor.startswith("pytest (dagster run ")


def test_a_broken_config_blocks_publishing_and_the_check_says_why(platform: Platform) -> None:
    defs = platform.defs()  # loaded while the configs were valid
    platform.edit("sequences.py", 'fields=(*ITEM_FIELDS, "dwell_bucket", "hour_of_day")',
                  'fields=(*ITEM_FIELDS, "dwell_bucket", "hour_of_dayz")')

    result = platform.run(selection(KEYS.release), defs=defs)

    assert not result.success
    assert materialized(result) == {f"{FEATURE}/compiled"}  # validated and published never ran
    assert f"{FEATURE}__published" not in step_keys(result, "STEP_START")
    check = check_results(result)[f"{FEATURE}/compiled:{CONFIG_VALID}"]
    assert not check.passed
    assert check.severity.value == "ERROR"
    assert "hour_of_dayz" in str(check.metadata["issues"].value)
    assert "sequences.py" in str(check.metadata["first_issue"].value)
    assert _store(platform).current("test", FEATURE) is None  # nothing was published


def test_a_breaking_change_to_a_production_feature_is_refused_before_publishing(platform: Platform) -> None:
    defs = platform.defs()
    assert platform.run(selection(KEYS.release), defs=defs).success
    live_before = _store(platform).current("test", FEATURE)
    platform.edit("sequences.py", 'fields=(*ITEM_FIELDS, "dwell_bucket", "hour_of_day")',
                  'fields=(*ITEM_FIELDS, "dwell_bucket")')

    result = platform.run(selection(KEYS.release), defs=defs)

    assert not result.success
    assert f"{FEATURE}/published" not in materialized(result)
    check = check_results(result)[f"{FEATURE}/validated:{RELEASE_ALLOWED}"]
    assert not check.passed
    assert check.metadata["failed_rules"].value == "breaking_change"
    assert _store(platform).current("test", FEATURE) == live_before


def test_a_corrupt_live_artefact_blocks_batch_indexing(platform: Platform) -> None:
    defs = platform.defs()
    assert platform.run(selection(KEYS.release), defs=defs).success
    live = _store(platform).current("test", FEATURE)
    assert live is not None
    obj = platform.data_dir / "artefacts" / layout.object_key(live.to_hash)
    obj.write_bytes(obj.read_bytes().replace(b'"max_length": 500', b'"max_length": 501'))

    integrity = dg.AssetSelection.checks(dg.AssetCheckKey(KEYS.published, ARTEFACT_INTEGRITY))
    index = selection(KEYS.events, KEYS.rejects, KEYS.snapshots)
    result = platform.run(integrity | index, partition_key="2026-11-02", defs=defs)

    assert not result.success
    check = check_results(result)[f"{FEATURE}/published:{ARTEFACT_INTEGRITY}"]
    assert not check.passed
    assert check.metadata["failed_rules"].value == "content_hash"
    assert "corrupt" in str(check.metadata["rule:content_hash"].value)
    assert f"{FEATURE}__index" not in step_keys(result, "STEP_START")


def _schema_only_violation(configs_dir: Path) -> SealedArtefact:
    """The feature's artefact with ``max_length`` written as a string, re-sealed.

    What a hand-edited or foreign-built artefact may look like: canonical, hashing to its claim, and the
    lenient pydantic loader accepts it (it coerces ``"500"`` to 500), but a runtime validating against
    the JSON Schema would reject it. It breaks exactly one release rule: the JSON Schema.
    """
    good = compile_configs(configs_dir).artefacts[FEATURE]
    document = json.loads(good.data)
    document["feature"]["max_length"] = str(document["feature"]["max_length"])
    data, content_hash = seal({k: v for k, v in document.items() if k != HASH_FIELD})
    artefact = parse_artefact(data, expected_hash=content_hash)  # the loader accepts it...
    assert artefact.feature.max_length == good.artefact.feature.max_length
    assert json_schema_errors(data)  # ...the JSON Schema does not
    return SealedArtefact(artefact=artefact, data=data, content_hash=content_hash)


def test_an_artefact_failing_only_the_json_schema_is_refused_by_cli_publish_and_by_dagster(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _schema_only_violation(platform.configs_dir)
    store = _store(platform)
    verdict = check_release({FEATURE: SealedBytes(artefact=bad.artefact, data=bad.data)}, store, "test", [FEATURE])
    assert list(verdict.failures_of(FEATURE)) == [JSON_SCHEMA]  # the one rule it breaks
    detail = verdict.failures_of(FEATURE)[JSON_SCHEMA]
    assert "max_length" in detail and "is not of type 'integer'" in detail

    # CLI publish: the compile hands over the bad artefact (as a compiler bug would)
    def compile_with_bad_artefact(configs_dir: Path) -> CompileResult:
        result = compile_configs(configs_dir)
        result.artefacts[FEATURE] = bad
        return result

    monkeypatch.setattr(cli_common, "compile_configs", compile_with_bad_artefact)
    refused = CliRunner().invoke(cli, ["publish", "--feature", FEATURE], catch_exceptions=False)
    assert refused.exit_code == 3, refused.output
    assert verdict.refusal() in refused.output
    assert store.current("test", FEATURE) is None

    # Dagster: the bad artefact is the candidate `compiled` recorded; `validated` refuses it
    store.put_artefact(bad.data)
    platform.instance.report_runless_asset_event(
        dg.AssetMaterialization(KEYS.compiled, metadata={"content_hash": bad.content_hash})
    )
    result = platform.run(selection(KEYS.validated, KEYS.published))
    assert not result.success
    check = check_results(result)[f"{FEATURE}/validated:{RELEASE_ALLOWED}"]
    assert not check.passed
    assert check.metadata["failed_rules"].value == JSON_SCHEMA
    assert check.metadata[f"rule:{JSON_SCHEMA}"].value == detail
    assert f"{FEATURE}__published" not in step_keys(result, "STEP_START")

    # ...and `published`, run on its own as if the artefact had been validated, refuses it too
    platform.instance.report_runless_asset_event(
        dg.AssetMaterialization(KEYS.validated, metadata={"content_hash": bad.content_hash})
    )
    published = platform.run(selection(KEYS.published))
    assert not published.success
    failures = [e.step_failure_data for e in published.all_events if e.event_type_value == "STEP_FAILURE"]
    assert any(f.user_failure_data is not None and f.user_failure_data.description == verdict.refusal()
               for f in failures), failures
    assert store.current("test", FEATURE) is None


def test_publishing_a_change_whose_plan_says_backfill_requests_the_reindex(batch_platform: Platform) -> None:
    """Not only a new feature: an update whose impact is ``backfill`` asks the daemon to rebuild the window."""
    keys = feature_keys("recent_closeups_v1")
    first = batch_platform.run(selection(keys.release))
    assert first.success
    before = {b.backfill_id for b in batch_platform.instance.get_backfills()}

    batch_platform.edit("sequences.py", "    max_length=100,\n    retention=timedelta(days=30),",
                        "    max_length=120,\n    retention=timedelta(days=30),")  # what the snapshots hold
    second = batch_platform.run(selection(keys.release))
    assert second.success
    published = next(m for m in second.asset_materializations_for_node(f"{keys.published.path[0]}__published"))
    assert published.metadata["transition"].value == "update"
    assert str(published.metadata["reindex"].value).startswith("backfill ")
    new = [b for b in batch_platform.instance.get_backfills() if b.backfill_id not in before]
    assert len(new) == 1 and new[0].tags.get("feature_platform/trigger", "").startswith("publish:")
    assert str(published.metadata["reindex"].value).startswith(f"backfill {new[0].backfill_id}")
