"""The command line on the embedded defaults: ``feature-platform replay`` appends a raw partition (malformed
rows included) to the SQLite event log, ``feature-platform stream`` indexes it into the SQLite online store,
shows it on its Prometheus endpoint, and stops cleanly on SIGTERM with nothing pending."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.runtimes.online import SqliteOnlineStore
from feature_platform.runtimes.stream import payloads
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables, free_port
from tests.online.server import wait_for
from tests.stream.helpers import caught_up, stream_env


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
    assert f"replayed {len(rows):,} rows" in result.output
    bad = CliRunner().invoke(cli, ["replay", "--env", "dev", "--source", "nope", "--date", day], env=env)
    assert bad.exit_code == 1 and "no live feature" in bad.output

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from feature_platform.cli.main import main; main()", "stream", "--env", "dev",
         "--feature", "recent_searches_v1", "--consumer", "cli", "--metrics-port", str(port)],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = SqliteEventLog(log_path)
    try:
        wait_for(lambda: caught_up(log, {"recent_searches_v1": artefact}) and _indexed(port) == len(rows), 120,
                 "the CLI indexer to index the replayed partition")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.stderr.read().decode() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
    online = SqliteOnlineStore(online_path)
    status = online.get_stream_status("recent_searches_v1")
    assert status is not None and status.entries_processed == len(rows) and status.lag_entries == 0
    assert status.dead_letters == log.count_dead_letters("recent_searches_v1") > 0
    online.close()
    log.close()


def _indexed(port: int) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1
    series = 'fp_stream_entries_total{feature_id="recent_searches_v1"}'
    lines = [line for line in text.splitlines() if line.startswith(series)]
    return float(lines[0].split()[-1]) if lines else 0
