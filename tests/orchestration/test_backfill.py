"""Backfills through the daemon's own code path: gates that hold across runs, check results per day.

The backfill is submitted as the UI submits one (an asset backfill over a range of days) and driven by
``execute_backfill_iteration``, the function ``dagster-daemon`` calls each tick, with runs launched
synchronously in process (see :mod:`tests.orchestration.daemon`). Outcomes are read from the instance
(backfill status, runs, materialisations, check records) and from the stored tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.workspace.context import WorkspaceProcessContext

from feature_platform.orchestration import build_definitions, feature_keys
from feature_platform.orchestration.backfill import backfill_outcome, command
from feature_platform.orchestration.keys import DATA_CONTRACT
from feature_platform.runtimes.batch import TableLocations, certified_days
from feature_platform.runtimes.batch import _indexer as indexer
from feature_platform.settings import PlatformSettings
from tests.orchestration.conftest import Platform
from tests.orchestration.daemon import (
    SYNC_LAUNCHER,
    backfill_runs,
    daemon_workspace,
    drive_backfill,
    run_asset_backfill,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

FEATURE = "recent_engagements_v1"
KEYS = feature_keys(FEATURE)
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
BAD = date(2026, 11, 2)
CONTRACT_CHECKS = [dg.AssetCheckKey(KEYS.events, DATA_CONTRACT), dg.AssetCheckKey(KEYS.snapshots, DATA_CONTRACT)]


def locations() -> TableLocations:
    return TableLocations.from_settings(PlatformSettings())


@pytest.fixture
def daemon(batch_platform: Platform, tmp_path: Path) -> Iterator[WorkspaceProcessContext]:
    """A deployment whose features are published, with an instance whose runs execute in process."""
    (tmp_path / "daemon_home").mkdir()
    with (
        dg.instance_for_test(temp_dir=str(tmp_path / "daemon_home"), overrides=SYNC_LAUNCHER) as instance,
        daemon_workspace(instance, tmp_path) as context,
    ):
        defs = build_definitions()
        release = dg.materialize(
            [*(defs.assets or []), *(defs.asset_checks or [])],  # type: ignore[list-item]
            selection=dg.AssetSelection.assets(*KEYS.release), instance=instance, resources=defs.resources,
        )
        assert release.success
        first_publish = [b for b in instance.get_backfills() if b.status == BulkActionStatus.REQUESTED]
        assert len(first_publish) == 1  # the new feature's window (test_automation.py runs it); not here
        instance.update_backfill(first_publish[0].with_status(BulkActionStatus.CANCELED))
        yield context


def check_status_by_day(instance: dg.DagsterInstance, check: dg.AssetCheckKey) -> dict[str, str]:
    """The latest execution status of ``check`` per partition, as the check's Partitions tab shows it."""
    infos = instance.event_log_storage.get_asset_check_partition_info([check], partition_keys=DAYS)
    return {i.partition_key: i.latest_execution_status.value for i in infos if i.partition_key is not None}


CHECK_PARTITIONS = """query ($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  assetChecksOrError { ... on AssetChecks { checks { name partitionStatuses { __typename
    ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } } } } } } } } }"""


def partitions_tab(context: WorkspaceProcessContext, asset: dg.AssetKey) -> list[tuple[str, str, str]]:
    """What the check's Partitions tab in the UI shows, through the webserver's GraphQL schema."""
    from dagster_graphql.test.utils import execute_dagster_graphql

    result = execute_dagster_graphql(context.create_request_context(), CHECK_PARTITIONS, {"path": asset.path})
    assert not result.errors, result.errors
    checks = result.data["assetNodeOrError"]["assetChecksOrError"]["checks"]
    statuses = next(c for c in checks if c["name"] == DATA_CONTRACT)["partitionStatuses"]
    return [(r["startKey"], r["endKey"], r["status"]) for r in statuses["ranges"]]


