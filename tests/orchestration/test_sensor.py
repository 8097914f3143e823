"""feature_config_sensor on a private copy of the configs that the tests edit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from feature_platform.orchestration import feature_keys
from feature_platform.orchestration.keys import CONFIGS_KEY
from feature_platform.orchestration.sensors import SENSOR_NAME, ReloadOutcome, request_reload
from tests.conftest import REPO_ROOT
from tests.orchestration.conftest import Platform, selection

ALL = ["recent_closeups_v1", "recent_engagements_v1", "recent_searches_v1"]

NEW_FEATURE = '''
recent_saves = SequenceFeature(
    name="recent_saves",
    description="Saves only.",
    owners=(HOMEFEED,),
    lifecycle=Lifecycle.EXPERIMENTAL,
    event_types=(save,),
    max_length=50,
    retention=timedelta(days=30),
    fields=("item_id",),
    freshness=STANDARD_FRESHNESS,
)
'''


def tick(platform: Platform, defs: dg.Definitions, cursor: str | None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    with dg.build_sensor_context(
        instance=platform.instance, cursor=cursor, definitions=defs, resources=defs.resources
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def requested(result: dg.SensorResult) -> dict[str, str]:
    """feature id → run key of each run request."""
    return {r.tags["feature_platform/feature"]: r.run_key or "" for r in result.run_requests or []}


def config_hashes(result: dg.SensorResult) -> dict[str, str]:
    assert result.cursor is not None
    return json.loads(result.cursor)["config_hashes"]


def test_first_tick_requests_every_feature_not_live_and_then_nothing(platform: Platform) -> None:
    defs = platform.defs()
    first = tick(platform, defs, None)

    assert sorted(requested(first)) == ALL
    hashes = config_hashes(first)
    for request in first.run_requests or []:
        fid = request.tags["feature_platform/feature"]
        assert request.run_key == f"{fid}:{hashes[fid]}:1"
        assert list(request.asset_selection or []) == list(feature_keys(fid).release)
        assert list(request.asset_check_keys or []) == list(feature_keys(fid).release_checks)

    second = tick(platform, defs, first.cursor)
    assert second.run_requests == []
    assert "no feature config changed" in str(second.skip_reason)


def test_a_protected_environment_is_compiled_and_validated_but_never_published_by_the_sensor(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FP_PROTECTED_ENVS (default 'prod'): automation stops before publish; a person publishes."""
    from feature_platform.settings import PlatformSettings
    from feature_platform.store import open_store_from_settings

    monkeypatch.setenv("FP_PROTECTED_ENVS", "prod, test")
    defs = platform.defs()
    first = tick(platform, defs, None)

    assert sorted(requested(first)) == ALL
    for request in first.run_requests or []:
        keys = feature_keys(request.tags["feature_platform/feature"])
        assert list(request.asset_selection or []) == [keys.compiled, keys.validated]
        assert list(request.asset_check_keys or []) == list(keys.release_checks[:2])
    request = (first.run_requests or [])[0]
    assert platform.run(selection(list(request.asset_selection or [])), defs=defs).success
    assert open_store_from_settings(PlatformSettings()).list_features("test") == []


