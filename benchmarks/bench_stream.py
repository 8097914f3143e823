"""Streaming indexer benchmarks (``make bench``; figures in benchmarks/RESULTS.md).

1. **Throughput** (events/s, and per CPU-second of the indexer process = per core): one day of demo
   ``engagement_events`` (``--events`` raw rows, defects included) appended to a Redis stream, then
   * floor: the same entries read and acknowledged through a consumer group with no processing;
   * engine only: decoding + the indexer's ``MicroBatchPlan`` (built once, the tail encoding folded in)
     over the same micro-batches of ``BATCH`` entries, no IO;
   * the indexer (``recent_engagements_v1``: filter, map, dwell plugin, two lookup joins, tail write with
     idempotent ``append_tails``, dead letters, ack) on Redis — with micro-batches fixed at ``BATCH``
     (``batch_growth=1``) and adaptive (growing under lag up to ``BATCH x --batch-growth``, the default
     8) — and on the embedded SQLite log + store (adaptive).
2. **Event -> servable latency** at a steady ``--rate`` events/s (default 10k): the indexer and the
   serving API run as separate processes; a probe event of a fresh user is appended every 20 ms among the
   background traffic and the prober polls the serving API until the probe's event id is served.
   Floor: the same probes through a bare relay process (XREADGROUP -> SET of the same bytes -> XACK) read
   back with a Redis GET: the log + store round trips with no engine and no HTTP.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

from feature_platform.compiler import compile_configs
from feature_platform.demo_data import DemoDataConfig, generate
from feature_platform.engine import MicroBatchPlan
from feature_platform.runtimes.online import RedisOnlineStore, SqliteOnlineStore
from feature_platform.runtimes.stream import (
    IndexerConfig,
    Lookups,
    StreamIndexer,
    decode_entries,
    payloads,
)
from feature_platform.runtimes.stream._indexer import day_start_us, tail_rows
from feature_platform.runtimes.stream._redis_log import RedisEventLog
from feature_platform.runtimes.stream._run import tune_gc
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from feature_platform.store import open_store

FEATURE = "recent_engagements_v1"
SOURCE = "engagement_events"
REDIS = os.environ.get("FP_BENCH_REDIS", "redis://127.0.0.1:6379/0")
DAY = date(2026, 11, 1)
BATCH = 2_000


def _setup(work: Path, events: int) -> tuple[str, Any, Path]:
    raw = work / "raw"
    generate(
        DemoDataConfig(users=20_000, items=5_000, days=1, events=events, seed=5, start_date=DAY, search_share=0.0),
        raw,
        workers=1,
    )
    result = compile_configs(Path(__file__).resolve().parent.parent / "feature_configs")
    store_url = str(work / "artefacts")
    store = open_store(store_url)
    for feature_id, sealed in sorted(result.artefacts.items()):
        store.publish("bench", feature_id, store.put_artefact(sealed.data), actor="bench")
    return store_url, store, raw


def day_end_us_time(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, 999_999, tzinfo=UTC)


def _delete(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


def _caught_up(log: Any, group: str) -> bool:
    info = log.group_info(SOURCE, group)
    return info.lag == 0 and info.pending == 0


def throughput(work: Path, events: int, growth: int = 8) -> dict[str, Any]:
    _store_url, store, raw = _setup(work, events)
    artefact = store.load_live("bench", FEATURE)
    source = artefact.sources[SOURCE]
    rows = payloads(source, str(raw), DAY)
    prefix = f"fpbench-{uuid.uuid4().hex}"
    log = RedisEventLog(REDIS, prefix=prefix)
    out: dict[str, Any] = {"entries": len(rows)}
    tune_gc()  # the indexer process's settings (run_stream), for the floor, the engine and the indexer alike
    try:
        started = time.perf_counter()
        base = day_start_us(DAY)
        log.append(SOURCE, [(base + i, p) for i, p in enumerate(rows)])
        out["append_per_s"] = len(rows) / (time.perf_counter() - started)

        log.ensure_group(SOURCE, "floor")
        batches = []
        server = _redis_cpu()
        wall, cpu = time.perf_counter(), time.process_time()
        while True:
            entries = log.read(SOURCE, "floor", "c", BATCH)
            if not entries:
                break
            log.ack(SOURCE, "floor", [e.id for e in entries])
            batches.append(entries)
        out["floor"] = _rates(len(rows), wall, cpu, server)

        lookups = Lookups(str(raw), None, 3600).for_artefact(artefact)
        plan = MicroBatchPlan(artefact, lookups, finish_events=tail_rows(artefact), check_sources=True)
        wall, cpu = time.perf_counter(), time.process_time()
        for entries in batches:
            frame, _ = decode_entries(source, entries)
            plan.run({SOURCE: frame}, max_event_time=day_end_us_time(DAY))
        out["engine"] = _rates(len(rows), wall, cpu)

        for name, batch_growth in (("indexer_redis_fixed", 1), ("indexer_redis", growth)):
            online = RedisOnlineStore(REDIS, prefix=f"{prefix}:{name}")  # each run writes its own tails
            config = IndexerConfig(
                env="bench",
                features=(FEATURE,),
                raw_root=str(raw),
                batch_count=BATCH,
                batch_growth=batch_growth,
                reload_seconds=3600,
                group_prefix=name,
            )
            indexer = StreamIndexer(config, store, log, online)
            indexer.reload()
            server = _redis_cpu()
            wall, cpu = time.perf_counter(), time.process_time()
            indexer.run(until=lambda name=name: _caught_up(log, f"{name}.{FEATURE}"))
            out[name] = _rates(len(rows), wall, cpu, server)
            online.close()

        sqlite_log = SqliteEventLog(work / "log.sqlite")
        sqlite_log.append(SOURCE, [(base + i, p) for i, p in enumerate(rows)])
        sqlite_online = SqliteOnlineStore(work / "online.sqlite")
        config = IndexerConfig(
            env="bench",
            features=(FEATURE,),
            raw_root=str(raw),
            batch_count=BATCH,
            batch_growth=growth,
            reload_seconds=3600,
        )
        indexer = StreamIndexer(config, store, sqlite_log, sqlite_online)
        indexer.reload()
        wall, cpu = time.perf_counter(), time.process_time()
        indexer.run(until=lambda: _caught_up(sqlite_log, f"fp-indexer.{FEATURE}"))
        out["indexer_sqlite"] = _rates(len(rows), wall, cpu)
        sqlite_log.close()
        sqlite_online.close()
    finally:
        log.close()
        _delete(prefix)
    return out


def _redis_cpu() -> float:
    """CPU seconds the Redis server has used (all clients: the shared server's other users count too)."""
    client = redis.Redis.from_url(REDIS)
    info = client.info("cpu")
    client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _rates(n: int, wall: float, cpu: float, redis_cpu: float | None = None) -> dict[str, float]:
    wall_s, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    out = {"seconds": round(wall_s, 3), "per_s": round(n / wall_s), "per_cpu_s": round(n / max(cpu_s, 1e-9))}
    if redis_cpu is not None:
        out["redis_cpu_s"] = round(_redis_cpu() - redis_cpu, 3)
    return out


_RELAY = """
import sys, redis
r = redis.Redis.from_url(sys.argv[1]); key = sys.argv[2]
try:
    r.xgroup_create(key, "relay", id="$", mkstream=True)
except redis.ResponseError:
    pass
while True:
    reply = r.xreadgroup("relay", "c", {key: ">"}, count=2000, block=5)
    if not reply:
        continue
    pipe = r.pipeline(transaction=False)
    for entry_id, fields in reply[0][1]:
        pipe.set(sys.argv[3] + fields[b"r"][:40].decode(errors="ignore"), fields[b"r"])
    pipe.xack(key, "relay", *[e for e, _ in reply[0][1]])
    pipe.execute()
"""


def latency(work: Path, rate: int, seconds: float) -> dict[str, Any]:
    store_url, store, raw = _setup(work, max(50_000, int(rate * seconds)))
    artefact = store.load_live("bench", FEATURE)
    rows = payloads(artefact.sources[SOURCE], str(raw), DAY)
    template = orjson.loads(rows[0])
    prefix = f"fpbench-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "FP_ARTEFACT_STORE": store_url,
        "FP_RAW_DATA_ROOT": str(raw),
        "FP_ONLINE_STORE": REDIS,
        "FP_ONLINE_PREFIX": prefix,
        "FP_EVENT_LOG": REDIS,
        "FP_EVENT_LOG_PREFIX": prefix,
        "FP_SERVE_AUTH": "false",
        "FP_ENV": "bench",
        "FP_DATA_DIR": str(work / "data"),
    }
    log = RedisEventLog(REDIS, prefix=prefix)
    results: dict[str, Any] = {}
    try:
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from feature_platform.cli.main import main; main()",
                "serve",
                "--env",
                "bench",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        indexer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feature_platform.runtimes.stream",
                "--env",
                "bench",
                "--feature",
                FEATURE,
                "--batch-ms",
                "2",
                "--batch-count",
                "2000",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        _wait(lambda: _ok(client), 90)
        log.ensure_group(SOURCE, f"fp-indexer.{FEATURE}")

        def served(probe: dict[str, Any]) -> bool:
            response = client.get(f"/v1/features/{FEATURE}/users/{probe['user_id']}/sequence", params={"n": 1})
            events = response.json().get("events", [])
            return bool(events) and events[0]["event_id"] == probe["event_id"]

        _wait(lambda: _indexer_ready(log), 90)
        results["indexer"] = _probe_run(log, rows, template, rate, seconds, served)
        indexer.terminate()
        indexer.wait(timeout=60)
        server.terminate()
        server.wait(timeout=60)

        floor_key = f"{prefix}:floor:"
        relay = subprocess.Popen([sys.executable, "-c", _RELAY, REDIS, log.key(SOURCE), floor_key])
        direct = redis.Redis.from_url(REDIS)

        def relayed(probe: dict[str, Any]) -> bool:
            return direct.get(floor_key + orjson.dumps(probe)[:40].decode(errors="ignore")) is not None

        results["floor"] = _probe_run(log, rows, template, rate, seconds, relayed)
        relay.terminate()
        relay.wait(timeout=30)
        direct.close()
    finally:
        log.close()
        _delete(prefix)
    return results