def test_a_backfill_records_each_days_check_results_and_certifies_each_day(daemon: WorkspaceProcessContext) -> None:
    instance = daemon.instance
    backfill = run_asset_backfill(daemon, KEYS.batch, DAYS)

    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS
    assert certified_days(FEATURE, locations()) == [date.fromisoformat(d) for d in DAYS]
    for check in CONTRACT_CHECKS:  # per day, not "no partition"
        passed = AssetCheckExecutionRecordStatus.SUCCEEDED.value
        assert check_status_by_day(instance, check) == dict.fromkeys(DAYS, passed)
        records = instance.event_log_storage.get_asset_check_execution_history(check, limit=10)
        assert sorted(r.partition or "" for r in records) == DAYS
    runs = backfill_runs(instance, backfill.backfill_id)
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    for asset in (KEYS.events, KEYS.snapshots):  # the UI's Partitions tab: the three days passed
        assert partitions_tab(daemon, asset) == [(DAYS[0], DAYS[-1], "SUCCEEDED")]


def test_a_bad_middle_day_in_a_backfill_is_not_certified_nor_is_any_later_day(
    daemon: WorkspaceProcessContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = daemon.instance
    assert run_asset_backfill(daemon, KEYS.batch, DAYS).status == BulkActionStatus.COMPLETED_SUCCESS
    tables = locations()
    good = indexer.FeatureTables(FEATURE, tables).manifest(BAD)
    assert good is not None

    # A corrected raw partition of the 2nd whose events break the data contract (simulated: the 2nd is
    # held to the contract of two days earlier, so its own timestamps fall outside the day window).
    contract = indexer.events_contract
    monkeypatch.setattr(indexer, "events_contract",
                        lambda artefact, day: contract(artefact, day - timedelta(days=2) if day == BAD else day))
    backfill = run_asset_backfill(daemon, KEYS.batch, DAYS)

    assert backfill.status == BulkActionStatus.COMPLETED_FAILED  # the backfill page says it failed
    assert certified_days(FEATURE, tables) == [date(2026, 11, 1)]  # neither the 2nd nor any later day
    runs = backfill_runs(instance, backfill.backfill_id)
    assert any(r.status == dg.DagsterRunStatus.FAILURE for r in runs)
    watermarked = {
        r.partition_key for r in instance.fetch_materializations(KEYS.watermark, limit=100).records
        if r.run_id in {run.run_id for run in runs}
    }
    assert watermarked <= {"2026-11-01"}  # no run of this backfill materialised a later day's watermark
    after = indexer.FeatureTables(FEATURE, tables).manifest(BAD)
    assert after is not None and after.events.sha256 == good.events.sha256  # the previous good tables are live
    assert after.snapshot.sha256 == good.snapshot.sha256


def test_the_range_cli_submits_one_features_days_and_the_daemon_runs_one_run_per_day_in_order(
    daemon: WorkspaceProcessContext,
) -> None:
    instance = daemon.instance
    out = CliRunner().invoke(command, ["--feature", FEATURE, "--from", DAYS[0], "--to", DAYS[-1]])
    assert out.exit_code == 0, out.output
    backfill_id = out.output.split()[1]
    backfill = instance.get_backfill(backfill_id)
    assert backfill is not None and backfill.status == BulkActionStatus.REQUESTED  # the daemon runs it

    assert drive_backfill(daemon, backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS
    status, by_day = backfill_outcome(instance, backfill_id)
    assert status == BulkActionStatus.COMPLETED_SUCCESS
    assert by_day == dict.fromkeys(DAYS, "SUCCESS")  # one run per day, tagged with its day
    runs = backfill_runs(instance, backfill_id)
    for key in (KEYS.snapshots, KEYS.watermark):  # in order of the days
        records = instance.fetch_materializations(key, limit=10, ascending=True).records
        assert [r.partition_key for r in records] == DAYS
    assert {k.to_user_string() for r in runs for k in (r.asset_selection or ())} == {
        k.to_user_string() for k in (*KEYS.batch, dg.AssetKey([FEATURE, "online"]))
    }  # nothing compiled or published again
    assert certified_days(FEATURE, locations()) == [date.fromisoformat(d) for d in DAYS]
