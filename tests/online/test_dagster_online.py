"""``F/online`` in Dagster: materialising a certified day loads it and the parity check passes (ERROR
severity); materialised against a store that does not hold what the snapshot says, the check fails with
ERROR severity; a day without a watermark is refused, and the refusal says whether the day is not indexed
or indexed but not certified (the CLI too)."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.orchestration.keys import feature_keys
from feature_platform.orchestration.online import ONLINE_PARITY, online_key
from feature_platform.runtimes.batch import (
    TableLocations,
    is_indexed,
    read_certification,
    read_snapshot,
    revoke_certifications_from,
)
from feature_platform.runtimes.online import (
    SqliteOnlineStore,
    UncertifiedDayError,
    load_day,
    require_certified,
    sample_parity,
)
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables

FEATURE = "recent_searches_v1"


def _materialise(monkeypatch: pytest.MonkeyPatch, published: Published, tables_root: str, raw_root: str,
                 online: Path, day: date, partitions_start: date) -> dg.ExecuteInProcessResult:
    """``F/online`` for one day, as the code location defines it, in a fresh ephemeral instance."""
    from feature_platform.orchestration import build_definitions

    monkeypatch.setenv("FP_DATA_DIR", str(online.parent))
    monkeypatch.setenv("FP_ARTEFACT_STORE", published.store_url)
    monkeypatch.setenv("FP_TABLES_ROOT", tables_root)
    monkeypatch.setenv("FP_RAW_DATA_ROOT", raw_root)
    monkeypatch.setenv("FP_ONLINE_STORE", str(online))
    monkeypatch.setenv("FP_PARTITIONS_START", partitions_start.isoformat())
    defs = build_definitions()
    return dg.materialize([defs.resolve_assets_def(online_key(feature_keys(FEATURE)))], partition_key=day.isoformat(),
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _parity(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == ONLINE_PARITY
    return check


def test_online_asset_loads_and_checks(online_tables: OnlineTables, published: Published, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    day = online_tables.days[-1]
    result = _materialise(monkeypatch, published, online_tables.locations.tables_root,
                          online_tables.locations.raw_root, tmp_path / "online.sqlite", day, online_tables.days[0])
    assert result.success
    check = _parity(result)
    assert check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["mismatched"].value == 0 and check.metadata["sampled"].value > 0
    store = SqliteOnlineStore(tmp_path / "online.sqlite")
    state = store.get_state(FEATURE)
    store.close()
    assert state is not None and state.batch_day == day


def test_the_parity_check_fails_with_error_severity_when_the_store_does_not_hold_the_snapshot(
    online_tables: OnlineTables, published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that silently drops updates (a trigger ignores them): after the load it still serves the day
    before, which the check must catch; once it keeps its writes, the same materialisation passes."""
    artefact = online_tables.artefacts[FEATURE]
    previous, day = online_tables.days[-2], online_tables.days[-1]
    path = tmp_path / "online.sqlite"
    store = SqliteOnlineStore(path)
    load_day(artefact, previous, online_tables.locations, store)
    store.close()
    db = sqlite3.connect(path)
    db.execute("CREATE TRIGGER drop_updates BEFORE UPDATE ON batch BEGIN SELECT RAISE(IGNORE); END")
    db.commit()

    failed = _materialise(monkeypatch, published, online_tables.locations.tables_root,
                          online_tables.locations.raw_root, path, day, online_tables.days[0])
    check = _parity(failed)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["mismatch_rate"].value > 0
    assert check.metadata["examples"].value != "none"
    assert not failed.success  # a blocking check that fails with ERROR fails the run

    db.execute("DROP TRIGGER drop_updates")
    db.commit()
    db.close()
    passed = _materialise(monkeypatch, published, online_tables.locations.tables_root,
                          online_tables.locations.raw_root, path, day, online_tables.days[0])
    check = _parity(passed)
    assert passed.success and check.passed and check.severity == dg.AssetCheckSeverity.ERROR


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
    store.close()