def _indexer_ready(log: RedisEventLog) -> bool:
    consumers = log._r.xinfo_consumers(log.key(SOURCE), f"fp-indexer.{FEATURE}")
    return bool(consumers)


def _probe_run(
    log: RedisEventLog, rows: list[bytes], template: dict[str, Any], rate: int, seconds: float, visible: Any
) -> dict[str, Any]:
    """Background traffic at ``rate`` for ``seconds`` plus a probe every 20 ms; latencies of the probes."""
    stop = threading.Event()
    sent = [0]

    def background() -> None:
        tick, i, started = 0.01, 0, time.perf_counter()
        while not stop.is_set():
            due = int((time.perf_counter() - started) * rate)
            if due > i:
                now = int(time.time() * 1e6)
                log.append(SOURCE, [(now, rows[(i + k) % len(rows)]) for k in range(due - i)])
                i = due
            time.sleep(tick)
        sent[0] = i

    thread = threading.Thread(target=background, daemon=True)
    started = time.perf_counter()
    thread.start()
    latencies: list[float] = []
    n = 0
    while time.perf_counter() - started < seconds:
        n += 1
        now_ms = int(time.time() * 1000)
        probe = {
            **template,
            "event_id": f"probe-{uuid.uuid4().hex}",
            "user_id": 900_000_000 + n,
            "event_ts_ms": now_ms - 1,
            "action": "save",
        }
        t0 = time.perf_counter()
        log.append(SOURCE, [(int(time.time() * 1e6), orjson.dumps(probe))])
        deadline = t0 + 10
        while not visible(probe) and time.perf_counter() < deadline:
            time.sleep(0.0005)  # poll every ~0.5 ms without starving the processes measured
        latencies.append((time.perf_counter() - t0) * 1000)
        time.sleep(max(0.0, 0.02 - (time.perf_counter() - t0)))
    stop.set()
    thread.join(timeout=30)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "probes": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "background_per_s": round(sent[0] / elapsed),
    }


def _ok(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def _wait(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError("benchmark setup timed out")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_stream")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batch-growth", type=int, default=8)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args(argv)
    print(f"streaming indexer benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_throughput:
            t = throughput(Path(tmp) / "t", args.events, args.batch_growth)
            print(f"throughput over {t['entries']:,} entries (append {t['append_per_s']:,.0f}/s):")
            for name in ("floor", "engine", "indexer_redis_fixed", "indexer_redis", "indexer_sqlite"):
                r = t[name]
                server = f", Redis server {r['redis_cpu_s']} CPU-s" if "redis_cpu_s" in r else ""
                print(
                    f"  {name:19s} {r['per_s']:>10,} events/s wall  {r['per_cpu_s']:>10,} events/CPU-s  "
                    f"({r['seconds']}s{server})",
                    flush=True,
                )
        if not args.skip_latency:
            lat = latency(Path(tmp) / "l", args.rate, args.seconds)
            print(f"event -> servable latency at {args.rate:,} events/s target:")
            for name, r in lat.items():
                print(
                    f"  {name:8s} p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  ({r['probes']} probes, "
                    f"background {r['background_per_s']:,}/s)",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
