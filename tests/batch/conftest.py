"""Fixtures of the batch runtime tests.

* ``demo``: a small demo data set (4 days, defect rates raised so every kind shows), generated once;
* ``published``: the example configs compiled and published to a local artefact store, loaded back
  live as the runtime loads them (``store.load_live``);
* ``demo_tables``: every example feature indexed over the demo days, once (read-only for tests: tests
  that rewrite days index into their own directory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from feature_platform.artefact import Artefact
from feature_platform.compiler import compile_configs
from feature_platform.demo_data import DefectRates, DemoDataConfig, generate
from feature_platform.demo_data.generator import MANIFEST_NAME
from feature_platform.runtimes.batch import DayIndexResult, TableLocations, index_days
from feature_platform.store import ArtefactStore, open_store
from tests.conftest import REPO_ROOT

ENV = "dev"
FEATURES = ("recent_closeups_v1", "recent_engagements_v1", "recent_searches_v1")
RATES = DefectRates(late=0.05, null_user_id=0.01, null_event_id=0.008, bad_timestamp=0.01, duplicate=0.02,
                    null_pin_id=0.005)
DEMO = DemoDataConfig(users=120, items=300, days=4, events=12_000, seed=23, start_date=date(2026, 11, 1),
                      chunk_rows=5_000, defects=RATES)
DAYS = [DEMO.start_date + timedelta(days=i) for i in range(DEMO.days)]


@dataclass(frozen=True)
class Demo:
    root: Path
    manifest: dict[str, Any]

    @property
    def days(self) -> list[date]:
        return DAYS


@dataclass(frozen=True)
class Published:
    store_url: str
    store: ArtefactStore
    artefacts: dict[str, Artefact]


@dataclass(frozen=True)
class DemoTables:
    locations: TableLocations
    results: dict[str, list[DayIndexResult]]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("batch_demo_raw")
    generate(DEMO, root, workers=1)
    return Demo(root=root, manifest=json.loads((root / MANIFEST_NAME).read_text()))


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    result = compile_configs(REPO_ROOT / "feature_configs")
    assert result.ok, result.issues
    url = str(tmp_path_factory.mktemp("batch_store") / "artefacts")
    store = open_store(url)
    for feature_id, sealed in sorted(result.artefacts.items()):
        content_hash = store.put_artefact(sealed.data)
        store.publish(ENV, feature_id, content_hash, actor="tests")
    artefacts = {feature_id: store.load_live(ENV, feature_id) for feature_id in FEATURES}
    return Published(store_url=url, store=store, artefacts=artefacts)


@pytest.fixture(scope="session")
def demo_tables(demo: Demo, published: Published, tmp_path_factory: pytest.TempPathFactory) -> DemoTables:
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path_factory.mktemp("batch_tables")))
    results = {
        feature_id: index_days(artefact, DAYS[0], DAYS[-1], locations)
        for feature_id, artefact in published.artefacts.items()
    }
    return DemoTables(locations=locations, results=results)