@pytest.mark.parametrize(
    ("protected", "expected"),
    [(None, {"prod": False, "dev": True}), ("", {"prod": True}), ("prod, staging", {"staging": False, "test": True})],
)
def test_protected_environments_turn_automatic_publish_off(
    protected: str | None, expected: dict[str, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    from feature_platform.orchestration.settings import OrchestrationSettings

    if protected is None:
        monkeypatch.delenv("FP_PROTECTED_ENVS", raising=False)
    else:
        monkeypatch.setenv("FP_PROTECTED_ENVS", protected)
    settings = OrchestrationSettings()
    assert {env: settings.auto_publish(env) for env in expected} == expected


def test_a_tick_reads_the_protected_environments_loaded_with_the_code_location_not_the_environment(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings are read once, when the code location loads: a variable the sensor does not use, broken
    later (a bad FP_ONLINE_STORE), cannot fail its tick, and FP_PROTECTED_ENVS cannot change under it."""
    monkeypatch.setenv("FP_PROTECTED_ENVS", "test")
    defs = platform.defs()
    monkeypatch.setenv("FP_ONLINE_STORE", "redis://127.0.0.1:99999/0")  # a bad port: PlatformSettings() refuses it
    monkeypatch.setenv("FP_PROTECTED_ENVS", "")

    first = tick(platform, defs, None)

    assert sorted(requested(first)) == ALL
    for request in first.run_requests or []:
        keys = feature_keys(request.tags["feature_platform/feature"])
        assert list(request.asset_selection or []) == [keys.compiled, keys.validated]  # still protected


def test_first_tick_baseline_is_what_is_live(platform: Platform) -> None:
    defs = platform.defs()
    assert platform.run(selection(feature_keys("recent_engagements_v1").release), defs=defs).success

    result = tick(platform, defs, None)

    assert sorted(requested(result)) == ["recent_closeups_v1", "recent_searches_v1"]


def test_editing_a_shared_enrichment_requests_exactly_the_features_using_it(platform: Platform) -> None:
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    platform.edit("enrichments.py", 'description="The engaged pin\'s 32-d embedding."',
                  'description="The engaged pin\'s 32-d embedding (v2 model)."')

    result = tick(platform, defs, cursor)

    # item_embedding is used by save, click (recent_engagements) and closeup (recent_closeups), not search
    assert sorted(requested(result)) == ["recent_closeups_v1", "recent_engagements_v1"]
    assert all(key.endswith(":2") for key in requested(result).values())
    after = config_hashes(result)
    before = json.loads(cursor or "")["config_hashes"]
    assert after["recent_searches_v1"] == before["recent_searches_v1"]


def test_touching_a_file_without_changing_it_requests_nothing(platform: Platform) -> None:
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    path = platform.configs_dir / "enrichments.py"
    path.write_text(path.read_text() + "\n# a comment changes the file, not the configs\n")

    assert tick(platform, defs, cursor).run_requests == []


def test_reverting_a_change_publishes_the_old_config_again(platform: Platform) -> None:
    defs = platform.defs()
    first = tick(platform, defs, None)
    platform.edit("sequences.py", "max_length=100,\n    retention=timedelta(days=60)",
                  "max_length=120,\n    retention=timedelta(days=60)")
    changed = tick(platform, defs, first.cursor)
    platform.edit("sequences.py", "max_length=120,\n    retention=timedelta(days=60)",
                  "max_length=100,\n    retention=timedelta(days=60)")
    reverted = tick(platform, defs, changed.cursor)

    assert list(requested(changed)) == list(requested(reverted)) == ["recent_searches_v1"]
    assert requested(reverted)["recent_searches_v1"] != requested(first)["recent_searches_v1"]


def test_invalid_configs_request_the_validation_check_only_and_keep_the_cursor(platform: Platform) -> None:
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    platform.edit("event_types.py", 'filter=col("action") == "save"', 'filter=col("actionz") == "save"')

    result = tick(platform, defs, cursor)

    assert [list(r.asset_selection or []) for r in result.run_requests or []] == [[CONFIGS_KEY]]
    assert (result.run_requests or [])[0].run_key.startswith("feature_configs:invalid:")  # type: ignore[union-attr]
    # the last valid hashes are kept (the next valid tick diffs against them), marked invalid
    assert config_hashes(result) == json.loads(cursor or "{}")["config_hashes"]
    assert json.loads(result.cursor or "{}")["invalid"] is True


def test_the_run_that_finds_invalid_configs_fails_and_the_tick_after_the_fix_clears_the_check(
    platform: Platform,
) -> None:
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    platform.edit("event_types.py", 'filter=col("action") == "save"', 'filter=col("actionz") == "save"')
    invalid = tick(platform, defs, cursor)
    run = platform.run(selection(CONFIGS_KEY), defs=defs)
    assert not run.success  # red, not green with a red check
    assert not run.get_asset_check_evaluations()[0].passed

    platform.edit("event_types.py", 'filter=col("actionz") == "save"', 'filter=col("action") == "save"')
    fixed = tick(platform, defs, invalid.cursor)
    assert [list(r.asset_selection or []) for r in fixed.run_requests or []] == [[CONFIGS_KEY]]
    assert (fixed.run_requests or [])[0].run_key.startswith("feature_configs:valid:")  # type: ignore[union-attr]
    assert json.loads(fixed.cursor or "{}")["invalid"] is False
    rerun = platform.run(selection(CONFIGS_KEY), defs=defs)
    assert rerun.success and rerun.get_asset_check_evaluations()[0].passed  # the check is green again


def test_a_code_location_built_from_invalid_configs_asks_for_a_reload_once_they_are_fixed(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_DAGSTER_WEBSERVER_URL", "http://127.0.0.1:1")
    asked: list[tuple[str, str]] = []

    def reload(url: str, location: str) -> ReloadOutcome:
        asked.append((url, location))
        return ReloadOutcome(reloaded=True, detail="loaded again")

    monkeypatch.setattr("feature_platform.orchestration.sensors.request_reload", reload)
    platform.edit("event_types.py", 'filter=col("action") == "save"', 'filter=col("actionz") == "save"')
    broken = platform.defs()  # built from invalid configs: no code versions
    platform.edit("event_types.py", 'filter=col("actionz") == "save"', 'filter=col("action") == "save"')

    tick(platform, broken, None)

    assert [url for url, _ in asked] == ["http://127.0.0.1:1"]  # so the code versions come back


WORKSPACE = """
load_from:
  - python_module:
      module_name: feature_platform.definitions
      working_directory: {repo}
      location_name: feature_platform
  - python_file:
      relative_path: other_location.py
      location_name: other
"""
LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } } }
} } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(url: str, query: str) -> dict[str, Any]:
    """A plain GraphQL query, to look at the webserver independently of the client under test."""
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer["data"]


def asset_keys(url: str, location: str) -> set[str]:
    """The asset keys the webserver shows for ``location`` (empty while it is not loaded)."""
    for entry in graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"]:
        loaded = entry["locationOrLoadError"] or {}
        if entry["name"] == location and loaded.get("__typename") == "RepositoryLocation":
            return {"/".join(n["assetKey"]["path"]) for r in loaded["repositories"] for n in r["assetNodes"]}
    return set()


def _loaded(url: str) -> bool:
    try:
        return bool(asset_keys(url, "feature_platform"))
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


@pytest.fixture
def webserver(platform: Platform) -> Iterator[str]:
    """A real ``dagster-webserver`` serving this test's code location (its configs, its data dir) and
    ``other``, a one-file location the test may break."""
    (platform.root / "other_location.py").write_text("import dagster as dg\n\ndefs = dg.Definitions()\n")
    workspace = platform.root / "workspace.yaml"
    workspace.write_text(WORKSPACE.format(repo=REPO_ROOT))
    home = platform.root / "webserver_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home)}  # the FP_* settings are the platform's (monkeypatched)
    env.pop("FP_DAGSTER_WEBSERVER_URL", None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = platform.root / "webserver.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(REPO_ROOT / ".venv" / "bin" / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1",
         "-p", str(port)],
        cwd=platform.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _loaded(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dagster-webserver did not load the code location:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the session this fixture started, by its id
        process.wait(timeout=10)
        log.close()


@pytest.mark.slow
def test_a_feature_unknown_to_the_code_location_is_skipped_and_the_webserver_reloads_it(
    platform: Platform, webserver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_DAGSTER_WEBSERVER_URL", webserver)
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    assert "recent_saves_v1/compiled" not in asset_keys(webserver, "feature_platform")
    with (platform.configs_dir / "sequences.py").open("a") as f:
        f.write(NEW_FEATURE)

    result = tick(platform, defs, cursor)

    assert result.run_requests == []
    assert "recent_saves_v1" in str(result.skip_reason) and "reload" in str(result.skip_reason)
    assert "reloaded: code location 'feature_platform' loaded again" in str(result.skip_reason)
    assert "recent_saves_v1" not in config_hashes(result)  # requested after the reload, not forgotten
    assert "recent_saves_v1/compiled" in asset_keys(webserver, "feature_platform")  # the reload happened

    reloaded = platform.defs()  # what the reload built
    after = tick(platform, reloaded, result.cursor)
    assert list(requested(after)) == ["recent_saves_v1"]


@pytest.mark.slow
def test_a_reload_that_fails_is_reported_as_a_failure_with_the_reason(platform: Platform, webserver: str) -> None:
    assert request_reload(webserver, "other") == ReloadOutcome(True, "code location 'other' loaded again")

    (platform.root / "other_location.py").write_text("raise RuntimeError('the location is broken')\n")
    broken = request_reload(webserver, "other")
    assert not broken.reloaded
    assert broken.detail.startswith("PythonError: ") and "other_location.py" in broken.detail
    assert asset_keys(webserver, "feature_platform")  # the other location is untouched

    missing = request_reload(webserver, "nowhere")
    assert not missing.reloaded and missing.detail.startswith("RepositoryLocationNotFound: ")

    unreachable = request_reload(f"http://127.0.0.1:{free_port()}", "feature_platform", timeout=5)
    assert not unreachable.reloaded and "no answer from" in unreachable.detail
    assert str(unreachable).startswith("reload failed: ")


def test_the_sensor_runs_by_default(platform: Platform) -> None:
    sensor = platform.defs().resolve_sensor_def(SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
