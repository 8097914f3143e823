"""The command line a person types: demo data, then `dagster asset materialize` for one feature and day.

Dagster 1.13 reads ``--select`` with its selection syntax, where a key prefix is ``key:<prefix>/*``
(the bare ``recent_engagements_v1/*`` means "downstream of the key ``recent_engagements_v1/``" in
the legacy syntax and selects nothing). ``group:recent_engagements_v1`` selects the same assets.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from feature_platform.store import open_store
from tests.conftest import REPO_ROOT

BIN = REPO_ROOT / ".venv" / "bin"


@pytest.mark.slow
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
         "--select", "key:recent_engagements_v1/*", "--partition", "2026-11-03"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )

    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert "RUN_SUCCESS" in log
    for step in ("compiled", "validated", "published", "index", "watermark"):
        assert f'Finished execution of step "recent_engagements_v1__{step}"' in log
    for check in ("config_valid", "release_allowed", "artefact_integrity", "data_contract"):
        assert f"Asset check '{check}'" in log and "failed" not in log.split(f"Asset check '{check}'")[1][:80]
    assert open_store(str(data / "artefacts")).load_live("dev", "recent_engagements_v1")
    tables = data / "tables" / "recent_engagements_v1"
    assert (tables / "events" / "dt=2026-11-03" / "part-00000.parquet").is_file()
    assert (tables / "watermark" / "dt=2026-11-03" / "part-00000.parquet").is_file()
    assert not (tables / "events" / "dt=2026-11-02").exists()  # one partition, nothing else
