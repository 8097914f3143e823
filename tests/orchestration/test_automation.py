"""The graph runs itself: publish → backfill of a new feature, observed raw sources, automation, freshness.

Time is frozen with Dagster's own helper and the daemons are iterated by hand (the asset daemon that
evaluates the automation sensor, the backfill daemon, the freshness daemon), each iteration doing
what the daemon's next tick would; runs execute synchronously in process. Nothing waits on the clock.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._daemon.asset_daemon import AssetDaemon
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.freshness import FreshnessDaemon

from feature_platform.orchestration import build_definitions, feature_keys, raw_key
from feature_platform.runtimes.batch import TableLocations, certified_days
from feature_platform.settings import PlatformSettings
from tests.orchestration.conftest import Platform
from tests.orchestration.daemon import SYNC_LAUNCHER, daemon_workspace, drive_backfill

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

FEATURE = "recent_engagements_v1"
KEYS = feature_keys(FEATURE)
RAW = raw_key("engagement_events")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def days(*numbers: int) -> list[date]:
    return [date(2026, 11, n) for n in numbers]


@pytest.fixture
def deployment(platform: Platform, demo_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[WorkspaceProcessContext]:
    raw = tmp_path / "raw"
    shutil.copytree(demo_raw, raw)
    monkeypatch.setenv("FP_RAW_DATA_ROOT", str(raw))
    (tmp_path / "daemon_home").mkdir()
    with (
        dg.instance_for_test(temp_dir=str(tmp_path / "daemon_home"), overrides=SYNC_LAUNCHER) as instance,
        daemon_workspace(instance, tmp_path) as context,
    ):
        yield context


def publish(instance: dg.DagsterInstance) -> None:
    defs = build_definitions()
    assert dg.materialize(
        [*(defs.assets or []), *(defs.asset_checks or [])],  # type: ignore[list-item]
        selection=dg.AssetSelection.assets(*KEYS.release), instance=instance, resources=defs.resources,
    ).success


def automation_tick(context: WorkspaceProcessContext, now: datetime) -> None:
    """One iteration of the asset daemon (it evaluates the automation sensor and launches its runs, or a
    backfill when it requests several partitions at once), then of the backfill daemon."""
    daemon = AssetDaemon(settings=context.instance.get_auto_materialize_settings(), pre_sensor_interval_seconds=0)
    with freeze_time(now):
        daemon._run_iteration_impl(
            context, threadpool_executor=None, amp_tick_futures={}, debug_crash_flags={}
        )
        list(execute_backfill_iteration(context, logging.getLogger("tests.backfill_daemon")))


def freshness(context: WorkspaceProcessContext, now: datetime) -> dict[dg.AssetKey, FreshnessState]:
    with freeze_time(now):
        list(FreshnessDaemon().run_iteration(context))
    records = context.instance.get_freshness_state_records([KEYS.events, KEYS.watermark])
    return {key: record.freshness_state for key, record in records.items()}


def test_a_new_feature_is_indexed_then_each_day_runs_by_itself_before_its_deadline(
    deployment: WorkspaceProcessContext, tmp_path: Path
) -> None:
    instance = deployment.instance
    locations = TableLocations.from_settings(PlatformSettings())

    # First publish, on the 3rd at 01:00 (the 2nd is the last complete day): the new feature is indexed
    # over its window by a backfill the publish step requested.
    with freeze_time(at(3, 1)):
        publish(instance)
        requested = [b for b in instance.get_backfills() if b.status == BulkActionStatus.REQUESTED]
        assert len(requested) == 1
        assert drive_backfill(deployment, requested[0].backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS
    assert certified_days(FEATURE, locations) == days(1, 2)

    # The 4th, 06:30: the 06:00 deadline has passed and nothing covers it — freshness fails.
    assert freshness(deployment, at(4, 6, 30)) == {KEYS.events: FreshnessState.FAIL,
                                                   KEYS.watermark: FreshnessState.FAIL}

    # The automation: raw sources observed (the 3rd's partition appears), then the 3rd indexed, checked
    # and certified, with no one asking.
    now = at(4, 6, 31)
    for _ in range(12):
        automation_tick(deployment, now)
        if date(2026, 11, 3) in certified_days(FEATURE, locations):
            break
        now += timedelta(minutes=5)
    assert certified_days(FEATURE, locations) == days(1, 2, 3)
    for check in ("events", "snapshots"):
        records = instance.event_log_storage.get_asset_check_partition_info(
            [dg.AssetCheckKey(dg.AssetKey([FEATURE, check]), "data_contract")], partition_keys=["2026-11-03"])
        assert [r.latest_execution_status.value for r in records] == ["SUCCEEDED"]
    assert freshness(deployment, now + timedelta(minutes=1)) == {KEYS.events: FreshnessState.PASS,
                                                                 KEYS.watermark: FreshnessState.PASS}

    # A corrected raw partition of the 3rd: once observed, the 3rd's events are stale.
    graph = build_definitions().resolve_asset_graph()

    def staleness() -> StaleStatus:
        return CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance)).get_status(
            KEYS.events, "2026-11-03")

    with freeze_time(now):
        assert staleness() == StaleStatus.FRESH
    for path in sorted((tmp_path / "raw" / "engagement_events" / "dt=2026-11-03").glob("*.parquet")):
        frame = pl.read_parquet(path)
        frame.head(frame.height // 2).write_parquet(path)
    now += timedelta(minutes=15)  # past the next observation tick
    automation_tick(deployment, now)
    with freeze_time(now):
        observed = instance.fetch_observations(dg.AssetRecordsFilter(asset_key=RAW, asset_partitions=["2026-11-03"]),
                                               limit=2).records
        assert len(observed) == 2 and observed[0].asset_observation is not None
        assert staleness() == StaleStatus.STALE
