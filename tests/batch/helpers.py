"""Helpers of the batch tests: raw rows for the reference, a small hand-made source, table reads."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from feature_platform.artefact import Artefact, parse_artefact
from feature_platform.compiler import compile_configs
from feature_platform.engine import dedup_and_rank, polars_schema
from feature_platform.runtimes.batch import TableLocations, read_events, read_snapshot, snapshot_columns
from tests.conftest import REPO_ROOT
from tests.reference import canonical_rows
from tests.reference.batch import day_end

FIXTURE_CONFIGS = REPO_ROOT / "tests" / "fixtures" / "valid" / "fixture_configs"
APP_EVENTS = "app_events"
ITEM_FEATURES = "item_features"


def utc(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))


# -- artefacts ----------------------------------------------------------------------------------------


def fixture_artefacts() -> dict[str, Artefact]:
    """``tests/fixtures/valid/fixture_configs`` compiled (recent_item_activity_v1, recent_searches_v1)."""
    result = compile_configs(FIXTURE_CONFIGS)
    assert result.ok, result.issues
    return {name: parse_artefact(sealed.data) for name, sealed in result.artefacts.items()}


def with_feature(artefact: Artefact, **changes: Any) -> Artefact:
    """The artefact with feature fields changed (and no content hash: the runtime computes one)."""
    feature = artefact.feature.model_copy(update=changes)
    return artefact.model_copy(update={"feature": feature, "content_hash": None})


def without_filters(artefact: Artefact, event_type: str) -> Artefact:
    """The artefact reduced to one event type that selects every raw row of its source."""
    types = dict(artefact.event_types)
    types[event_type] = types[event_type].model_copy(update={"filter": None})
    feature = artefact.feature.model_copy(update={"event_types": (event_type,)})
    return artefact.model_copy(update={"event_types": types, "feature": feature, "content_hash": None})


# -- raw data -----------------------------------------------------------------------------------------


def partition_rows(raw_root: Path, table: str, day: date) -> list[dict[str, Any]]:
    """The raw rows of one day partition, in file order (files sorted by name)."""
    files = sorted((raw_root / table / f"dt={day.isoformat()}").glob("*.parquet"))
    return [row for path in files for row in pl.read_parquet(path).to_dicts()]


def table_rows(raw_root: Path, table: str) -> list[dict[str, Any]]:
    return [row for path in sorted((raw_root / table).glob("*.parquet")) for row in pl.read_parquet(path).to_dicts()]


def raw_inputs(
    artefact: Artefact, raw_root: Path, day: date
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Raw rows of ``day`` per events source, and lookup rows per lookup source, of the artefact."""
    raw: dict[str, list[dict[str, Any]]] = {}
    lookups: dict[str, list[dict[str, Any]]] = {}
    for name, source in artefact.sources.items():
        assert source.batch is not None
        if source.kind == "events":
            raw[name] = partition_rows(raw_root, source.batch.path, day)
        else:
            lookups[name] = table_rows(raw_root, source.batch.path)
    return raw, lookups


def write_partition(raw_root: Path, artefact: Artefact, source: str, day: date, rows: Sequence[Mapping[str, Any]],
                    *, part: str = "part-00000.parquet") -> Path:
    """Write raw rows of ``source`` (its declared schema) as one file of partition ``day``."""
    schema = polars_schema(artefact.sources[source].columns)
    directory = raw_root / source / f"dt={day.isoformat()}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / part
    pl.DataFrame([dict(r) for r in rows], schema=schema).write_parquet(path)
    return path


def write_lookup(raw_root: Path, artefact: Artefact, source: str, rows: Sequence[Mapping[str, Any]]) -> None:
    schema = polars_schema(artefact.sources[source].columns)
    directory = raw_root / source
    directory.mkdir(parents=True, exist_ok=True)
    pl.DataFrame([dict(r) for r in rows], schema=schema).write_parquet(directory / "part-00000.parquet")


# -- tables -------------------------------------------------------------------------------------------


def events_rows(feature_id: str, locations: TableLocations, day: date) -> list[dict[str, Any]]:
    return read_events(feature_id, locations, days=[day]).drop("dt").collect().to_dicts()


def rejects_rows(feature_id: str, locations: TableLocations, day: date) -> list[dict[str, Any]]:
    path = Path(locations.partition_file(feature_id, "rejects", day))
    return [{**row, "raw": json.loads(row["raw"])} for row in pl.read_parquet(path).to_dicts()]


def snapshot_rows(feature_id: str, locations: TableLocations, day: date) -> list[dict[str, Any]]:
    return read_snapshot(feature_id, day, locations).to_dicts()


def full_recompute(artefact: Artefact, locations: TableLocations, day: date) -> pl.DataFrame:
    """``dedup_and_rank`` over every events partition <= day, as of day+1: the non-incremental snapshot."""
    events = read_events(artefact.feature.id, locations).filter(pl.col("dt") <= day).drop("dt")
    user = artefact.feature.entity_key.name
    return (
        dedup_and_rank(events, artefact, as_of=day_end(day))
        .select(snapshot_columns(artefact))
        .sort(user, "position")
        .collect()
    )


def same_rows(left: Sequence[dict[str, Any]], right: Sequence[dict[str, Any]]) -> bool:
    return canonical_rows(left) == canonical_rows(right)


def manifest(locations: TableLocations, feature_id: str, day: date) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(locations.manifest_file(feature_id, day)).read_text())
    return data


def table_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
