"""Dagster: per feature ``stream/F`` (observed, lineage raw -> stream -> served <- online) whose
observation evaluates the streaming freshness and dead-letter-rate checks from the indexer's status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from feature_platform.orchestration import build_definitions
from feature_platform.orchestration.stream import DEAD_LETTER_RATE, STREAM_FRESHNESS, served_key, stream_key
from feature_platform.runtimes.online import SqliteOnlineStore, StreamStatus
from feature_platform.settings import PlatformSettings
from tests.batch.conftest import Published
from tests.conftest import REPO_ROOT

FEATURE = "recent_engagements_v1"


def test_lineage_reads_raw_source_to_stream_to_served() -> None:
    graph = build_definitions(PlatformSettings(configs_dir=REPO_ROOT / "feature_configs")).resolve_asset_graph()
    assert graph.get(stream_key(FEATURE)).parent_keys == {dg.AssetKey(["raw", "engagement_events"])}
    assert graph.get(served_key(FEATURE)).parent_keys == {stream_key(FEATURE),
                                                          dg.AssetKey([FEATURE, "online"])}
    assert graph.get(stream_key(FEATURE)).is_observable


@pytest.mark.parametrize(("age", "lag", "dead", "fresh", "clean"), [
    (1, 0.5, 10, True, True),        # a live indexer, 10 of 1010 malformed
    (3600, 0.0, 0, False, True),     # the indexer stopped reporting an hour ago
    (1, 10_000.0, 0, False, True),   # alive but far behind the log head
    (1, 0.0, 500, True, False),      # a third of the events malformed
])
def test_observation_evaluates_freshness_and_dead_letter_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, age: int, lag: float, dead: int, fresh: bool, clean: bool
) -> None:
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    now = datetime.now(UTC)
    online.put_stream_status(StreamStatus(
        feature_id=FEATURE, artefact_hash="h", heartbeat_at=now - timedelta(seconds=age), newest_event_at=now,
        lag_seconds=lag, events_written=1000, dead_letters=dead))
    online.close()
    monkeypatch.setenv("FP_ONLINE_STORE", str(tmp_path / "online.sqlite"))
    defs = build_definitions(PlatformSettings(configs_dir=REPO_ROOT / "feature_configs"))
    result = _observe(defs)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {STREAM_FRESHNESS: fresh, DEAD_LETTER_RATE: clean}


def test_no_indexer_ever_reported_fails_freshness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_ONLINE_STORE", str(tmp_path / "online.sqlite"))
    defs = build_definitions(PlatformSettings(configs_dir=REPO_ROOT / "feature_configs"))
    result = _observe(defs)
    assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()}[STREAM_FRESHNESS] is False


def _observe(defs: dg.Definitions) -> dg.ExecuteInProcessResult:
    job = dg.define_asset_job("observe_stream", selection=dg.AssetSelection.assets(stream_key(FEATURE)))
    merged = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    return merged.resolve_job_def("observe_stream").execute_in_process(instance=dg.DagsterInstance.ephemeral())


def test_the_freshness_limit_is_the_configs_streaming_max_lag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             published: Published) -> None:
    limit = published.artefacts[FEATURE].feature.freshness.streaming_max_lag_seconds
    monkeypatch.setenv("FP_ONLINE_STORE", str(tmp_path / "online.sqlite"))
    defs = build_definitions(PlatformSettings(configs_dir=REPO_ROOT / "feature_configs"))
    for lag, fresh in ((float(limit), True), (limit + 1.0, False)):
        online = SqliteOnlineStore(tmp_path / "online.sqlite")
        online.put_stream_status(StreamStatus(feature_id=FEATURE, artefact_hash="h", heartbeat_at=datetime.now(UTC),
                                              lag_seconds=lag, events_written=10))
        online.close()
        evaluation = {e.check_name: e for e in _observe(defs).get_asset_check_evaluations()}[STREAM_FRESHNESS]
        assert evaluation.passed is fresh
        assert evaluation.metadata["streaming_max_lag_seconds"].value == limit
