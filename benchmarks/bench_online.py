"""Online store and serving benchmarks (``make bench``; figures in benchmarks/RESULTS.md).

0. Request path in process: CPU per request of cutting one stored 500-event part and writing the body as
   JSON, msgpack and Arrow IPC (``--skip-request`` to skip).
1. Load: a generated snapshot of ``recent_engagements_v1`` (32-float embeddings) into Redis and SQLite,
   wall and CPU seconds (the loader's process and the Redis server's), three cases (``--load-cases``):
   ``--users`` users with lengths uniform in 1..72 (mean 36.5) and one embedding per item as the lookup
   enrichment gives them; the same with every event its own embedding (the loader's worst case); and
   ``--full-users`` users of 500 events each (the per-event rate of full-length sequences).
2. Serving: ``--serve-users`` users with full 500-event sequences in Redis; the real server
   (``feature-platform serve``) on uvicorn and on granian, with the hot route served by Starlette or by
   FastAPI, vs the floor (``benchmarks.floor_app``: one GET of a pre-encoded response of the same size)
   on the same server, at concurrency 1, 16 and 64, JSON (and msgpack and Arrow IPC on the Starlette route).
   The load generator is a bounded keep-alive HTTP/1.1 client on loopback, sharing the 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import redis

from feature_platform.compiler import compile_configs
from feature_platform.runtimes.batch import snapshot_schema
from feature_platform.runtimes.online import RedisOnlineStore, SqliteOnlineStore, load_snapshot
from feature_platform.store import open_store

FEATURE = "recent_engagements_v1"
LOAD_CASES = ("lookup", "distinct", "full-length")
REDIS = os.environ.get("FP_BENCH_REDIS", "redis://127.0.0.1:6379/0")
DAY = date(2026, 11, 4)


ITEMS = 100_000


def snapshot(
    artefact: object,
    users: int,
    lengths: pl.Series | None = None,
    *,
    seed: int = 7,
    distinct_embeddings: bool = False,
) -> pl.DataFrame:
    """``users`` users' snapshot rows of the example feature. ``item_embedding`` is, as in real data, a
    lookup of the item (one 32-float vector per item of ``ITEMS``, joined on ``item_id``);
    ``distinct_embeddings`` makes every event's vector its own instead (the worst case for the loader: no
    vector recurs). Lengths default to 1..72 events, uniform (mean 36.5; the feature keeps up to 500)."""
    schema = snapshot_schema(artefact)  # type: ignore[arg-type]
    if lengths is None:
        lengths = (pl.Series(pl.int_range(0, users, eager=True)).hash(seed) % 72 + 1).cast(pl.Int64)
    frame = pl.DataFrame({"user_id": pl.int_range(0, users, eager=True), "n": lengths}).select(
        pl.col("user_id").repeat_by("n").explode(), pl.int_ranges(0, pl.col("n")).explode().alias("position")
    )
    end = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    h = pl.col("user_id") * 1000 + pl.col("position")
    frame = frame.with_columns(
        pl.format("e{}-{}", "user_id", "position").alias("event_id"),
        (pl.lit(end) - pl.duration(minutes=(pl.col("position") + 1) * 37)).alias("timestamp"),
        pl.when(h % 2 == 0).then(pl.lit("save")).otherwise(pl.lit("click")).alias("event_type"),
        (h.hash(1) % ITEMS).cast(pl.Int64).alias("item_id"),
        pl.lit("food").alias("item_category"),
        pl.lit("homefeed").alias("surface"),
        pl.lit("homefeed|ios|US").alias("context_key"),
        (h % 5).cast(pl.Int32).alias("dwell_bucket"),
        (h % 24).cast(pl.Int32).alias("hour_of_day"),
    )
    if distinct_embeddings:
        frame = frame.with_columns(_embedding(h).alias("item_embedding"))
    else:
        items = pl.DataFrame({"item_id": pl.int_range(0, ITEMS, eager=True)}).with_columns(
            _embedding(pl.col("item_id")).alias("item_embedding")
        )
        frame = frame.join(items, on="item_id", how="left", maintain_order="left")
    return frame.with_columns(pl.col("position").cast(pl.Int32)).select(schema.names()).cast(dict(schema))


def _embedding(key: pl.Expr) -> pl.Expr:
    """32 float32 in [-1, 1) derived from ``key``."""
    return pl.concat_list([((key.hash(i) % 20_000).cast(pl.Float32) / 10_000 - 1) for i in range(32)])


def _cpu() -> float:
    """CPU seconds of this process, every thread (polars' pool, the loader's writer, SQLite)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _redis_cpu(client: redis.Redis) -> float:
    """The Redis server's CPU seconds so far (server-wide: another client's work on it counts too)."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def bench_load(
    artefact: object,
    users: int,
    *,
    length: int | None = None,
    distinct_embeddings: bool = False,
    backends: tuple[str, ...] = ("redis", "sqlite"),
) -> None:
    """Wall and CPU seconds of ``load_snapshot`` (encode + write) per backend; the Redis server's CPU is
    shown apart (on a shared server it includes other clients' work: point FP_BENCH_REDIS at a private one).
    ``length`` gives every user that many events (default: the benchmark's length distribution)."""
    lengths = None if length is None else pl.Series([length] * users, dtype=pl.Int64)
    frame = snapshot(artefact, users, lengths, distinct_embeddings=distinct_embeddings)
    vectors = "one per event (worst case)" if distinct_embeddings else f"one per item, {ITEMS:,} items"
    print(
        f"load: {users:,} users, {frame.height:,} events ({frame.estimated_size('mb'):.0f} MB in polars), "
        f"embeddings: {vectors}; load average {os.getloadavg()[0]:.2f}"
    )
    if "redis" in backends:
        prefix = f"fpbench-{uuid.uuid4().hex[:8]}"
        store = RedisOnlineStore(REDIS, prefix=prefix)
        server = redis.Redis.from_url(REDIS)
        try:
            cpu, server_cpu = _cpu(), _redis_cpu(server)
            result = load_snapshot(artefact, DAY, frame, store, built_by="0" * 64)  # type: ignore[arg-type]
            cpu, server_cpu = _cpu() - cpu, _redis_cpu(server) - server_cpu
            memory = server.info("memory")["used_memory"] / 1e9
            print(
                f"  redis   {result.seconds:6.1f} s  {result.users / result.seconds:,.0f} users/s  "
                f"{result.events / result.seconds:,.0f} events/s  CPU: loader {cpu:.1f} s + redis-server "
                f"{server_cpu:.1f} s  (server memory {memory:.1f} GB; load average {os.getloadavg()[0]:.2f})"
            )
        finally:
            store.delete_prefix()
            store.close()
            server.close()
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = SqliteOnlineStore(Path(tmp) / "online.sqlite")
            cpu = _cpu()
            result = load_snapshot(artefact, DAY, frame, sqlite, built_by="0" * 64)  # type: ignore[arg-type]
            cpu = _cpu() - cpu
            size = sum(p.stat().st_size for p in Path(tmp).iterdir())
            print(
                f"  sqlite  {result.seconds:6.1f} s  {result.users / result.seconds:,.0f} users/s  "
                f"{result.events / result.seconds:,.0f} events/s  CPU: loader {cpu:.1f} s  ({size / 1e6:,.0f} MB "
                f"file + WAL; load average {os.getloadavg()[0]:.2f})"
            )
            sqlite.close()


def bench_request(artefact: object, repeats: int = 200) -> None:
    """CPU per request of the response path in process (no server, no network), for one 500-event part:
    decode the blob and cut the sequence (``assemble``), then the body in each format (JSON splices the
    stored bytes; msgpack and Arrow IPC convert them). Process CPU seconds over ``repeats`` runs."""
    from feature_platform.runtimes.online import SequenceRequest, UserRecord, assemble, encode_snapshot
    from feature_platform.runtimes.serve import _encode as enc

    frame = snapshot(artefact, 1, pl.Series([500]))
    columns = [c for c in frame.columns if c not in ("user_id", "position")]
    blob = encode_snapshot(frame, user_column="user_id", event_columns=columns, day=DAY, artefact_hash="0" * 64).blobs[
        0
    ]
    schema = pl.Schema({c: frame.schema[c] for c in columns})
    record = UserRecord(batch=blob)
    now = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    profile = {"feature_id": FEATURE, "artefact_hash": "0" * 64, "batch_day": DAY.isoformat(), "count": 500}
    served = assemble(record, artefact, schema, SequenceRequest(), now=now)  # type: ignore[arg-type]

    def cut() -> object:
        return assemble(record, artefact, schema, SequenceRequest(), now=now)  # type: ignore[arg-type]

    def as_json() -> object:
        return enc.one_json(b'"f"', b"1", b"[]", served.events_json, profile)

    def as_msgpack() -> object:
        return enc.to_msgpack(
            {
                "feature_id": FEATURE,
                "user": 1,
                "schema": [],
                "events": enc.decode_events(served.events_json),
                "profile": profile,
            }
        )

    def as_arrow() -> object:
        return enc.to_arrow(served.events_json, schema)

    print(
        f"request path in process, 500-event part ({len(served.events_json) / 1024:.0f} KiB of JSON), "
        f"CPU per request over {repeats} runs:"
    )
    for name, step in (
        ("assemble (decode blob + cut)", cut),
        ("JSON body", as_json),
        ("msgpack body", as_msgpack),
        ("Arrow IPC body", as_arrow),
    ):
        step()
        cpu = _cpu()
        for _ in range(repeats):
            step()
        print(f"  {name:30} {(_cpu() - cpu) / repeats * 1e6:9,.0f} µs")


async def _client(port: int, path: bytes, accept: bytes, count: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAccept: " + accept + b"\r\n\r\n"
    for _ in range(count):
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        assert head.startswith(b"HTTP/1.1 200"), head[:40]
    writer.close()


def load_test(port: int, paths: list[bytes], accept: bytes, concurrency: int, total: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    per = max(1, total // concurrency)

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(port, paths[i % len(paths)], accept, per, latencies) for i in range(concurrency))
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    latencies.sort()
    return (
        latencies[len(latencies) // 2] * 1000,
        latencies[int(len(latencies) * 0.99) - 1] * 1000,
        len(latencies) / elapsed,
    )


def _wait(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code in (200, 404):
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


SERVERS = ("uvicorn", "granian")
ROUTES = ("starlette", "fastapi")


def _has_granian() -> bool:
    import importlib.util

    return importlib.util.find_spec("granian") is not None


def bench_serving(
    artefact: object,
    store_url: str,
    users: int,
    total: int,
    *,
    rounds: int = 1,
    concurrencies: tuple[int, ...] = (1, 16, 64),
    binary: bool = True,
) -> None:
    """Every contender (server x route) and its floor (same server), side by side, for each concurrency.

    Rows of one concurrency run back to back so they see the same machine load; ``rounds`` repeats the
    whole table to show the noise. The load generator shares the 2 cores with the server under test.
    """
    prefix = f"fpbench-{uuid.uuid4().hex[:8]}"
    store = RedisOnlineStore(REDIS, prefix=prefix)
    frame = snapshot(artefact, users, pl.Series([500] * users))
    load_snapshot(artefact, DAY, frame, store, built_by="0" * 64)  # type: ignore[arg-type]
    from feature_platform.runtimes.online import FeatureState

    store.put_state(FeatureState(feature_id=FEATURE, batch_day=DAY, batch_artefact_hash="0" * 64))
    servers = [s for s in SERVERS if s == "uvicorn" or _has_granian()]
    if len(servers) < len(SERVERS):
        print("granian is not installed: uvicorn only (`uv pip install granian` to compare)")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "FP_DATA_DIR": tmp,
                "FP_ARTEFACT_STORE": store_url,
                "FP_ONLINE_STORE": REDIS,
                "FP_ONLINE_PREFIX": prefix,
                "FP_SERVE_AUTH": "false",
                "FP_SERVE_MAX_IN_FLIGHT": "1024",
            }
            ports: dict[tuple[str, str], int] = {}
            for server in servers:
                for route in ROUTES:
                    port = ports[(server, route)] = _free_port()
                    command = [
                        sys.executable,
                        "-c",
                        "from feature_platform.cli.main import main; main()",
                        "serve",
                        "--env",
                        "bench",
                        "--port",
                        str(port),
                        "--server",
                        server,
                        "--route",
                        route,
                    ]
                    processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
            for port in ports.values():
                _wait(port)
            import httpx

            sample = httpx.get(
                f"http://127.0.0.1:{ports[('uvicorn', 'starlette')]}/v1/features/{FEATURE}/users/1/sequence"
            ).content
            floor_key = f"{prefix}:floor"
            redis.Redis.from_url(REDIS).set(floor_key, sample)
            floors: dict[str, int] = {}
            for server in servers:
                floors[server] = _free_port()
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "benchmarks.floor_app", str(floors[server]), REDIS, floor_key, server]
                    )
                )
                _wait(floors[server])
            print(
                f"serving: 500-event sequences, JSON response {len(sample) / 1024:.0f} KiB; {total} requests per "
                "row; p50 / p99 ms, requests/s; ratio = p99 / p99 of the floor on the same server"
            )
            paths = [f"/v1/features/{FEATURE}/users/{u}/sequence".encode() for u in range(users)]
            formats = [("json", b"application/json")] + (
                [("msgpack", b"application/msgpack"), ("arrow", b"application/vnd.apache.arrow.stream")]
                if binary
                else []
            )
            for round_ in range(1, rounds + 1):
                print(f"round {round_}")
                for concurrency in concurrencies:
                    for server in servers:
                        f50, f99, frps = load_test(floors[server], [b"/"], b"*/*", concurrency, total)
                        print(
                            f"  c={concurrency:<3} {server:8} floor              {f50:7.2f} / {f99:7.2f}  {frps:6.0f}/s"
                        )
                        for route in ROUTES:
                            for name, accept in formats:
                                if name != "json" and route == "fastapi":
                                    continue
                                p50, p99, rps = load_test(ports[(server, route)], paths, accept, concurrency, total)
                                print(
                                    f"  c={concurrency:<3} {server:8} {route:9} {name:8} {p50:7.2f} / {p99:7.2f}  "
                                    f"{rps:6.0f}/s   ratio {p99 / f99:5.2f}"
                                )
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        store.delete_prefix()
        store.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--serve-users", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--no-binary", action="store_true", help="JSON only (msgpack and Arrow convert the JSON)")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument(
        "--load-cases", nargs="+", choices=LOAD_CASES, default=list(LOAD_CASES),
        help="lookup: --users users, one embedding per item, every backend; distinct: the same users with every "
        "event its own embedding (the loader's worst case); full-length: --full-users users of 500 events each",
    )
    parser.add_argument("--full-users", type=int, default=20_000, help="users of the full-length case")
    parser.add_argument("--backends", nargs="+", choices=["redis", "sqlite"], default=["redis", "sqlite"],
                        help="backends of the lookup case (the others use the first)")
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--skip-request", action="store_true", help="skip the in-process request-path profile")
    args = parser.parse_args(argv)
    result = compile_configs(Path("feature_configs"))
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "artefacts"))
        for feature_id, sealed in result.artefacts.items():
            store.publish("bench", feature_id, store.put_artefact(sealed.data), actor="bench")
        artefact = store.load_live("bench", FEATURE)
        if not args.skip_request:
            bench_request(artefact)
        if not args.skip_serving:
            bench_serving(
                artefact,
                str(Path(tmp) / "artefacts"),
                args.serve_users,
                args.requests,
                rounds=args.rounds,
                concurrencies=tuple(args.concurrency),
                binary=not args.no_binary,
            )
        if not args.skip_load:
            first = (args.backends[0],)
            if "lookup" in args.load_cases:
                bench_load(artefact, args.users, backends=tuple(args.backends))
            if "distinct" in args.load_cases:
                bench_load(artefact, args.users, distinct_embeddings=True, backends=first)
            if "full-length" in args.load_cases:
                bench_load(artefact, args.full_users, length=500, backends=first)


if __name__ == "__main__":
    main(sys.argv[1:])
