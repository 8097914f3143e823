"""Hot reload (a moved pointer is followed without a restart; a new feature id starts its own tail; a
corrupt or unknown-version artefact is refused and the previous keeps running), and parity: batch alone,
stream alone, batch for old days + stream for the last day, and the same with the stream lagging behind the
load (re-writing days the batch part covers) serve identical sequences, equal to the training set at the
same instant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl

from feature_platform.artefact import Artefact, seal_artefact
from feature_platform.artefact.canonical import seal
from feature_platform.compiler import compile_configs
from feature_platform.runtimes.batch import build_training_set
from feature_platform.runtimes.online import SqliteOnlineStore, load_day
from feature_platform.runtimes.stream import IndexerConfig, StreamIndexer, replay
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from feature_platform.store import ArtefactStore, layout, open_store
from feature_platform.store.audit import AuditEntry, utc_now
from tests.batch.conftest import Published
from tests.conftest import REPO_ROOT
from tests.online.conftest import OnlineTables
from tests.stream.helpers import caught_up, day_end, oracle, raw_users, replay_days, served

FEATURE = "recent_searches_v1"


def _own_store(tmp_path: Path) -> ArtefactStore:
    result = compile_configs(REPO_ROOT / "feature_configs")
    assert result.ok
    store = open_store(str(tmp_path / "artefacts"))
    for feature_id, sealed in sorted(result.artefacts.items()):
        store.publish("dev", feature_id, store.put_artefact(sealed.data), actor="tests")
    return store


def _force_pointer(store: ArtefactStore, feature_id: str, content_hash: str) -> None:
    current = store.current("dev", feature_id)
    assert current is not None
    entry = AuditEntry(generation=current.generation + 1, env="dev", feature_id=feature_id, action="publish",
                       from_hash=current.to_hash, to_hash=content_hash, actor="tests", at=utc_now())
    assert store.backend.put_if_absent(layout.audit_key("dev", feature_id, entry.generation), entry.to_bytes())


def _with(artefact: Artefact, **feature: Any) -> tuple[bytes, str]:
    changed = artefact.feature.model_copy(update=feature)
    return seal_artefact(artefact.model_copy(update={"feature": changed, "content_hash": None}))


def test_hot_reload_follows_pointers_and_refuses_bad_artefacts(tmp_path: Path, online_tables: OnlineTables) -> None:
    store = _own_store(tmp_path)
    log = SqliteEventLog(tmp_path / "log.sqlite")
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    config = IndexerConfig(env="dev", features=("recent_searches",), raw_root=online_tables.locations.raw_root,
                           reload_seconds=0)
    indexer = StreamIndexer(config, store, log, online)
    first = store.load_live("dev", FEATURE)
    source = first.sources["search_events"]
    days = online_tables.days
    replay(log, source, online_tables.locations.raw_root, days[0])
    indexer.run(until=lambda: bool(indexer.units) and caught_up(log, {FEATURE: first}))
    assert set(indexer.units) == {FEATURE}  # --feature by name
    assert online.get_stream_status(FEATURE).artefact_hash == first.content_hash  # type: ignore[union-attr]

    data, second = _with(first, description="second version")
    store.put_artefact(data)
    store.publish("dev", FEATURE, second, actor="tests")
    indexer.step()
    assert indexer.units[FEATURE].artefact.content_hash == second  # no restart

    good = indexer.units[FEATURE].artefact
    corrupt_data, corrupt = _with(first, description="corrupt version")
    store.backend.put(layout.object_key(corrupt), corrupt_data.replace(b"corrupt version", b"CORRUPT version"))
    _force_pointer(store, FEATURE, corrupt)
    indexer.step()
    assert "hash" in indexer.refused[FEATURE] and indexer.units[FEATURE].artefact is good
    future_data, future = seal({**first.model_dump(mode="json", exclude={"content_hash"}), "format_version": "9.0"})
    store.backend.put(layout.object_key(future), future_data)
    _force_pointer(store, FEATURE, future)
    indexer.step()
    assert "9.0" in indexer.refused[FEATURE] and indexer.units[FEATURE].artefact is good
    assert indexer.metrics.reload_refusals._value.get() == 2
    replay(log, source, online_tables.locations.raw_root, days[1])  # the previous version keeps indexing
    indexer.run(until=lambda: caught_up(log, {FEATURE: first}))

    # A version bump is a new feature id: its own consumer group from the start of the log, its own tail.
    bumped_data, bumped = _with(first, version=2, id="recent_searches_v2")
    store.put_artefact(bumped_data)
    store.publish("dev", "recent_searches_v2", bumped, actor="tests")
    indexer.step()
    assert set(indexer.units) == {FEATURE, "recent_searches_v2"}
    v2 = indexer.units["recent_searches_v2"].artefact
    indexer.run(until=lambda: caught_up(log, {FEATURE: first, "recent_searches_v2": v2}))
    users = raw_users(online_tables)
    at = day_end(days[1])
    v1_served = served(online, first, users, at)
    assert v1_served and served(online, v2, users, at) == v1_served
    log.close()
    online.close()


def _training(artefact: Artefact, tables: OnlineTables, users: list[str], at: Any) -> dict[str, list[dict[str, Any]]]:
    examples = pl.DataFrame({"user_id": [int(u) for u in users], "timestamp": [at] * len(users)})
    built = build_training_set(artefact, examples, tables.locations)
    out: dict[str, list[dict[str, Any]]] = {}
    for user, sequence in built.select("user_id", "sequence").iter_rows():
        if sequence:
            frame = pl.DataFrame(sequence, schema=built.schema["sequence"].inner.to_schema(), orient="row")  # type: ignore[union-attr]
            out[str(user)] = [orjson.loads(j) for j in frame.select(pl.struct(pl.all()).struct.json_encode())
                              .to_series().to_list()]
    return out


def test_batch_stream_and_both_serve_the_same_sequences_as_the_training_set(
    tmp_path: Path, published: Published, online_tables: OnlineTables
) -> None:
    days = online_tables.days
    raw = online_tables.locations.raw_root
    users = raw_users(online_tables)
    now = day_end(days[-1])

    def run(name: str, load: Any, stream_days: list[Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
        online = SqliteOnlineStore(tmp_path / f"{name}.sqlite")
        log = SqliteEventLog(tmp_path / f"{name}-log.sqlite")
        for artefact in online_tables.artefacts.values():
            if load is not None:
                load_day(artefact, load, online_tables.locations, online)
        if stream_days:
            replay_days(log, online_tables.artefacts, raw, stream_days)
            indexer = StreamIndexer(IndexerConfig(env="dev", raw_root=raw, reload_seconds=3600), published.store,
                                    log, online)
            indexer.run(until=lambda: bool(indexer.units) and caught_up(log, online_tables.artefacts))
        out = {f: served(online, a, users, now) for f, a in online_tables.artefacts.items()}
        online.close()
        log.close()
        return out

    batch = run("batch", days[-1], [])
    stream = run("stream", None, days)
    both = run("both", days[-2], days[-1:])
    # The stream lagging behind the load: it writes the days the batch part already covers after the load
    # trimmed the tail, so those entries stay in the tail; the merge must still count each event once.
    lagging = run("lagging", days[-2], days)
    for feature_id, artefact in online_tables.artefacts.items():
        expected = oracle(online_tables.locations, feature_id, days[-1])
        assert batch[feature_id] == expected
        assert stream[feature_id] == expected
        assert both[feature_id] == expected
        assert lagging[feature_id] == expected
        assert _training(artefact, online_tables, users, now) == expected
