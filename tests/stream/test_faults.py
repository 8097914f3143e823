"""Crashes, scale-out and Redis restarts, with real indexer processes on Redis Streams.

The data is ``fault_tables``: the demo set (duplicates, late events, malformed rows) plus injected
timestamp ties (``tests/stream/conftest.py``); ``test_the_replayed_data_has_every_kind_of_defect`` checks
that each kind is really there.

* ``test_killed_at_random_moments_loses_and_duplicates_nothing``: a producer replays that data while the
  indexer is SIGKILLed 20 times — mostly at fault-injection points inside a micro-batch (after reading,
  after the dead letters, after the tail write, before the acknowledgement), the rest at arbitrary
  moments — and restarted; afterwards every user's served sequence equals the batch snapshot's (0 lost,
  0 duplicated) and the dead letters equal the batch rejects, each once per appended row. In the suite:
  ~12.5k entries, 20 kills. ``make soak`` runs it with the data replayed 9 times (>= 100k entries, asserted
  through FP_STREAM_MIN_ENTRIES; every row also a replay of itself), 40 kills, 5 seeds.
* ``test_a_second_consumer_takes_over_a_killed_ones_pending_entries``: scale-out in one consumer group.
* ``test_redis_restart_mid_stream``: Redis stops under a micro-batch in flight, the indexer's writes fail
  and are retried, Redis comes back: the indexer reconnects and catches up with nothing lost.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import polars as pl
import pytest

from feature_platform.runtimes.batch import read_snapshot
from feature_platform.runtimes.online import RedisOnlineStore
from feature_platform.runtimes.stream import EventLog, payloads, replay, streamed_sources
from feature_platform.runtimes.stream._redis_log import RedisEventLog
from tests.batch.conftest import Published
from tests.conftest import require_service
from tests.online.conftest import OnlineTables, free_port
from tests.online.server import RedisServer, wait_for
from tests.stream.helpers import (
    batch_rejects,
    caught_up,
    day_end,
    dead_letter_counter,
    indexer_process,
    kill9,
    oracle,
    raw_users,
    served,
    stream_env,
)
from tests.stream.zygote import Zygote, alive

KILLS = int(os.environ.get("FP_STREAM_KILLS", "20"))
MIN_ENTRIES = int(os.environ.get("FP_STREAM_MIN_ENTRIES", "0"))
"""``make soak`` sets 100000: the big run must really append at least that many entries."""


class Producer(threading.Thread):
    """Replays every demo day of every streamed source, paced, in arrival order."""

    def __init__(self, log: EventLog, tables: OnlineTables, seconds: float, repeat: int = 1) -> None:
        super().__init__(daemon=True)
        self.log, self.tables, self.seconds, self.repeat = log, tables, seconds, repeat
        self.error: BaseException | None = None
        self.appended = 0

    def run(self) -> None:
        try:
            sources = {n: a.sources[n] for a in self.tables.artefacts.values() for n in streamed_sources(a)}
            steps = len(self.tables.days) * len(sources) * self.repeat
            for _ in range(self.repeat):
                for day in self.tables.days:
                    for name in sorted(sources):
                        total = len(payloads(sources[name], self.tables.locations.raw_root, day))
                        self.appended += replay(self.log, sources[name], self.tables.locations.raw_root, day,
                                                rate=max(1.0, total / (self.seconds / steps)))
        except BaseException as exc:  # reported by the test
            self.error = exc


def _check_everything(log: EventLog, online: RedisOnlineStore, tables: OnlineTables, repeat: int = 1) -> None:
    last = tables.days[-1]
    for feature_id, artefact in tables.artefacts.items():
        expected = oracle(tables.locations, feature_id, last)
        assert served(online, artefact, raw_users(tables), day_end(last)) == expected, feature_id
        expected_dead = Counter({k: n * repeat for k, n in batch_rejects(tables.locations, feature_id).items()})
        assert dead_letter_counter(log, feature_id) == expected_dead, feature_id


@pytest.fixture
def redis_env(tmp_path: Path, published: Published, fault_tables: OnlineTables, redis_url: str,
              redis_prefix: str) -> Iterator[tuple[dict[str, str], RedisEventLog, RedisOnlineStore]]:
    env = stream_env(tmp_path, published.store_url, fault_tables.locations.raw_root, redis_url, redis_url,
                     redis_prefix)
    log = RedisEventLog(redis_url, prefix=redis_prefix)
    online = RedisOnlineStore(redis_url, prefix=redis_prefix)
    yield env, log, online
    log.close()
    online.close()


@pytest.mark.xdist_group("stream_processes")
def test_killed_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, fault_tables: OnlineTables, redis_env: tuple[dict[str, str], RedisEventLog, RedisOnlineStore]
) -> None:
    env, log, online = redis_env
    rng = random.Random(int(os.environ.get("FP_STREAM_SEED", "11")))
    repeat = int(os.environ.get("FP_SOAK_REPEAT", "1"))
    producer = Producer(log, fault_tables, seconds=float(os.environ.get("FP_STREAM_PRODUCE_SECONDS", "12")),
                        repeat=repeat)
    producer.start()
    marker = tmp_path / "failpoint"
    kills = 0
    zygote = Zygote(env)
    stages = ["read", "dead", "tail", None]
    try:
        while kills < KILLS:
            stage = stages[kills % len(stages)]
            extra = {"FP_STREAM_FAILPOINT": f"{stage}:{rng.randint(1, 4)}",
                     "FP_STREAM_FAILPOINT_FILE": str(marker)} if stage else {}
            marker.unlink(missing_ok=True)
            before = sum(log.group_info(s, f"fp-indexer.{a.feature.id}").lag
                         for a in fault_tables.artefacts.values() for s in streamed_sources(a).values())
            pid = zygote.spawn({**env, "FP_STREAM_FAILPOINT": "", **extra}, consumer="indexer-0",
                               batch_count=rng.choice([50, 200, 1000]))
            if stage:
                def reached() -> bool:
                    return marker.exists() or (not producer.is_alive() and caught_up(log, fault_tables.artefacts))

                wait_for(reached, 120, f"the indexer to reach failpoint {stage}")
            else:
                def progressed(pid: int = pid, before: int = before) -> bool:
                    assert alive(pid)
                    now = sum(log.group_info(s, f"fp-indexer.{a.feature.id}").lag
                              for a in fault_tables.artefacts.values() for s in streamed_sources(a).values())
                    return now < before or (not producer.is_alive() and caught_up(log, fault_tables.artefacts))

                wait_for(progressed, 120, "the indexer to make progress")
                threading.Event().wait(rng.random() * 0.2)  # an arbitrary moment: correctness cannot depend on it
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda pid=pid: not alive(pid), 30, "the killed indexer to be gone")
            kills += 1
        producer.join(timeout=300)
        assert producer.error is None, producer.error
        started = datetime.now(UTC)
        final = indexer_process(env, "--consumer", "indexer-0")
        # Caught up may already hold when it starts: wait for its own heartbeat too (handlers installed).
        wait_for(lambda: caught_up(log, fault_tables.artefacts) and running_since(online, fault_tables, started),
                 180, "the indexer to catch up")
        final.send_signal(signal.SIGTERM)
        assert final.wait(timeout=60) == 0, final.stderr.read().decode() if final.stderr else ""
    finally:
        producer.join(timeout=300)
        zygote.close()
    assert kills == KILLS >= 20
    assert producer.appended >= max(MIN_ENTRIES, 10_000), producer.appended
    _check_everything(log, online, fault_tables, repeat)


@pytest.mark.xdist_group("stream_processes")
def test_a_second_consumer_takes_over_a_killed_ones_pending_entries(
    tmp_path: Path, fault_tables: OnlineTables, redis_env: tuple[dict[str, str], RedisEventLog, RedisOnlineStore]
) -> None:
    env, log, online = redis_env
    marker = tmp_path / "failpoint"
    port = free_port()
    # Fixed micro-batches of 300 (no adaptive growth): with growth, b could take the whole log in a few
    # large reads before a reaches its second micro-batch, and a would never hang holding entries.
    fixed = ("--batch-count", "300", "--batch-growth", "1", "--claim-idle-ms", "500")
    doomed = indexer_process({**env, "FP_STREAM_FAILPOINT": "tail:2", "FP_STREAM_FAILPOINT_FILE": str(marker)},
                             "--consumer", "a", *fixed)
    survivor = indexer_process(env, "--consumer", "b", *fixed, "--metrics-port", str(port))
    try:
        Producer(log, fault_tables, seconds=0.1).run()
        wait_for(marker.exists, 120, "consumer a to hang mid-batch holding pending entries")
        groups = {f"fp-indexer.{a.feature.id}": s for a in fault_tables.artefacts.values()
                  for s in streamed_sources(a).values()}
        held = sum(_pending_of(log, stream, group, "a") for group, stream in groups.items())
        assert held > 0
        kill9(doomed)
        wait_for(lambda: caught_up(log, fault_tables.artefacts), 180, "consumer b to take over and catch up")
        assert sum(_pending_of(log, stream, group, "a") for group, stream in groups.items()) == 0

        def claimed() -> float:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            lines = [line for line in text.splitlines() if line.startswith("fp_stream_claimed_entries_total")]
            return float(lines[0].split()[-1]) if lines else 0.0

        wait_for(lambda: claimed() >= held, 30, "the claim to show in consumer b's metrics")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        for name in ("fp_stream_events_total", "fp_stream_micro_batch_seconds_bucket", "fp_stream_lag_entries",
                     "fp_stream_dead_letters_stored"):
            assert name in metrics
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=60) == 0
    finally:
        for process in (doomed, survivor):
            if process.poll() is None:
                kill9(process)
    _check_everything(log, online, fault_tables)


def running_since(online: RedisOnlineStore, tables: OnlineTables, started: datetime) -> bool:
    """The indexer has reported a heartbeat after ``started`` for every feature: it is past its start-up
    (signal handlers installed), so a SIGTERM now is a graceful stop, not a kill during imports."""
    statuses = [online.get_stream_status(f) for f in tables.artefacts]
    return all(s is not None and s.heartbeat_at > started for s in statuses)


def _pending_of(log: RedisEventLog, stream: str, group: str, consumer: str) -> int:
    client = log._r  # the test reads Redis' own view of the group
    for info in client.xinfo_consumers(log.key(stream), group):
        if info["name"] in (consumer, consumer.encode()):
            return int(info["pending"])
    return 0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if RedisServer.binary() is None:
        require_service("redis-server", "the binary is not on PATH (needed to stop and restart a private Redis)")
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.mark.xdist_group("stream_processes")
def test_redis_restart_mid_stream(tmp_path: Path, published: Published, fault_tables: OnlineTables,
                                  private_redis: RedisServer) -> None:
    url = private_redis.url
    env = stream_env(tmp_path, published.store_url, fault_tables.locations.raw_root, url, url)
    log = RedisEventLog(url)
    online = RedisOnlineStore(url)
    marker = tmp_path / "failpoint"
    port = free_port()
    # The third micro-batch stops after writing its dead letters (tail not written, nothing acknowledged)
    # until the test says resume: Redis goes down under a micro-batch in flight, deterministically.
    process = indexer_process({**env, "FP_STREAM_FAILPOINT": "dead:3:resume", "FP_STREAM_FAILPOINT_FILE": str(marker)},
                              "--consumer", "indexer-0", "--batch-count", "200", "--metrics-port", str(port))
    try:
        sources = {n: a.sources[n] for a in fault_tables.artefacts.values() for n in streamed_sources(a)}
        half = fault_tables.days[: len(fault_tables.days) // 2]
        for day in half:
            for name in sorted(sources):
                replay(log, sources[name], fault_tables.locations.raw_root, day)
        wait_for(marker.exists, 120, "the indexer to be inside its third micro-batch")
        private_redis.stop()
        Path(f"{marker}.resume").touch()  # it carries on: its tail write fails, then every retry
        wait_for(lambda: _sample(port, "fp_stream_errors_total") >= 2, 60, "the indexer to retry against no Redis")
        assert process.poll() is None
        private_redis.start()
        restarted = datetime.now(UTC)
        for day in fault_tables.days[len(half):]:
            for name in sorted(sources):
                replay(log, sources[name], fault_tables.locations.raw_root, day)
        wait_for(lambda: caught_up(log, fault_tables.artefacts) and running_since(online, fault_tables, restarted),
                 180, "the indexer to reconnect and catch up")
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            kill9(process)
    _check_everything(log, online, fault_tables)
    log.close()
    online.close()


def _sample(port: int, name: str) -> float:
    """One unlabelled sample of an indexer's metrics endpoint (-1 while it does not answer)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1
    lines = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(lines[0].split()[-1]) if lines else 0


