"""The command line a person types: demo data, then `dagster asset materialize` for one feature and day.

Dagster 1.13 reads ``--select`` with its selection syntax, where a key prefix is ``key:<prefix>/*``
(the bare ``recent_engagements_v1/*`` means "downstream of the key ``recent_engagements_v1/``" in
the legacy syntax and selects nothing). ``group:recent_engagements_v1`` selects the same assets.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from feature_platform.orchestration import feature_keys
from feature_platform.store import open_store
from tests.conftest import REPO_ROOT

BIN = REPO_ROOT / ".venv" / "bin"
FEATURE, DAY = "recent_engagements_v1", "2026-11-01"  # the first day of the data: no earlier day to index first


# Like test_ui.py this starts Dagster's own processes (here a run with a process per step); both are
# in one xdist group so that on two cores they never run at the same time. The timeout is above the
# two subprocess bounds below (120 s + 300 s).
@pytest.mark.slow
@pytest.mark.xdist_group("dagster_processes")
@pytest.mark.timeout(600)
def test_dagster_asset_materialize_one_feature_for_one_day(tmp_path: Path) -> None:
    home, data, raw = tmp_path / "dagster_home", tmp_path / "fp_data", tmp_path / "fp_data" / "raw"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    env = {**os.environ, "DAGSTER_HOME": str(home), "FP_DATA_DIR": str(data), "FP_ENV": "dev",
           "DAGSTER_DISABLE_TELEMETRY": "yes"}
    for name in ("FP_CONFIGS_DIR", "FP_RAW_DATA_ROOT", "FP_TABLES_ROOT", "FP_ARTEFACT_STORE"):
        env.pop(name, None)
    subprocess.run(
        [str(BIN / "feature-platform"), "demo-data", "--out", str(raw), "--users", "200", "--items", "300",
         "--days", "3", "--events", "20000", "--quiet"],
        cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True, timeout=120,
    )

    out = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "feature_platform.definitions",
         "--select", f"key:{FEATURE}/*", "--partition", DAY],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )

    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    # What happened is read from the instance the command wrote to (DAGSTER_HOME), not from its log
    # lines: a step's "Finished execution" line is printed by the step's own process and is not
    # always in the captured output, while the event log holds every event of the run.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1, [(r.run_id, r.status) for r in runs]
        run = runs[0]
        assert run.status == dg.DagsterRunStatus.SUCCESS, log[-4000:]
        assert run.tags.get("dagster/partition") == DAY
        succeeded = {e.step_key for e in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_SUCCESS)}
        # every asset step and the steps of the checks that run on their own (the others run in their asset's step)
        assert succeeded == {f"{FEATURE}__{step}" for step in (
            "compiled", "validated", "published", "index", "watermark", "online",
            "published_artefact_integrity", "events_data_contract", "snapshots_data_contract",
        )}
        assert not instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)

        keys = feature_keys(FEATURE)
        for key in keys.all:
            latest = instance.get_latest_materialization_event(key)
            assert latest is not None and latest.run_id == run.run_id, f"{key.to_user_string()} not materialised"
        for key in keys.batch:
            records = instance.fetch_materializations(key, limit=10).records
            assert [r.partition_key for r in records] == [DAY], key.to_user_string()

        evaluations = {
            f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
            for e in (entry.get_dagster_event().asset_check_evaluation_data
                      for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION))
        }
        assert evaluations == {
            f"{keys.compiled.to_user_string()}:config_valid": True,
            f"{keys.validated.to_user_string()}:release_allowed": True,
            f"{keys.published.to_user_string()}:artefact_integrity": True,
            f"{keys.events.to_user_string()}:data_contract": True,
            f"{keys.snapshots.to_user_string()}:data_contract": True,
            f"{FEATURE}/online:online_parity": True,
        }

    assert open_store(str(data / "artefacts")).load_live("dev", FEATURE)
    tables = data / "tables" / FEATURE
    assert len(list((tables / "events" / f"dt={DAY}").glob("*.parquet"))) == 1  # named by its sha256
    assert (tables / "watermark" / f"dt={DAY}" / "part-00000.parquet").is_file()
    assert not (tables / "events" / "dt=2026-11-02").exists()  # one partition, nothing else