@pytest.fixture
def uncertified_last_day(online_tables: OnlineTables, tmp_path: Path) -> TableLocations:
    """A copy of the tables whose last day is indexed (its snapshot exists) but not certified (its
    watermark revoked, as a failed re-index of a day does)."""
    tables = tmp_path / "tables"
    shutil.copytree(online_tables.locations.tables_root, tables)
    locations = TableLocations(raw_root=online_tables.locations.raw_root, tables_root=str(tables))
    assert revoke_certifications_from(locations, FEATURE, online_tables.days[-1]) == [online_tables.days[-1]]
    assert is_indexed(FEATURE, online_tables.days[-1], locations)
    assert read_certification(FEATURE, online_tables.days[-1], locations) is None
    return locations


INDEXED_NOT_CERTIFIED = "is indexed but not certified (no watermark)"
NOT_INDEXED = "is not indexed (no snapshot of that day exists"


def test_an_indexed_but_uncertified_day_is_refused_with_its_own_message(
    online_tables: OnlineTables, uncertified_last_day: TableLocations, tmp_path: Path
) -> None:
    artefact = online_tables.artefacts[FEATURE]
    store = SqliteOnlineStore(tmp_path / "online.sqlite")
    try:
        with pytest.raises(UncertifiedDayError, match="no watermark"):  # the loader itself refuses it too
            load_day(artefact, online_tables.days[-1], uncertified_last_day, store)
        assert store.get_state(FEATURE) is None
    finally:
        store.close()
    with pytest.raises(UncertifiedDayError) as indexed:
        require_certified(FEATURE, online_tables.days[-1], uncertified_last_day)
    with pytest.raises(UncertifiedDayError) as absent:
        require_certified(FEATURE, date(2030, 1, 1), uncertified_last_day)
    assert INDEXED_NOT_CERTIFIED in str(indexed.value) and NOT_INDEXED not in str(indexed.value)
    assert NOT_INDEXED in str(absent.value) and INDEXED_NOT_CERTIFIED not in str(absent.value)


def test_online_load_cli_refuses_both_kinds_of_uncertified_day(
    online_tables: OnlineTables, uncertified_last_day: TableLocations, published: Published, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_ARTEFACT_STORE", published.store_url)
    monkeypatch.setenv("FP_TABLES_ROOT", uncertified_last_day.tables_root)
    monkeypatch.setenv("FP_ONLINE_STORE", str(tmp_path / "online.sqlite"))
    outputs = {}
    for day in (online_tables.days[-1], date(2030, 1, 1)):
        result = CliRunner().invoke(cli, ["online-load", "--env", "dev", "--feature", FEATURE, "--date",
                                          day.isoformat()])
        assert result.exit_code == 1
        assert result.output.count("\n") == 1 and result.output.startswith("error: ")  # one line, no traceback
        outputs[day] = result.output
    assert INDEXED_NOT_CERTIFIED in outputs[online_tables.days[-1]]
    assert NOT_INDEXED in outputs[date(2030, 1, 1)]
    store = SqliteOnlineStore(tmp_path / "online.sqlite")
    try:
        assert store.get_state(FEATURE) is None  # nothing was loaded
    finally:
        store.close()


def test_the_online_asset_refuses_both_kinds_of_uncertified_day(
    online_tables: OnlineTables, uncertified_last_day: TableLocations, published: Published, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    start = online_tables.days[0] - timedelta(days=3)
    never_indexed = online_tables.days[0] - timedelta(days=1)
    for day, says in ((online_tables.days[-1], INDEXED_NOT_CERTIFIED), (never_indexed, NOT_INDEXED)):
        result = _materialise(monkeypatch, published, uncertified_last_day.tables_root,
                              uncertified_last_day.raw_root, tmp_path / "online.sqlite", day, start)
        assert not result.success
        failures = [e.step_failure_data for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        descriptions = [f.user_failure_data.description for f in failures if f.user_failure_data is not None]
        assert len(descriptions) == 1 and says in (descriptions[0] or ""), descriptions
        assert "refused" in (descriptions[0] or "")
    assert not (tmp_path / "online.sqlite").exists()  # refused before the store was even opened
