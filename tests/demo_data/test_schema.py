"""The demo data has exactly the raw schemas the compiled example artefacts declare."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl

from feature_platform.compiler import compile_configs
from feature_platform.demo_data.schema import ALL_TABLES, SCHEMAS, logical_dtype, logical_schema
from tests.conftest import REPO_ROOT
from tests.demo_data.conftest import DemoData


def _compiled_sources() -> dict[str, dict[str, str]]:
    result = compile_configs(REPO_ROOT / "feature_configs")
    assert result.ok, result.issues
    sources: dict[str, dict[str, str]] = {}
    for sealed in result.artefacts.values():
        for name, source in sealed.artefact.sources.items():
            columns = {column.name: str(column.dtype.value) for column in source.columns}
            assert sources.setdefault(name, columns) == columns  # every artefact agrees
    return sources


def test_own_schema_constants_equal_the_compiled_sources() -> None:
    compiled = _compiled_sources()
    assert set(compiled) == set(ALL_TABLES)
    for table in ALL_TABLES:
        assert logical_schema(table) == compiled[table], table


def test_written_files_have_the_compiled_columns_and_dtypes(demo: DemoData) -> None:
    compiled = _compiled_sources()
    for table in ALL_TABLES:
        parts = demo.parts(table)
        assert parts, table
        for path in parts:
            schema = pl.read_parquet_schema(path)
            assert list(schema) == list(SCHEMAS[table]), path  # fixed column order
            assert {name: logical_dtype(dtype) for name, dtype in schema.items()} == compiled[table], path


def test_event_tables_read_as_hive_partitioned_datasets(demo: DemoData) -> None:
    files = demo.root / "engagement_events" / "**" / "*.parquet"
    frame = pl.scan_parquet(files, hive_partitioning=True).collect()
    assert frame.height == demo.manifest["tables"]["engagement_events"]["rows"]
    assert sorted(frame["dt"].cast(pl.String).unique().to_list()) == demo.manifest["days"]


def test_demo_data_package_never_loads_configs_authoring_or_compiler() -> None:
    script = (
        "import importlib, json, pkgutil, sys\n"
        "import feature_platform.demo_data as pkg\n"
        "for info in pkgutil.walk_packages(pkg.__path__, 'feature_platform.demo_data.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True)
    loaded = json.loads(out.stdout)
    forbidden = ("feature_platform.authoring", "feature_platform.compiler", "feature_configs")
    assert [m for m in loaded if m.startswith(forbidden)] == []
    assert "feature_platform.demo_data.cli" in loaded