def test_the_replayed_data_has_every_kind_of_defect(fault_tables: OnlineTables) -> None:
    """Duplicates, late events, timestamp ties among served events, and malformed rows: what the crash
    tests claim to replay is really in the data (counted on the batch side, which the stream must equal)."""
    raw = Path(fault_tables.locations.raw_root)
    engagements = pl.read_parquet(str(raw / "engagement_events" / "*" / "*.parquet"), hive_partitioning=False)
    ids = engagements.get_column("event_id").drop_nulls()
    assert ids.len() - ids.n_unique() >= 50  # replays of one event (same id)
    last = fault_tables.days[-1]
    for feature_id in fault_tables.artefacts:
        events = pl.concat([pl.read_parquet(fault_tables.locations.partition_file(feature_id, "events", day))
                            .with_columns(pl.lit(day).alias("arrival_day")) for day in fault_tables.days])
        late = events.filter(pl.col("timestamp").dt.date() < pl.col("arrival_day")).height
        assert late >= 10, (feature_id, late)
        snapshot = read_snapshot(feature_id, last, fault_tables.locations)
        ties = snapshot.group_by("user_id", "timestamp").len().filter(pl.col("len") > 1).height
        assert ties >= 10, (feature_id, ties)
        assert sum(batch_rejects(fault_tables.locations, feature_id).values()) >= 20, feature_id
