"""The oracle (the batch tables of the same raw partitions) and reading what the online store serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from feature_platform.artefact import Artefact
from feature_platform.engine import events_schema
from feature_platform.runtimes.batch import TableLocations, read_snapshot
from feature_platform.runtimes.online import OnlineStore, SequenceRequest, assemble
from feature_platform.runtimes.stream import EventLog, GroupInfo, replay, streamed_sources
from feature_platform.store import ArtefactStore

GROUP_PREFIX = "fp-indexer"


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def oracle(locations: TableLocations, feature_id: str, day: date) -> dict[str, list[dict[str, Any]]]:
    """Every user's sequence as of the end of ``day`` from the batch snapshot (the one sequence definition)."""
    snapshot = read_snapshot(feature_id, day, locations).sort("user_id", "position")
    out: dict[str, list[dict[str, Any]]] = {}
    encoded = snapshot.select(pl.col("user_id").cast(pl.String),
                              pl.struct([c for c in snapshot.columns if c not in ("user_id", "position")])
                              .struct.json_encode().alias("j"))
    for user, j in encoded.iter_rows():
        out.setdefault(user, []).append(orjson.loads(j))
    return out


def served(online: OnlineStore, artefact: Artefact, users: list[str], now: datetime) -> dict[str, list[dict[str, Any]]]:
    """What serving returns for each user at ``now`` (the merge rule over the stored batch part and tail)."""
    schema = events_schema(artefact)
    user = artefact.feature.entity_key.name
    event_schema = pl.Schema({c: schema[c] for c in schema if c != user})
    records = online.read_users_sync(artefact.feature.id, users)
    out = {}
    for u, record in zip(users, records, strict=True):
        result = assemble(record, artefact, event_schema, SequenceRequest(), now=now)
        events = orjson.loads(b"[" + result.events_json + b"]")
        if events:
            out[u] = events
    return out


def batch_rejects(locations: TableLocations, feature_id: str) -> Counter[tuple[str, str, str]]:
    root = Path(locations.tables_root) / feature_id / "rejects"
    frame = pl.read_parquet(str(root / "*" / "*.parquet"), hive_partitioning=False)
    return Counter(zip(frame["event_type"], frame["reason"], frame["raw"], strict=True))


def dead_letter_counter(log: EventLog, feature_id: str) -> Counter[tuple[str, str, str]]:
    return Counter((d.event_type, d.reason, d.raw) for d in log.dead_letters(feature_id))


def replay_days(log: EventLog, artefacts: dict[str, Artefact], raw_root: str, days: list[date]) -> int:
    sources = {n: a.sources[n] for a in artefacts.values() for n in streamed_sources(a)}
    count = 0
    for day in days:
        for name in sorted(sources):
            count += replay(log, sources[name], raw_root, day)
    return count


def caught_up(log: EventLog, artefacts: dict[str, Artefact], group_prefix: str = GROUP_PREFIX) -> bool:
    for artefact in artefacts.values():
        for stream in streamed_sources(artefact).values():
            info: GroupInfo = log.group_info(stream, f"{group_prefix}.{artefact.feature.id}")
            if info.lag or info.pending:
                return False
    return True


def indexer_process(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "feature_platform.runtimes.stream", "--env", "dev", *args],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill9(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def stream_env(tmp_path: Path, store: ArtefactStore | str, raw_root: str, online: str, log: str,
               prefix: str = "fp") -> dict[str, str]:
    return {"FP_DATA_DIR": str(tmp_path / "data"), "FP_ARTEFACT_STORE": str(store), "FP_RAW_DATA_ROOT": raw_root,
            "FP_ONLINE_STORE": online, "FP_ONLINE_PREFIX": prefix, "FP_EVENT_LOG": log,
            "FP_EVENT_LOG_PREFIX": prefix}


def raw_users(tables: Any) -> list[str]:
    """Every user id in the raw data (so a user the stream served wrongly cannot hide from the comparison)."""
    root = Path(tables.locations.raw_root)
    users: set[str] = set()
    for source in ("engagement_events", "search_events"):
        frame = pl.read_parquet(str(root / source / "*" / "*.parquet"), columns=["user_id"], hive_partitioning=False)
        users.update(str(u) for u in frame.get_column("user_id").drop_nulls().unique().to_list())
    return sorted(users)


def log_ids(log: EventLog, stream: str) -> list[str]:
    """The ids ``stream`` still holds, read under the event log (no consumer group is created or moved)."""
    from feature_platform.runtimes.stream._redis_log import RedisEventLog
    from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog

    if isinstance(log, RedisEventLog):
        return [(i.decode() if isinstance(i, bytes) else str(i)) for i, _ in log._r.xrange(log.key(stream))]
    assert isinstance(log, SqliteEventLog)
    return [str(r[0]) for r in log._db.execute("SELECT id FROM entries WHERE stream = ? ORDER BY id", (stream,))]
