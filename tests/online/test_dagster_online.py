"""``F/online`` in Dagster: materialising a certified day loads it and the parity check passes; the check
really compares (a tampered store fails it)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from feature_platform.orchestration.keys import feature_keys
from feature_platform.orchestration.online import ONLINE_PARITY, online_key
from feature_platform.runtimes.batch import read_snapshot
from feature_platform.runtimes.online import SqliteOnlineStore, load_day, sample_parity
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables

FEATURE = "recent_searches_v1"


def test_online_asset_loads_and_checks(online_tables: OnlineTables, published: Published, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from feature_platform.orchestration import build_definitions

    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FP_ARTEFACT_STORE", published.store_url)
    monkeypatch.setenv("FP_TABLES_ROOT", online_tables.locations.tables_root)
    monkeypatch.setenv("FP_RAW_DATA_ROOT", online_tables.locations.raw_root)
    monkeypatch.setenv("FP_ONLINE_STORE", str(tmp_path / "online.sqlite"))
    monkeypatch.setenv("FP_PARTITIONS_START", online_tables.days[0].isoformat())
    defs = build_definitions()
    key = online_key(feature_keys(FEATURE))
    day = online_tables.days[-1].isoformat()
    result = dg.materialize([defs.resolve_assets_def(key)], partition_key=day,
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [(ONLINE_PARITY, True)]
    store = SqliteOnlineStore(tmp_path / "online.sqlite")
    state = store.get_state(FEATURE)
    assert state is not None and state.batch_day == online_tables.days[-1]


def test_parity_check_detects_a_mismatch(online_tables: OnlineTables, tmp_path: Path) -> None:
    artefact = online_tables.artefacts[FEATURE]
    day = online_tables.days[-1]
    store = SqliteOnlineStore(tmp_path / "online.sqlite")
    load_day(artefact, online_tables.days[-2], online_tables.locations, store)  # the previous day's sequences
    snapshot = read_snapshot(FEATURE, day, online_tables.locations)
    report = sample_parity(artefact, day, snapshot, store, sample=50)
    assert report.sampled > 0 and report.mismatch_rate > 0
    load_day(artefact, day, online_tables.locations, store)
    assert sample_parity(artefact, day, snapshot, store, sample=50).mismatched == 0
