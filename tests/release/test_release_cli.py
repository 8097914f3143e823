"""The release path as a user drives it: plan → publish → history → rollback, on a copy of the configs.

Covers: a first publish, an idempotent re-publish, metadata-only changes, a breaking change to a
production feature refused with exit code 3 (and the pointer untouched), the safe way (a new version),
rollback to the previous and to a named version, a corrupt stored artefact refused, and the same flow
on the loopback S3 server through exactly the code path used for real S3.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from feature_platform.cli.main import cli
from feature_platform.settings import PlatformSettings
from feature_platform.store import open_store_from_settings
from tests.conftest import REPO_ROOT

ENGAGEMENTS = "recent_engagements_v1"


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    """A private copy of the example configs that a test may edit."""
    target = tmp_path / "repo" / "feature_configs"
    shutil.copytree(REPO_ROOT / "feature_configs", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("FP_DATA_DIR", str(data))
    monkeypatch.setenv("FP_ACTOR", "release-test")
    monkeypatch.delenv("FP_ARTEFACT_STORE", raising=False)
    return data


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def generations(feature: str, env: str = "dev") -> list[tuple[int, str, str]]:
    store = open_store_from_settings(PlatformSettings())
    return [(e.generation, e.action, e.to_hash) for e in store.history(env, feature)]


def test_first_publish_then_republish_is_a_no_op(local_env: Path, configs: Path) -> None:
    first = run("publish", "--configs", str(configs), "--env", "dev")
    assert first.exit_code == 0, first.output
    assert "3 to add" in first.output
    assert f"{ENGAGEMENTS}" in first.output and "(generation 1)" in first.output
    history = generations(ENGAGEMENTS)
    assert [(g, a) for g, a, _ in history] == [(1, "publish")]

    again = run("publish", "--configs", str(configs), "--env", "dev")
    assert again.exit_code == 0, again.output
    assert "No changes: 3 feature(s) up to date." in again.output
    assert generations(ENGAGEMENTS) == history

    shown = run("history", "--env", "dev", "--feature", ENGAGEMENTS)
    assert shown.exit_code == 0
    assert "release-test" in shown.output and history[0][2][:12] in shown.output


def test_plan_json_lists_every_feature_with_its_transition(local_env: Path, configs: Path) -> None:
    result = run("plan", "--configs", str(configs), "--env", "dev", "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)  # stderr notes that the store does not exist yet
    assert {d["feature_id"]: d["transition"] for d in plan["diffs"]} == {
        "recent_closeups_v1": "create",
        ENGAGEMENTS: "create",
        "recent_searches_v1": "create",
    }


def test_metadata_change_publishes_a_new_generation(local_env: Path, configs: Path) -> None:
    assert run("publish", "--configs", str(configs)).exit_code == 0
    edit(configs / "sequences.py", "the homefeed ranker's main input", "the homefeed ranker's main input (v1)")
    planned = run("plan", "--configs", str(configs))
    assert "metadata_only" in planned.output
    assert run("publish", "--configs", str(configs)).exit_code == 0
    assert [(g, a) for g, a, _ in generations(ENGAGEMENTS)] == [(1, "publish"), (2, "publish")]


def test_breaking_change_to_production_feature_is_refused_with_exit_3(local_env: Path, configs: Path) -> None:
    assert run("publish", "--configs", str(configs)).exit_code == 0
    before = generations(ENGAGEMENTS)
    edit(configs / "sequences.py", 'fields=(*ITEM_FIELDS, "dwell_bucket", "hour_of_day"),',
         'fields=(*ITEM_FIELDS, "dwell_bucket"),')

    planned = run("plan", "--configs", str(configs))
    assert planned.exit_code == 0
    assert "breaking" in planned.output and "feature.fields[hour_of_day]" in planned.output

    refused = CliRunner().invoke(cli, ["publish", "--configs", str(configs)])
    assert refused.exit_code == 3, refused.output
    assert "refusing to publish" in refused.output
    assert "recent_engagements_v2" in refused.output  # says how: bump the version
    assert generations(ENGAGEMENTS) == before  # nothing moved

    # Removing the production v1 outright is refused too: its consumers would break.
    edit(configs / "sequences.py", 'name="recent_engagements",', 'name="recent_engagements",\n    version=2,')
    removed = CliRunner().invoke(cli, ["publish", "--configs", str(configs)])
    assert removed.exit_code == 3 and "deprecated" in removed.output

    # The safe way: the new schema as version 2, next to the unchanged version 1.
    with (configs / "sequences.py").open("a") as f:
        f.write(
            "\nrecent_engagements_v1_kept = recent_engagements.model_copy(\n"
            "    update={'version': 1, 'fields': (*ITEM_FIELDS, 'dwell_bucket', 'hour_of_day')})\n"
        )
    published = run("publish", "--configs", str(configs))
    assert published.exit_code == 0, published.output
    assert "recent_engagements_v2" in published.output
    assert generations(ENGAGEMENTS) == before
    assert [(g, a) for g, a, _ in generations("recent_engagements_v2")] == [(1, "publish")]


def test_rollback_to_previous_and_to_a_named_version(local_env: Path, configs: Path) -> None:
    assert run("publish", "--configs", str(configs)).exit_code == 0
    edit(configs / "sequences.py", "max_length=500", "max_length=400")
    assert run("publish", "--configs", str(configs)).exit_code == 0
    (_, _, first), (_, _, second) = generations(ENGAGEMENTS)

    back = run("rollback", "--env", "dev", "--feature", ENGAGEMENTS)
    assert back.exit_code == 0, back.output
    assert f"{second[:12]} -> {first[:12]}" in back.output
    assert generations(ENGAGEMENTS)[-1][1:] == ("rollback", first)

    forward = run("rollback", "--env", "dev", "--feature", ENGAGEMENTS, "--to", second[:10])
    assert forward.exit_code == 0, forward.output
    assert generations(ENGAGEMENTS)[-1] == (4, "rollback", second)

    never = CliRunner().invoke(cli, ["rollback", "--env", "dev", "--feature", ENGAGEMENTS, "--to", "f" * 64])
    assert never.exit_code == 1
    assert "never live" in never.output


def test_a_corrupt_live_artefact_is_refused_and_nothing_is_published(local_env: Path, configs: Path) -> None:
    assert run("publish", "--configs", str(configs)).exit_code == 0
    (_, _, live) = generations(ENGAGEMENTS)[-1]
    stored = local_env / "artefacts" / "objects" / f"{live}.json"
    stored.write_bytes(stored.read_bytes().replace(b'"max_length": 500', b'"max_length": 5000'))

    result = CliRunner().invoke(cli, ["plan", "--configs", str(configs)])
    assert result.exit_code == 1
    assert "corrupt" in result.output and live[:12] in result.output


def test_one_features_damage_does_not_block_planning_or_publishing_another(local_env: Path, configs: Path) -> None:
    assert run("publish", "--configs", str(configs)).exit_code == 0
    (_, _, live) = generations(ENGAGEMENTS)[-1]
    stored = local_env / "artefacts" / "objects" / f"{live}.json"
    stored.write_bytes(stored.read_bytes().replace(b'"max_length": 500', b'"max_length": 5000'))
    edit(configs / "sequences.py", "max_length=100,", "max_length=120,")  # recent_searches (staging) changes

    everything = CliRunner().invoke(cli, ["plan", "--configs", str(configs)])
    assert everything.exit_code == 1 and "corrupt" in everything.output  # the damaged one is named
    assert f"cannot be read, so nothing was planned: {ENGAGEMENTS}: artefact" in everything.output
    assert "store verify --env dev" in everything.output
    assert "with --feature (recent_closeups_v1, recent_searches_v1)" in everything.output
    other = run("plan", "--configs", str(configs), "--feature", "recent_searches_v1")
    assert other.exit_code == 0, other.output
    assert "recent_searches_v1" in other.output and ENGAGEMENTS not in other.output
    published = run("publish", "--configs", str(configs), "--feature", "recent_searches_v1")
    assert published.exit_code == 0, published.output
    assert generations("recent_searches_v1")[-1][0] == 2


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_publish_and_rollback_on_s3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configs: Path, s3_endpoint_url: str, s3_store_url: str
) -> None:
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FP_ARTEFACT_STORE", s3_store_url)
    monkeypatch.setenv("FP_S3_ENDPOINT_URL", s3_endpoint_url)
    monkeypatch.setenv("FP_ACTOR", "s3-test")
    assert run("publish", "--configs", str(configs), "--env", "prod").exit_code == 0
    edit(configs / "sequences.py", "max_length=500", "max_length=450")
    assert run("publish", "--configs", str(configs), "--env", "prod").exit_code == 0
    assert run("rollback", "--env", "prod", "--feature", ENGAGEMENTS).exit_code == 0
    history = generations(ENGAGEMENTS, env="prod")
    assert [(g, a) for g, a, _ in history] == [(1, "publish"), (2, "publish"), (3, "rollback")]
    assert history[2][2] == history[0][2]
    assert not (tmp_path / "data" / "artefacts").exists()  # nothing went to the local default
