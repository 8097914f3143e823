"""The Dagster UI as a person uses it: `dagster dev -w workspace.yaml`, a real browser, a real run.

Starts ``dagster dev`` (webserver + daemon) on a free loopback port with its own ``DAGSTER_HOME`` and
data directory over small demo data, opens one feature's asset group in headless Chromium (Debian's
``/usr/bin/chromium`` driven by Playwright), checks the assets and their lineage are shown, launches a
materialisation of the whole feature for one day through GraphQL (what the "Materialize" button
sends), waits for the run and its checks, and saves a screenshot of the graph under the test's
``tmp_path`` and ``test-artifacts/`` at the repository root.

The features are published before the UI starts (as a team that already released them), so the config
sensor, which runs by default, has nothing to request and does not compete with the test's run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from feature_platform.compiler import compile_configs
from feature_platform.orchestration import feature_keys
from feature_platform.orchestration.online import ONLINE_PARITY, online_key
from feature_platform.release import publish_release
from feature_platform.release.publisher import SealedBytes
from feature_platform.store import open_store
from tests.conftest import REPO_ROOT, require_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FEATURE = "recent_engagements_v1"
DAY = "2026-11-01"  # the first day of the data: no earlier day to index first
BAD_RANGE = ["2026-11-02", "2026-11-04"]  # the 2nd builds on the 1st; the 4th has no raw data: it fails
LOCATION, REPOSITORY = "feature_platform", "__repository__"
# Generous bounds: on two busy cores `dagster dev` takes minutes to start its webserver, daemon and
# code server, and the run's steps as long. They only bound a hang; the waits end on the server's own
# signals (``/server_info`` answering, the location's ``loadStatus`` reaching LOADED, the run's status).
STARTUP_TIMEOUT_S = 300
RUN_TIMEOUT_S = 300
PAGE_TIMEOUT_MS = 120_000
ANIMATION_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"

# One Dagster process tree at a time (see test_cli.py), and a bound above the sum of the waits below.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_processes"), pytest.mark.timeout(1200)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GraphQL:
    def __init__(self, base: str) -> None:
        self.url = f"{base}/graphql"

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert "errors" not in answer, answer["errors"]
        data: dict[str, Any] = answer["data"]
        return data


def wait_for(
    predicate: Any, timeout: float, what: str, interval: float = 1.0, process: subprocess.Popen[bytes] | None = None
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail at once if ``process`` has exited."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"dagster dev exited with {process.returncode} while waiting for {what}")
        try:
            last = predicate()
            if last:
                return last
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@pytest.fixture
def dagster_dev(tmp_path: Path, demo_raw: Path) -> Iterator[tuple[str, GraphQL]]:
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is absent (Debian package 'chromium'; `make browser`)")
    home, data = tmp_path / "dagster_home", tmp_path / "fp_data"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "FP_DATA_DIR": str(data), "FP_RAW_DATA_ROOT": str(demo_raw),
           "FP_ENV": "dev", "FP_CONFIGS_DIR": str(REPO_ROOT / "feature_configs")}
    for name in ("FP_TABLES_ROOT", "FP_ARTEFACT_STORE", "FP_DAGSTER_WEBSERVER_URL"):
        env.pop(name, None)
    _publish_everything(data / "artefacts")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "dagster_dev.log").open("w")
    process = subprocess.Popen(
        [str(REPO_ROOT / ".venv" / "bin" / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(port),
         "-h", "127.0.0.1"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        gql = GraphQL(base)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        wait_for(lambda: _server_info(base), STARTUP_TIMEOUT_S, "the webserver to answer /server_info",
                 process=process)
        entry = wait_for(lambda: _location_entry(gql), max(deadline - time.monotonic(), 1.0),
                         f"the code location {LOCATION!r} to reach loadStatus LOADED", process=process)
        loaded = entry["locationOrLoadError"]
        assert loaded["__typename"] == "RepositoryLocation", f"{LOCATION} failed to load: {loaded}"
        yield base, gql
    finally:
        _stop(process)
        log.close()


def _publish_everything(store_dir: Path) -> None:
    """What `feature-platform publish --env dev` does: the sensor's baseline is then what is live."""
    result = compile_configs(REPO_ROOT / "feature_configs")
    compiled = {k: SealedBytes(artefact=v.artefact, data=v.data) for k, v in result.artefacts.items()}
    publish_release(compiled, open_store(str(store_dir)), "dev", actor="ui-test")


