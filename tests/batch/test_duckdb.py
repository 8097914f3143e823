"""The tables are plain hive-partitioned Parquet: DuckDB and polars read them with no help."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from feature_platform.engine import events_schema
from feature_platform.runtimes.batch import snapshot_columns
from tests.batch.conftest import DAYS, FEATURES, DemoTables, Published
from tests.batch.helpers import manifest


def sql(query: str) -> duckdb.DuckDBPyRelation:
    relation = duckdb.sql(query)
    assert relation is not None
    return relation


@pytest.mark.parametrize("feature_id", FEATURES)
def test_duckdb_reads_events_and_snapshots(feature_id: str, demo_tables: DemoTables, published: Published) -> None:
    root = demo_tables.locations.feature_root(feature_id)
    artefact = published.artefacts[feature_id]
    manifests = {day: manifest(demo_tables.locations, feature_id, day) for day in DAYS}

    events = f"read_parquet('{root}/events/*/*.parquet', hive_partitioning=true)"
    columns = [row[0] for row in sql(f"describe select * from {events}").fetchall()]
    assert columns == [*events_schema(artefact), "dt"]
    per_day = dict(sql(f"select dt::varchar, count(*) from {events} group by dt").fetchall())
    assert per_day == {day.isoformat(): manifests[day]["events"]["rows"] for day in DAYS}
    duplicates = sql(
        f"select count(*) from (select dt, event_id, event_type from {events} group by all having count(*) > 1)"
    ).fetchall()[0]
    assert duplicates == (0,)

    snapshots = f"read_parquet('{root}/snapshots/*/*.parquet', hive_partitioning=true)"
    columns = [row[0] for row in sql(f"describe select * from {snapshots}").fetchall()]
    assert columns == [*snapshot_columns(artefact), "dt"]
    stats = sql(
        f"select dt::varchar, count(*), count(distinct user_id), max(position) from {snapshots} group by dt"
    ).fetchall()
    for day, rows, users, top in stats:
        written = manifests[next(d for d in DAYS if d.isoformat() == day)]["snapshot"]
        assert (rows, users) == (written["rows"], written["users"])
        assert top < artefact.feature.max_length

    rejects = f"read_parquet('{root}/rejects/*/*.parquet', hive_partitioning=true)"
    reasons = sql(f"select count(*) from {rejects}").fetchall()[0]
    assert reasons == (sum(m["rejects"]["rows"] for m in manifests.values()),)


def test_polars_reads_the_tables_with_hive_partitioning(demo_tables: DemoTables) -> None:
    root = demo_tables.locations.feature_root("recent_engagements_v1")
    events = pl.scan_parquet(f"{root}/events/*/*.parquet", hive_partitioning=True).collect()
    assert events.schema["dt"] == pl.Date
    assert sorted(events.get_column("dt").unique().to_list()) == DAYS
