"""Fixtures of the streaming indexer tests.

* the batch demo data set, published artefacts and the certified batch tables of ``tests.online``
  (the oracle: batch and stream run the same plan over the same raw partitions);
* ``log``: an empty event log per test, parametrised over both backends (Redis: a fresh key prefix,
  deleted afterwards; SQLite: a file under ``tmp_path``);
* ``redis_url``: the shared Redis (skip, or fail with FP_REQUIRE_SERVICES=1);
* ``fault_tables``: the demo data plus timestamp ties (the demo has only a handful), indexed and certified
  like ``online_tables``: what the crash tests replay and compare with.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import redis

from feature_platform.runtimes.batch import TableLocations, certify_day, index_days
from feature_platform.runtimes.stream import EventLog
from feature_platform.runtimes.stream._redis_log import RedisEventLog
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from tests.batch.conftest import DAYS, Demo, Published, demo, published  # noqa: F401
from tests.online.conftest import OnlineTables, online_tables, redis_store, redis_url  # noqa: F401

TIE_EVERY = 25
"""One valid event in 25 of each day and events source gets a tie: another event of the same user at the
same instant with a new id."""
SOURCE_IDS = {"engagement_events": ("event_id", "pin_id"), "search_events": ("query_id", "query_text")}


def with_ties(raw: Path, tables: OnlineTables) -> None:
    """Add ``part-99999.parquet`` (arriving last) to every day of both events sources: for every
    ``TIE_EVERY``-th event the batch indexed, a copy with the id suffixed ``-tie`` — every other one also
    with another item (or query), so both the tie-break of the ranking and that of ``dedup_by`` run."""
    events = {s: [f for f, a in tables.artefacts.items()
                  if any(a.event_types[t].source == s for t in a.feature.event_types)] for s in SOURCE_IDS}
    for day in DAYS:
        for source, (id_column, other) in SOURCE_IDS.items():
            valid = pl.concat([pl.read_parquet(tables.locations.partition_file(f, "events", day),
                                               columns=["event_id"]) for f in events[source]])
            folder = raw / source / f"dt={day.isoformat()}"
            rows = pl.read_parquet(str(folder / "*.parquet"), hive_partitioning=False)
            picked = (rows.filter(pl.col(id_column).is_in(valid.get_column("event_id").implode()))
                      .unique(id_column, keep="first", maintain_order=True).gather_every(TIE_EVERY))
            changed = pl.int_range(pl.len()) % 2 == 1
            replacement = (pl.col(other).shift(1).fill_null(pl.col(other)) if other == "pin_id"
                           else pl.col(other) + " tie")
            ties = picked.with_columns(pl.col(id_column) + "-tie",
                                       pl.when(changed).then(replacement).otherwise(pl.col(other)).alias(other))
            ties.select(rows.columns).cast(dict(rows.schema)).write_parquet(folder / "part-99999.parquet")


@pytest.fixture(scope="session")
def fault_tables(demo: Demo, published: Published, online_tables: OnlineTables,  # noqa: F811
                 tmp_path_factory: pytest.TempPathFactory) -> OnlineTables:
    raw = tmp_path_factory.mktemp("fault_raw") / "raw"
    shutil.copytree(demo.root, raw)
    with_ties(raw, online_tables)
    locations = TableLocations(raw_root=str(raw), tables_root=str(tmp_path_factory.mktemp("fault_tables")))
    for feature_id, artefact in published.artefacts.items():
        for result in index_days(artefact, DAYS[0], DAYS[-1], locations):
            assert certify_day(locations, feature_id, result.day, "tests").artefact_hash == artefact.content_hash
    return OnlineTables(locations=locations, artefacts=dict(published.artefacts), days=list(DAYS))


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:  # noqa: F811
    prefix = f"fptest-stream-{uuid.uuid4().hex}"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture(params=["sqlite", "redis"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    if request.param == "sqlite":
        sqlite = SqliteEventLog(tmp_path / "event_log.sqlite")
        yield sqlite
        sqlite.close()
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        redis_log = RedisEventLog(url, prefix=prefix)
        yield redis_log
        redis_log.close()
