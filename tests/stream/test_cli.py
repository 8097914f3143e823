"""The command line on the embedded defaults: ``feature-platform replay`` appends a raw partition (malformed
rows included) to the SQLite event log, ``feature-platform stream`` indexes it into the SQLite online store,
shows it on its Prometheus endpoint (events, micro-batch latency, lag, dead letters), and stops cleanly on
SIGTERM: the micro-batch in flight is finished and acknowledged, no other is started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import polars as pl
import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.runtimes.online import SqliteOnlineStore
from feature_platform.runtimes.stream import payloads, streamed_sources
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables, free_port
from tests.online.server import wait_for
from tests.stream.helpers import caught_up, indexer_process, replay_days, stream_env


@pytest.mark.xdist_group("stream_processes")
def test_replay_then_stream_on_the_embedded_defaults(tmp_path: Path, published: Published,
                                                      online_tables: OnlineTables) -> None:
    log_path, online_path = tmp_path / "log.sqlite", tmp_path / "online.sqlite"
    env = stream_env(tmp_path, published.store_url, online_tables.locations.raw_root, str(online_path),
                     str(log_path))
    day = online_tables.days[-1].isoformat()
    result = CliRunner().invoke(cli, ["replay", "--env", "dev", "--source", "search_events", "--date", day], env=env)
    assert result.exit_code == 0, result.output
    artefact = online_tables.artefacts["recent_searches_v1"]
    rows = payloads(artefact.sources["search_events"], online_tables.locations.raw_root, online_tables.days[-1])
    partition = Path(online_tables.locations.raw_root) / "search_events" / f"dt={day}"
    assert len(rows) == pl.read_parquet(str(partition / "*.parquet"), hive_partitioning=False).height  # every row
    assert f"replayed {len(rows):,} rows" in result.output
    bad = CliRunner().invoke(cli, ["replay", "--env", "dev", "--source", "nope", "--date", day], env=env)
    assert bad.exit_code == 1 and "no live feature" in bad.output

    port = free_port()
    # The metrics endpoint on another loopback address than the default: --metrics-host is honoured.
    metrics = f"http://127.0.0.2:{port}/metrics"
    process = subprocess.Popen(
        [sys.executable, "-c", "from feature_platform.cli.main import main; main()", "stream", "--env", "dev",
         "--feature", "recent_searches_v1", "--consumer", "cli", "--metrics-port", str(port),
         "--metrics-host", "127.0.0.2"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = SqliteEventLog(log_path)
    feature = 'feature_id="recent_searches_v1"'
    try:
        def indexed() -> bool:
            values = _metrics(metrics)
            return (caught_up(log, {"recent_searches_v1": artefact})
                    and values.get(f"fp_stream_entries_total{{{feature}}}") == len(rows)
                    and values.get(f"fp_stream_lag_entries{{{feature}}}") == 0
                    and values.get(f"fp_stream_dead_letters_stored{{{feature}}}", 0) > 0)

        wait_for(indexed, 120, "the CLI indexer to index the replayed partition and report it")
        values = _metrics(metrics)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.stderr.read().decode() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
    online = SqliteOnlineStore(online_path)
    status = online.get_stream_status("recent_searches_v1")
    assert status is not None and status.entries_processed == len(rows) and status.lag_entries == 0
    dead = log.count_dead_letters("recent_searches_v1")
    assert status.dead_letters == dead > 0
    # events/s (a counter Prometheus rates), micro-batch latency, lag and dead letters, with their values
    assert values[f"fp_stream_events_total{{{feature}}}"] == status.events_written > 0
    assert values["fp_stream_micro_batch_seconds_count"] >= 1 and values["fp_stream_micro_batch_seconds_sum"] > 0
    assert values[f"fp_stream_lag_seconds{{{feature}}}"] == 0
    assert values[f"fp_stream_dead_letters_total{{{feature}}}"] == dead
    assert values[f"fp_stream_dead_letters_stored{{{feature}}}"] == dead
    online.close()
    log.close()


def _metrics(url: str) -> dict[str, float]:
    """The endpoint's samples, ``name{labels}`` -> value (empty while it is not up yet)."""
    try:
        text = httpx.get(url, timeout=2).text
    except httpx.HTTPError:
        return {}
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name: float(value) for name, value in samples}


@pytest.mark.parametrize("option", [("--batch-count", "0"), ("--batch-ms", "0"), ("--batch-growth", "0"),
                                    ("--metrics-port", "70000"), ("--reload-seconds", "-1")])
def test_stream_refuses_bounds_that_are_not_bounds(option: tuple[str, str]) -> None:
    result = CliRunner().invoke(cli, ["stream", "--env", "dev", *option])
    assert result.exit_code == 2 and f"Invalid value for '{option[0]}'" in result.output


@pytest.mark.xdist_group("stream_processes")
def test_sigterm_finishes_the_micro_batch_in_flight_and_starts_no_other(
    tmp_path: Path, published: Published, online_tables: OnlineTables
) -> None:
    log_path, online_path = tmp_path / "log.sqlite", tmp_path / "online.sqlite"
    env = stream_env(tmp_path, published.store_url, online_tables.locations.raw_root, str(online_path),
                     str(log_path))
    log = SqliteEventLog(log_path)
    artefacts = online_tables.artefacts
    replay_days(log, artefacts, online_tables.locations.raw_root, online_tables.days)
    groups = [(f"fp-indexer.{f}", s) for f, a in artefacts.items() for s in streamed_sources(a).values()]
    length = {s: log.group_info(s, "nobody").lag for _, s in groups}
    marker = tmp_path / "failpoint"
    # The first micro-batch stops after its read until a SIGTERM has arrived, then carries on.
    process = indexer_process({**env, "FP_STREAM_FAILPOINT": "read:1:stop", "FP_STREAM_FAILPOINT_FILE": str(marker)},
                              "--consumer", "c", "--batch-count", "300", "--batch-growth", "1")
    try:
        wait_for(marker.exists, 120, "the indexer to be inside its first micro-batch")
        assert sum(log.group_info(s, g).pending for g, s in groups) == 300  # in flight: read, not acknowledged
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.stderr.read().decode() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
    infos = {g: log.group_info(s, g) for g, s in groups}
    assert sum(i.pending for i in infos.values()) == 0  # finished and acknowledged
    delivered = {g: length[s] - infos[g].lag for g, s in groups}
    assert sorted(delivered.values()) == [0] * (len(groups) - 1) + [300]  # and no other micro-batch started
    online = SqliteOnlineStore(online_path)
    (group,) = [g for g, n in delivered.items() if n]
    status = online.get_stream_status(group.removeprefix("fp-indexer."))
    assert status is not None and status.entries_processed == 300 and status.events_written > 0
    online.close()
    log.close()
