"""Fixtures of the orchestration tests: a private copy of the configs, a data dir, a Dagster instance.

Every test gets its own ``FP_DATA_DIR`` and its own copy of ``feature_configs`` (so a test may edit
configs), and an instance under ``tmp_path``; nothing is shared between tests except demo data, which
is generated once per session (read-only) because generating it is the slow part.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from feature_platform.orchestration import build_definitions
from tests.conftest import REPO_ROOT

DEMO_START = "2026-11-01"
DEMO_DAYS = 3


@dataclass
class Platform:
    """One isolated deployment: configs, data dir, instance; ``defs()`` builds the code location."""

    root: Path
    configs_dir: Path
    data_dir: Path
    instance: dg.DagsterInstance

    def defs(self) -> dg.Definitions:
        return build_definitions()

    def run(
        self, selection: dg.AssetSelection, *, partition_key: str | None = None, defs: dg.Definitions | None = None,
        run_config: dict[str, Any] | None = None,
    ) -> dg.ExecuteInProcessResult:
        """Materialise ``selection`` (with the checks of the selected assets) in process."""
        defs = defs or self.defs()
        return dg.materialize(
            [*(defs.assets or []), *(defs.asset_checks or [])],  # type: ignore[list-item]
            selection=selection, instance=self.instance, resources=defs.resources,
            partition_key=partition_key, raise_on_error=False, run_config=run_config,
        )

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.configs_dir / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new))


@pytest.fixture(scope="session")
def demo_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small demo raw data (200 users, 3 days from 2026-11-01, defects included), shared read-only."""
    from feature_platform.demo_data import DemoDataConfig, generate

    out = tmp_path_factory.mktemp("demo") / "raw"
    config = DemoDataConfig(users=200, items=300, days=DEMO_DAYS, events=20_000,
                            start_date=date.fromisoformat(DEMO_START))
    generate(config, out, workers=1)
    return out


@pytest.fixture
def batch_platform(platform: Platform, demo_raw: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """A platform reading the shared demo data (tables and store stay private to the test)."""
    monkeypatch.setenv("FP_RAW_DATA_ROOT", str(demo_raw))
    return platform


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    configs = tmp_path / "feature_configs"
    shutil.copytree(REPO_ROOT / "feature_configs", configs, ignore=shutil.ignore_patterns("__pycache__"))
    data = tmp_path / "fp_data"
    monkeypatch.setenv("FP_DATA_DIR", str(data))
    monkeypatch.setenv("FP_CONFIGS_DIR", str(configs))
    monkeypatch.setenv("FP_ENV", "test")
    monkeypatch.setenv("FP_ACTOR", "pytest")
    for name in ("FP_ARTEFACT_STORE", "FP_RAW_DATA_ROOT", "FP_TABLES_ROOT", "FP_DAGSTER_WEBSERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        yield Platform(root=tmp_path, configs_dir=configs, data_dir=data, instance=instance)


def step_keys(result: dg.ExecuteInProcessResult, event_type: str) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == event_type and e.step_key}


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key}


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def selection(*keys: dg.AssetKey | Sequence[dg.AssetKey]) -> dg.AssetSelection:
    flat: list[dg.AssetKey] = []
    for k in keys:
        flat.extend([k] if isinstance(k, dg.AssetKey) else k)
    return dg.AssetSelection.assets(*flat)
