"""The code location: its snapshot, that it loads fast without doing work, and that bad configs do not break it.

The snapshot (``snapshots/definitions.json``) lists every asset with its group, deps, owners, kinds,
tags, partitions and freshness policy, every check, sensor and resource, for the example configs, so
an accidental change to the graph shows in review. Regenerate it deliberately with
``FP_UPDATE_SNAPSHOTS=1 uv run pytest tests/orchestration/test_definitions.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from feature_platform.orchestration import feature_keys, raw_key
from feature_platform.orchestration.keys import CONFIGS_KEY
from tests.conftest import REPO_ROOT
from tests.orchestration.conftest import Platform, check_results, materialized

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def describe(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        policy = node.freshness_policy
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "owners": list(node.owners),
            "kinds": sorted(node.kinds),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/kind/")},
            "materializable": node.is_materializable,
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "backfill_policy": str(node.backfill_policy.policy_type) if node.backfill_policy else None,
            "freshness": _freshness(policy),
            "has_code_version": node.code_version is not None,
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        checks[f"{check_key.asset_key.to_user_string()}:{check_key.name}"] = {
            "blocking": spec.blocking, "partitioned": spec.partitions_def is not None,
        }
    sensors = {
        s.name: {"default_status": s.default_status.value, "interval": s.minimum_interval_seconds,
                 "resources": sorted(s.required_resource_keys)}
        for s in defs.sensors or []
    }
    resources = {k: type(v).__name__ for k, v in sorted((defs.resources or {}).items())}
    executor = defs.resolve_implicit_global_asset_job_def().executor_def.name
    return {"assets": assets, "checks": checks, "sensors": sensors, "resources": resources, "executor": executor}


def _freshness(policy: object) -> str | None:
    if policy is None:
        return None
    if hasattr(policy, "deadline_cron"):
        return f"cron {policy.deadline_cron} {policy.timezone} lower_bound={policy.lower_bound_delta}"  # type: ignore[attr-defined]
    return f"time_window fail={policy.fail_window.to_timedelta()}"  # type: ignore[attr-defined]


def test_definitions_snapshot(platform: Platform) -> None:
    actual = describe(platform.defs())
    if os.environ.get("FP_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert actual == expected, "the asset graph changed; if on purpose, regenerate with FP_UPDATE_SNAPSHOTS=1"


def test_code_versions_are_the_config_hashes_and_metadata_comes_from_the_config(platform: Platform) -> None:
    from feature_platform.compiler import compile_configs

    compiled = compile_configs(platform.configs_dir).artefacts
    graph = platform.defs().resolve_asset_graph()
    for fid, sealed in compiled.items():
        for key in feature_keys(fid).all:
            node = graph.get(key)
            assert node.code_version == sealed.artefact.config_hash
            assert node.group_name == fid
            assert node.tags["lifecycle"] == sealed.artefact.feature.lifecycle
            assert list(node.owners) == [f"team:{o}" for o in sealed.artefact.feature.owners]
    events = graph.get(feature_keys("recent_engagements_v1").events)
    assert {raw_key("engagement_events"), raw_key("item_embeddings"), raw_key("item_categories")} <= events.parent_keys
    assert graph.get(raw_key("engagement_events")).is_external  # shared upstream, not materialisable here


def test_the_code_location_loads_with_dagster_and_builds_without_touching_data(platform: Platform) -> None:
    defs = platform.defs()
    dg.Definitions.validate_loadable(defs)
    defs.resolve_all_job_defs()
    assert not platform.data_dir.exists()  # no store opened, no data read or written


def test_the_module_loads_in_a_fresh_process_in_a_few_seconds(platform: Platform) -> None:
    # CPU seconds (the process's and any child's it waited for), not wall-clock seconds: the work the
    # load does is what the test bounds, and the wall clock on two busy cores mostly measures the
    # other processes (it is about twice the CPU time under `make test`, ~3.5 s CPU here).
    script = (
        "import resource\n"
        "def cpu():\n"
        "    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime\n"
        "t = cpu()\n"
        "from feature_platform.definitions import defs\n"
        "defs.resolve_asset_graph()\n"
        "print(cpu() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True, env=os.environ.copy())
    assert float(out.stdout.strip()) < 15.0
    assert not platform.data_dir.exists()


def test_steps_fork_from_a_server_that_preloaded_the_definitions() -> None:
    from feature_platform.orchestration.executors import _with_forkserver

    assert _with_forkserver({"multiprocess": {"max_concurrent": 2}}) == {"multiprocess": {
        "max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": ["feature_platform.definitions"]}}}}
    assert _with_forkserver({"in_process": {}}) == {"in_process": {}}  # still selectable in run config


def test_invalid_configs_still_load_and_the_configs_check_lists_the_issues(platform: Platform) -> None:
    platform.edit("event_types.py", 'filter=col("action") == "save"', 'filter=col("actionz") == "save"')

    defs = platform.defs()  # must not raise

    graph = defs.resolve_asset_graph()
    assert graph.get(CONFIGS_KEY).is_materializable
    for fid in ("recent_closeups_v1", "recent_engagements_v1", "recent_searches_v1"):  # from discovery
        assert graph.has(feature_keys(fid).compiled)
        assert graph.get(feature_keys(fid).compiled).code_version is None
    assert raw_key("engagement_events") in graph.get(feature_keys("recent_engagements_v1").events).parent_keys
    result = platform.run(dg.AssetSelection.assets(CONFIGS_KEY), defs=defs)
    assert materialized(result) == {"feature_configs"}
    check = check_results(result)["feature_configs:all_configs_valid"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "actionz" in str(check.metadata["issues"].value)


def test_a_config_package_that_cannot_be_imported_at_all_still_loads(platform: Platform) -> None:
    (platform.configs_dir / "sources.py").write_text("this is not python\n")

    graph = platform.defs().resolve_asset_graph()

    assert graph.has(CONFIGS_KEY)
    assert not any(k.path[-1] == "compiled" for k in graph.get_all_asset_keys())


@pytest.mark.parametrize(
    "fixture",
    ["bad_many_errors", "bad_import_failures", "bad_syntax_error", "bad_import_sys_exit", "bad_and_on_expressions",
     "bad_cron_out_of_range", "bad_owner_not_email", "bad_owner_empty_team"],
)
def test_broken_fixture_packages_load(fixture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "invalid" / fixture, tmp_path / fixture)
    monkeypatch.setenv("FP_CONFIGS_DIR", str(tmp_path / fixture))
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path / "data"))
    from feature_platform.orchestration import build_definitions

    defs = build_definitions()
    assert defs.resolve_asset_graph().has(CONFIGS_KEY)
    assert defs.metadata["configs_valid"].value is False


def test_partitions_start_where_configured_and_a_backfill_runs_one_day_per_run(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_PARTITIONS_START", "2026-11-10")
    graph = platform.defs().resolve_asset_graph()
    keys = feature_keys("recent_engagements_v1")
    for key in keys.batch:
        node = graph.get(key)
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.partitions_def.start.date().isoformat() == "2026-11-10"
        # no policy: the daemon launches one run per day tagged dagster/partition, so each check result has its day
        assert node.backfill_policy is None
    # a day's snapshot builds on the previous day's, and is certified after it: the daemon runs those days in order
    assert keys.snapshots in graph.get(keys.snapshots).parent_keys
    assert keys.watermark in graph.get(keys.watermark).parent_keys
    upstream = graph.get_parent_partition_keys_for_child("2026-11-12", keys.snapshots, keys.snapshots)
    assert list(upstream.partitions_subset.get_partition_keys()) == ["2026-11-11"]
