"""Freshness: the config's batch profile becomes a Dagster FreshnessPolicy, evaluated by Dagster's daemon.

What the daemon test proves: Dagster's own freshness daemon (``FreshnessDaemon``, the one
``dagster-daemon`` and ``dagster dev`` run), loading this code location, records PASS for a feature's
events indexed before the 06:00 UTC deadline and FAIL once a deadline passes without a new
materialisation — the state the UI shows on the asset. Time is frozen with Dagster's test helper;
the materialisation is reported directly (as the indexing run would record it), so the test needs
no data.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.definitions.freshness import CronFreshnessPolicy, FreshnessState, TimeWindowFreshnessPolicy
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon

from feature_platform.orchestration import feature_keys
from feature_platform.orchestration.catalogue import FreshnessProfile
from feature_platform.orchestration.freshness import batch_freshness_policy
from tests.orchestration.conftest import Platform

KEYS = feature_keys("recent_engagements_v1")


def test_a_deadline_becomes_a_cron_policy_clamped_to_the_interval() -> None:
    policy = batch_freshness_policy(FreshnessProfile(batch_max_lag_seconds=30 * 3600, batch_deadline_cron="0 6 * * *"))
    assert isinstance(policy, CronFreshnessPolicy)
    assert policy.deadline_cron == "0 6 * * *"
    assert policy.lower_bound_delta == timedelta(hours=24)  # 30 h lag, but Dagster allows ≤ one interval
    assert policy.timezone == "UTC"


def test_without_a_deadline_the_max_lag_is_a_time_window() -> None:
    policy = batch_freshness_policy(FreshnessProfile(batch_max_lag_seconds=10 * 3600))
    assert isinstance(policy, TimeWindowFreshnessPolicy)
    assert policy.fail_window.to_timedelta() == timedelta(hours=10)
    assert policy.warn_window is not None and policy.warn_window.to_timedelta() == timedelta(hours=8)


def test_the_batch_assets_carry_the_feature_policy_and_the_release_assets_none(platform: Platform) -> None:
    graph = platform.defs().resolve_asset_graph()
    for key in (KEYS.events, KEYS.snapshots, KEYS.watermark):
        policy = graph.get(key).freshness_policy
        assert isinstance(policy, CronFreshnessPolicy), key
        assert policy.deadline_cron == "0 6 * * *"  # STANDARD_FRESHNESS in feature_configs/_shared.py
    for key in KEYS.release:
        assert graph.get(key).freshness_policy is None


@contextmanager
def daemon_workspace(platform: Platform) -> Iterator[WorkspaceProcessContext]:
    module = platform.root / "defs_for_freshness.py"
    module.write_text("from feature_platform.orchestration import build_definitions\ndefs = build_definitions()\n")
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, python_file=str(module),
                             working_directory=str(Path.cwd())),
        location_name="feature_platform",
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), platform.instance) as context:
        yield context


def freshness_after_daemon_tick(
    platform: Platform, context: WorkspaceProcessContext, at: datetime
) -> dict[dg.AssetKey, FreshnessState]:
    with freeze_time(at):
        list(FreshnessDaemon().run_iteration(context))
    records = platform.instance.get_freshness_state_records([KEYS.events, KEYS.snapshots, KEYS.compiled])
    return {key: record.freshness_state for key, record in records.items()}


def test_the_freshness_daemon_reports_a_stale_asset_as_failing(platform: Platform) -> None:
    indexed_at = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)  # before the 06:00 UTC deadline
    with freeze_time(indexed_at):
        platform.instance.report_runless_asset_event(dg.AssetMaterialization(KEYS.events, partition="2026-11-24"))

    with daemon_workspace(platform) as context:
        on_time = freshness_after_daemon_tick(platform, context, datetime(2026, 11, 25, 7, 0, tzinfo=UTC))
        late = freshness_after_daemon_tick(platform, context, datetime(2026, 11, 26, 6, 30, tzinfo=UTC))

    assert on_time[KEYS.events] == FreshnessState.PASS
    assert on_time[KEYS.snapshots] == FreshnessState.UNKNOWN  # never materialised
    assert on_time[KEYS.compiled] == FreshnessState.NOT_APPLICABLE  # no policy on the release assets
    assert late[KEYS.events] == FreshnessState.FAIL  # the 26th's deadline passed with nothing new