def _server_info(base: str) -> dict[str, Any]:
    """The webserver's own liveness endpoint: it answers once the ASGI app is serving."""
    with urllib.request.urlopen(f"{base}/server_info", timeout=30) as response:
        info: dict[str, Any] = json.loads(response.read())
    return info if "dagster_webserver_version" in info else {}


def _location_entry(gql: GraphQL) -> dict[str, Any] | None:
    """The workspace entry of the code location once its load has finished (LOADED), successfully or not."""
    data = gql("{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus "
               "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
    workspace = data["workspaceOrError"]
    if workspace["__typename"] != "Workspace":
        return None
    for entry in workspace["locationEntries"]:
        if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"]:
            return dict(entry)
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C (dagster dev shuts its webserver, daemon and code servers down), then kill what is left."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the session this test started, by its id
    process.wait(timeout=10)


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

ASSET_NODES = """
query Nodes($group: AssetGroupSelector!) {
  assetNodes(group: $group) {
    assetKey { path }
    dependencyKeys { path }
    internalFreshnessPolicy { __typename }
    assetChecksOrError { ... on AssetChecks { checks { name blocking
      executionForLatestMaterialization { status runId } } } }
  }
}
"""


def test_the_ui_shows_the_feature_graph_and_runs_it(dagster_dev: tuple[str, GraphQL], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base, gql = dagster_dev
    keys = feature_keys(FEATURE)
    names = [k.path[-1] for k in keys.all]
    group = {"groupName": FEATURE, "repositoryName": REPOSITORY, "repositoryLocationName": LOCATION}
    page_url = f"{base}/locations/{REPOSITORY}@{LOCATION}/asset-groups/{FEATURE}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(page_url, wait_until="domcontentloaded")
            page.get_by_text("watermark", exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
            _dismiss_welcome(page)
            shown = page.inner_text("body")
            for name in [*names, "engagement_events", "item_embeddings", "item_categories"]:
                assert name in shown, f"{name} is not shown on {page_url}"

            # lineage, as the graph draws it
            nodes = {tuple(n["assetKey"]["path"]): n for n in gql(ASSET_NODES, group=group)["assetNodes"]}
            edges = {(tuple(d["path"]), key) for key, n in nodes.items() for d in n["dependencyKeys"]}
            chain = [tuple(k.path) for k in (keys.compiled, keys.validated, keys.published, keys.events,
                                             keys.snapshots, keys.watermark)]
            assert set(itertools.pairwise(chain)) <= edges
            assert (("raw", "engagement_events"), tuple(keys.events.path)) in edges
            assert nodes[tuple(keys.events.path)]["internalFreshnessPolicy"]["__typename"] == "CronFreshnessPolicy"

            run_id = _launch_feature_run(gql, keys)
            status = wait_for(lambda: _finished(gql, run_id), RUN_TIMEOUT_S, f"run {run_id} to finish", interval=2)
            assert status == "SUCCESS", f"run {run_id} ended {status}"
            checks = {
                f"{'/'.join(n['assetKey']['path'])}:{c['name']}": c
                for n in gql(ASSET_NODES, group=group)["assetNodes"] for c in n["assetChecksOrError"]["checks"]
            }
            assert len(checks) == 6
            for name, check in checks.items():
                assert check["blocking"], name
                assert check["executionForLatestMaterialization"] == {"status": "SUCCEEDED", "runId": run_id}, name

            # the graph's live data (latest materialisations) as the page fetches it, after the run
            with page.expect_response(lambda r: "op=AssetGraphLiveQuery" in r.url, timeout=PAGE_TIMEOUT_MS) as live:
                page.reload(wait_until="domcontentloaded")
            assert live.value.ok and run_id in live.value.text(), "the reloaded graph does not show the run"
            page.get_by_text("watermark", exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.wait_for_function(ANIMATION_FRAMES)  # React has drawn what that answer holds
            shot = tmp_path / "asset_graph.png"
            page.screenshot(path=str(shot))

            # a backfill whose last day fails (no raw data for it) is shown failed, and so is that day
            backfill_id = _launch_backfill(gql, keys, BAD_RANGE)
            status = wait_for(lambda: _backfill_finished(gql, backfill_id), RUN_TIMEOUT_S * 2,
                              f"backfill {backfill_id} to finish", interval=2)
            assert status == "COMPLETED_FAILED", f"backfill {backfill_id} ended {status}"
            by_day = _partition_statuses(gql, keys.events)
            assert by_day["2026-11-04"] == "FAILED" and by_day["2026-11-02"] == "MATERIALIZED", by_day
            assert "2026-11-04" not in {d for d, st in _partition_statuses(gql, keys.watermark).items()
                                        if st == "MATERIALIZED"}
            page.goto(f"{base}/runs/b/{backfill_id}", wait_until="domcontentloaded")
            page.get_by_text("Failed").first.wait_for(timeout=PAGE_TIMEOUT_MS)
            page.wait_for_function(ANIMATION_FRAMES)
            backfill_shot = tmp_path / "failed_backfill.png"
            page.screenshot(path=str(backfill_shot))
        finally:
            browser.close()
    artifacts = REPO_ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "dagster_asset_graph.png")
    shutil.copy(backfill_shot, artifacts / "dagster_failed_backfill.png")
    assert shot.stat().st_size > 20_000


BACKFILL = """mutation Backfill($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BACKFILL_STATUS = """query Backfill($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status } } }"""
PARTITIONS = """query Partitions($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  assetPartitionStatuses { ... on TimePartitionStatuses { ranges { startKey endKey status } } } } } }"""


def _launch_backfill(gql: GraphQL, keys: Any, days: list[str]) -> str:
    """What the UI's Materialize → partitions sends for the feature's daily assets."""
    params = {"partitionNames": days,
              "assetSelection": [{"path": list(k.path)} for k in keys.batch]}
    answer = gql(BACKFILL, params=params)["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    return str(answer["backfillId"])


def _backfill_finished(gql: GraphQL, backfill_id: str) -> str | None:
    value = gql(BACKFILL_STATUS, id=backfill_id)["partitionBackfillOrError"]["status"]
    return value if value in ("COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "COMPLETED") else None


def _partition_statuses(gql: GraphQL, key: Any) -> dict[str, str]:
    ranges = gql(PARTITIONS, path=list(key.path))["assetNodeOrError"]["assetPartitionStatuses"]["ranges"]
    out: dict[str, str] = {}
    for r in ranges:
        start, end = date.fromisoformat(r["startKey"]), date.fromisoformat(r["endKey"])
        while start <= end:
            out[start.isoformat()] = r["status"]
            start += timedelta(days=1)
    return out


def _dismiss_welcome(page: Any) -> None:
    """The first visit shows a "Join the Dagster community" dialog (a moment after the page); click Skip."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.first.wait_for(state="visible", timeout=5_000)
    except PlaywrightTimeout:
        return
    skip.first.click()
    skip.first.wait_for(state="hidden", timeout=5_000)


def _launch_feature_run(gql: GraphQL, keys: Any) -> str:
    checks = [
        {"assetKey": {"path": list(k.asset_key.path)}, "name": k.name}
        for k in (*keys.release_checks,)
    ] + [{"assetKey": {"path": list(k.path)}, "name": "data_contract"} for k in (keys.events, keys.snapshots)] + [
        {"assetKey": {"path": list(online_key(keys).path)}, "name": ONLINE_PARITY}]
    assets = [{"path": list(k.path)} for k in (*keys.all, online_key(keys))]
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "pipelineName": "__ASSET_JOB",
                     "assetSelection": assets, "assetCheckSelection": checks},
        "mode": "default",
        # one process for the whole run keeps the test fast; the default (a process per step) works too
        "runConfigData": {"execution": {"config": {"in_process": {}}}},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY},
                                       {"key": "launched_by", "value": "test_ui"}]},
    }
    answer = gql(LAUNCH, params=params)["launchPipelineExecution"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    return str(answer["run"]["runId"])


def _finished(gql: GraphQL, run_id: str) -> str | None:
    status = gql("query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", id=run_id)
    value = status["runOrError"]["status"]
    return value if value in ("SUCCESS", "FAILURE", "CANCELED") else None
