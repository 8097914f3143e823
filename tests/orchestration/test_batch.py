"""The batch assets on demo data: a day indexed, checked and certified; bad data stopped by the contract."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.event_api import PartitionKeyFilter

from feature_platform.orchestration import feature_keys
from feature_platform.orchestration.keys import DATA_CONTRACT
from feature_platform.runtimes.batch import TableLocations, latest_certified_day
from feature_platform.settings import PlatformSettings
from tests.orchestration.conftest import Platform, check_results, materialized, selection, step_keys

FEATURE = "recent_engagements_v1"
KEYS = feature_keys(FEATURE)


def locations() -> TableLocations:
    return TableLocations.from_settings(PlatformSettings())


def test_a_day_is_indexed_checked_and_certified(batch_platform: Platform) -> None:
    defs = batch_platform.defs()
    assert batch_platform.run(selection(KEYS.release), defs=defs).success

    first = batch_platform.run(selection(KEYS.batch), partition_key="2026-11-01", defs=defs)
    second = batch_platform.run(selection(KEYS.batch), partition_key="2026-11-02", defs=defs)

    for result in (first, second):
        assert result.success
        assert materialized(result) == {k.to_user_string() for k in KEYS.batch}
        checks = check_results(result)
        assert {name: e.passed for name, e in checks.items()} == {
            f"{FEATURE}/events:{DATA_CONTRACT}": True, f"{FEATURE}/snapshots:{DATA_CONTRACT}": True,
        }
        assert all(e.partition == result.dagster_run.tags["dagster/partition"] for e in checks.values())
    events = second.asset_materializations_for_node(f"{KEYS.events.path[0]}__index")
    by_key = {m.asset_key.path[-1]: m.metadata for m in events}
    assert by_key["events"]["dagster/row_count"].value > 1000
    assert by_key["snapshots"]["incremental"].value is True  # built on the 1st's snapshot
    assert by_key["rejects"]["dagster/row_count"].value > 0  # the demo data has defects
    sample = by_key["snapshots"]["sample_sequences"].value
    assert sample.records and {"user_id", "position"} <= set(sample.records[0].data)
    assert "item_embedding" not in sample.records[0].data  # no raw embedding lists in a table cell
    # per-day numbers the UI plots across partitions, and each file's content hash
    lengths = {k: by_key["snapshots"][f"sequence_length/{k}"].value for k in ("p50", "p90", "max")}
    assert 0 < lengths["p50"] <= lengths["p90"] <= lengths["max"]
    assert sum(v.value for k, v in by_key["rejects"].items() if k.startswith("rejects/")) >= by_key["rejects"][
        "dagster/row_count"].value
    assert all(len(by_key[t]["sha256"].value) == 64 for t in ("events", "rejects", "snapshots"))
    assert by_key["events"]["artefact_hash"].value == batch_platform.run(
        dg.AssetSelection.assets(KEYS.compiled), defs=defs
    ).asset_materializations_for_node(f"{KEYS.compiled.path[0]}__compiled")[0].metadata["content_hash"].value
    assert latest_certified_day(FEATURE, locations()) == date(2026, 11, 2)


def test_a_day_over_unindexed_days_is_refused_or_built_incomplete_and_never_certified(
    batch_platform: Platform,
) -> None:
    defs = batch_platform.defs()
    assert batch_platform.run(selection(KEYS.release), defs=defs).success

    refused = batch_platform.run(selection(KEYS.batch), partition_key="2026-11-03", defs=defs)
    assert not refused.success  # the 1st and 2nd have raw data: its snapshot would silently miss them
    failure = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE")
    assert "2026-11-01, 2026-11-02" in str(failure.event_specific_data) and "--allow-gaps" in str(
        failure.event_specific_data)
    tables = batch_platform.data_dir / "tables" / FEATURE
    assert not (tables / "events").exists()  # nothing was written

    gaps = {"ops": {f"{KEYS.events.path[0]}__index": {"config": {"allow_gaps": True}}}}
    incomplete = batch_platform.run(selection(KEYS.batch), partition_key="2026-11-03", defs=defs, run_config=gaps)
    assert not incomplete.success  # indexed, marked incomplete; the watermark refuses it
    snapshots = [m for m in incomplete.asset_materializations_for_node(f"{KEYS.events.path[0]}__index")
                 if m.asset_key == KEYS.snapshots]
    assert snapshots[0].metadata["complete"].value is False
    assert snapshots[0].metadata["missing_days"].value == "2026-11-01, 2026-11-02"
    assert KEYS.watermark not in {m.asset_key for m in incomplete.get_asset_materialization_events()
                                  if m.asset_key is not None}
    assert latest_certified_day(FEATURE, locations()) is None

    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):  # in order: complete, certified
        assert batch_platform.run(selection(KEYS.batch), partition_key=day, defs=defs).success
    assert latest_certified_day(FEATURE, locations()) == date(2026, 11, 3)


def test_bad_data_fails_the_contract_naming_the_rule_and_nothing_downstream_runs(batch_platform: Platform) -> None:
    defs = batch_platform.defs()
    assert batch_platform.run(selection(KEYS.release), defs=defs).success
    index = selection(KEYS.events, KEYS.rejects, KEYS.snapshots)  # indexed, not yet certified
    assert batch_platform.run(index, partition_key="2026-11-01", defs=defs).success
    assert batch_platform.run(index, partition_key="2026-11-02", defs=defs).success
    path = Path(locations().partition_file(FEATURE, "events", date(2026, 11, 2)))
    good = pl.read_parquet(path)
    pl.concat([good, good.head(3)]).write_parquet(path)  # three replayed events slip through

    contracts = dg.AssetSelection.checks(dg.AssetCheckKey(KEYS.events, DATA_CONTRACT),
                                         dg.AssetCheckKey(KEYS.snapshots, DATA_CONTRACT))
    result = batch_platform.run(contracts | selection(KEYS.watermark), partition_key="2026-11-02", defs=defs)

    assert not result.success
    check = check_results(result)[f"{FEATURE}/events:{DATA_CONTRACT}"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["failed_rules"].value == "unique_event_ids"
    failing = {r.data["rule"]: r.data["failing_rows"] for r in check.metadata["failures_by_rule"].value.records}
    assert failing == {"unique_event_ids": 6}  # both copies of each of the three
    assert check_results(result)[f"{FEATURE}/snapshots:{DATA_CONTRACT}"].passed
    assert f"{KEYS.watermark.path[0]}__watermark" not in step_keys(result, "STEP_START")
    assert "watermark" not in {p.name for p in (batch_platform.data_dir / "tables" / FEATURE).iterdir()}

    # A blocking check stops steps of its own run only: the watermark alone, in another run, must refuse
    # from the check result on record (and from the 1st, which builds the 2nd's base, not being certified).
    alone = batch_platform.run(selection(KEYS.watermark), partition_key="2026-11-02", defs=defs)
    assert not alone.success
    failure = next(e for e in alone.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"{FEATURE}/events:{DATA_CONTRACT} of 2026-11-02 is FAILED" in str(failure.event_specific_data)
    assert "2026-11-01, which the snapshot of 2026-11-02 builds on, is indexed but not certified" in str(
        failure.event_specific_data)
    assert latest_certified_day(FEATURE, locations()) is None


def test_a_later_snapshot_built_on_a_reindexed_day_fails_its_check_as_stale(
    platform: Platform, demo_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(demo_raw, raw)
    monkeypatch.setenv("FP_RAW_DATA_ROOT", str(raw))
    defs = platform.defs()
    assert platform.run(selection(KEYS.release), defs=defs).success
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        assert platform.run(selection(KEYS.batch), partition_key=day, defs=defs).success

    # A correction of the 2nd's raw partition, re-indexed: the 3rd's snapshot was built on the old 2nd.
    for path in sorted((raw / "engagement_events" / "dt=2026-11-02").glob("*.parquet")):
        frame = pl.read_parquet(path)
        frame.head(frame.height // 2).write_parquet(path)
    rerun = platform.run(selection(KEYS.events, KEYS.rejects, KEYS.snapshots), partition_key="2026-11-02", defs=defs)
    assert rerun.success
    events = next(m for m in rerun.asset_materializations_for_node(f"{KEYS.events.path[0]}__index")
                  if m.asset_key == KEYS.events)
    assert events.tags["dagster/data_version"] == events.metadata["sha256"].value  # the file's content hash
    # The re-index itself recorded the 3rd's snapshot check as failed: the UI shows it without a re-run.
    check_key = dg.AssetCheckKey(KEYS.snapshots, DATA_CONTRACT)
    latest = platform.instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [check_key], partition_filter=PartitionKeyFilter(key="2026-11-03"))[check_key]
    evaluation = latest.event.dagster_event.event_specific_data  # type: ignore[union-attr]
    assert (evaluation.passed, evaluation.partition) == (False, "2026-11-03")
    assert evaluation.metadata["failed_rules"].value == "inputs_current"
    assert evaluation.metadata["message"].value == "re-index 2026-11-03..2026-11-03"

    contract = dg.AssetSelection.checks(dg.AssetCheckKey(KEYS.snapshots, DATA_CONTRACT)) | selection(KEYS.watermark)
    result = platform.run(contract, partition_key="2026-11-03", defs=defs)
    check = check_results(result)[f"{FEATURE}/snapshots:{DATA_CONTRACT}"]
    assert not check.passed
    assert check.metadata["failed_rules"].value == "inputs_current"
    assert "re-index 2026-11-03..2026-11-03" in check.metadata["message"].value
    assert f"{KEYS.watermark.path[0]}__watermark" not in step_keys(result, "STEP_START")  # not certified

    assert platform.run(selection(KEYS.batch), partition_key="2026-11-03", defs=defs).success  # as advised
    assert check_results(platform.run(contract, partition_key="2026-11-03", defs=defs))[
        f"{FEATURE}/snapshots:{DATA_CONTRACT}"].passed
