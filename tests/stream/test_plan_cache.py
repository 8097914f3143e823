"""The indexer builds its engine plan once per artefact and lookup-table version and reuses it for every
micro-batch: a newer lookup partition or an artefact switch must give a new plan (events indexed after
either carry the new values), while micro-batches in between reuse the one plan."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from feature_platform.artefact import Artefact, seal_artefact
from feature_platform.compiler import compile_configs
from feature_platform.runtimes.online import SqliteOnlineStore
from feature_platform.runtimes.stream import IndexerConfig, LogEntry, StreamIndexer, payloads
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from feature_platform.store import open_store
from tests.batch.conftest import Published
from tests.conftest import REPO_ROOT
from tests.online.conftest import OnlineTables
from tests.stream.helpers import caught_up, day_end, served

FEATURE = "recent_engagements_v1"
SOURCE = "engagement_events"


def _switched_category(artefact: Artefact) -> tuple[bytes, str]:
    """The same feature id whose ``item_category`` enrichment reads the table's ``subcategory`` column."""
    enrichment = artefact.enrichments["item_category"]
    assert enrichment.lookup is not None
    lookup = enrichment.lookup.model_copy(
        update={"columns": {**enrichment.lookup.columns, "item_category": "subcategory"}}
    )
    enrichments = {**artefact.enrichments, "item_category": enrichment.model_copy(update={"lookup": lookup})}
    return seal_artefact(artefact.model_copy(update={"enrichments": enrichments, "content_hash": None}))


def test_the_plan_is_rebuilt_after_a_lookup_refresh_and_an_artefact_switch(
    tmp_path: Path, online_tables: OnlineTables
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(online_tables.locations.raw_root, raw)
    result = compile_configs(REPO_ROOT / "feature_configs")
    assert result.ok
    store = open_store(str(tmp_path / "artefacts"))
    for feature_id, sealed in sorted(result.artefacts.items()):
        store.publish("dev", feature_id, store.put_artefact(sealed.data), actor="tests")
    first = store.load_live("dev", FEATURE)
    log = SqliteEventLog(tmp_path / "log.sqlite")
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    config = IndexerConfig(
        env="dev", features=(FEATURE,), raw_root=str(raw), reload_seconds=0, lookup_refresh_seconds=0
    )
    indexer = StreamIndexer(config, store, log, online)

    day = online_tables.days[-1]
    categories = pl.read_parquet(str(raw / "item_categories" / "*.parquet"), hive_partitioning=False)
    item, category, subcategory = categories.drop_nulls().row(0)
    template = orjson.loads(payloads(first.sources[SOURCE], str(raw), day)[0])
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    user = 987_654_321

    def index_one(n: int) -> dict[str, Any]:
        """Append one save of ``item`` by ``user`` and index it; return what is served newest for the user."""
        at = start + timedelta(hours=n)
        event = {
            **template,
            "event_id": f"plan-cache-{n}",
            "user_id": user,
            "pin_id": item,
            "action": "save",
            "event_ts_ms": int(at.timestamp() * 1000),
        }
        log.append("engagement_events", [(int(at.timestamp() * 1e6), orjson.dumps(event))])
        indexer.run(until=lambda: bool(indexer.units) and caught_up(log, {FEATURE: indexer.units[FEATURE].artefact}))
        newest = served(online, indexer.units[FEATURE].artefact, [str(user)], day_end(day))[str(user)][0]
        assert newest["event_id"] == event["event_id"]
        return newest

    assert index_one(1)["item_category"] == category
    plan = indexer.units[FEATURE].plan
    assert plan is not None
    assert index_one(2)["item_category"] == category
    assert indexer.units[FEATURE].plan is plan and plan.builds == 1  # reused, not rebuilt per micro-batch

    # A newer lookup partition lands: the next micro-batch joins the new table, through a new plan.
    table = raw / "item_categories"
    changed = categories.with_columns(pl.lit("refreshed-category").alias("category"))
    for path in table.glob("*.parquet"):
        path.unlink()
    changed.write_parquet(table / "part-new.parquet")
    assert index_one(3)["item_category"] == "refreshed-category"
    refreshed = indexer.units[FEATURE].plan
    assert refreshed is not plan

    # The pointer moves to a version of the same feature id that maps another column: a new plan again.
    data, switched = _switched_category(first)
    store.put_artefact(data)
    store.publish("dev", FEATURE, switched, actor="tests")
    assert index_one(4)["item_category"] == subcategory
    assert indexer.units[FEATURE].artefact.content_hash == switched
    assert indexer.units[FEATURE].plan is not refreshed
    log.close()
    online.close()


def test_micro_batches_grow_under_lag_and_shrink_when_caught_up(
    tmp_path: Path, published: Published, online_tables: OnlineTables
) -> None:
    """A full read doubles the next one (up to batch_count x batch_growth); a partial read resets it."""
    log = SqliteEventLog(tmp_path / "log.sqlite")
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    artefact = online_tables.artefacts[FEATURE]
    rows = payloads(artefact.sources[SOURCE], online_tables.locations.raw_root, online_tables.days[0])[:2_450]
    arrival = int(day_end(online_tables.days[0]).timestamp() * 1e6) - 1
    log.append(SOURCE, [(arrival, p) for p in rows])
    config = IndexerConfig(
        env="dev",
        features=(FEATURE,),
        raw_root=online_tables.locations.raw_root,
        reload_seconds=3600,
        batch_count=100,
        batch_growth=4,
    )
    indexer = StreamIndexer(config, published.store, log, online)
    asked: list[int] = []
    read = log.read

    def recording(stream: str, group: str, consumer: str, count: int, **kw: Any) -> list[LogEntry]:
        entries = read(stream, group, consumer, count, **kw)
        if not kw.get("pending"):
            asked.append(count)
        return entries

    log.read = recording  # type: ignore[method-assign]
    indexer.run(until=lambda: bool(indexer.units) and caught_up(log, {FEATURE: artefact}))
    # 100 + 200 + 400 x 5 = 2,300 entries in full reads, then a partial one (150 of 400)
    assert asked[:8] == [100, 200, 400, 400, 400, 400, 400, 400]
    assert indexer.units[FEATURE].entries_processed == len(rows)
    log.append(SOURCE, [(arrival, p) for p in rows[:50]])
    asked.clear()
    indexer.step()
    assert asked and asked[0] == 100  # the partial read reset the size: small micro-batches again
    log.close()
    online.close()
