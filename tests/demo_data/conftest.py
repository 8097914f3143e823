"""One demo data set generated per test session (about a second), shared read-only by the tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from feature_platform.demo_data import DefectRates, DemoDataConfig, generate
from feature_platform.demo_data.generator import MANIFEST_NAME

# Defect rates a little above the defaults, so each kind has a few hundred rows to measure.
RATES = DefectRates(late=0.02, null_user_id=0.005, null_event_id=0.004, bad_timestamp=0.005, duplicate=0.008,
                    null_pin_id=0.004)
CONFIG = DemoDataConfig(users=1_500, items=4_000, days=4, events=160_000, seed=11,
                        start_date=date(2026, 11, 1), chunk_rows=15_000, defects=RATES)


@dataclass(frozen=True)
class DemoData:
    root: Path
    config: DemoDataConfig
    manifest: dict[str, Any]

    def parts(self, table: str) -> list[Path]:
        return sorted((self.root / table).rglob("*.parquet"))

    def read(self, table: str) -> pl.DataFrame:
        """All rows of a table, with the partition day (``dt``, a string) of event tables."""
        frames = []
        for path in self.parts(table):
            frame = pl.read_parquet(path)
            if path.parent.name.startswith("dt="):
                frame = frame.with_columns(dt=pl.lit(path.parent.name.removeprefix("dt=")))
            frames.append(frame)
        return pl.concat(frames)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    root = tmp_path_factory.mktemp("demo_data")
    manifest = generate(CONFIG, root)
    assert json.loads((root / MANIFEST_NAME).read_text()) == manifest
    return DemoData(root, CONFIG, manifest)
