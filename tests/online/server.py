"""A real server process (``feature-platform serve``) and a private redis-server, started by the tests on
free loopback ports and stopped by PID with SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from feature_platform.compiler import compile_configs
from feature_platform.store import ArtefactStore, open_store
from tests.conftest import REPO_ROOT
from tests.online.conftest import OnlineTables, free_port


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` until true; fail after ``seconds`` (a bound, not a timing assumption)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


CLEAN_EXIT = (0, -signal.SIGTERM)
"""uvicorn shuts down gracefully on SIGTERM and then re-raises the signal (exit status -15)."""


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


class RedisServer:
    """redis-server on a free port, with an append-only file so a restart keeps the data."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        return shutil.which("redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from feature_platform.runtimes.online._redis import wait_until_reachable

        binary = self.binary()
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        assert wait_until_reachable(self.url, 20), "private redis-server did not start"

    def stop(self) -> None:
        if self.process is not None:
            assert stop(self.process) in CLEAN_EXIT
            self.process = None

    def kill(self) -> None:
        """SIGKILL: connections drop mid-command (the append-only file, fsynced per write, keeps the data)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        self.process = None


class ServerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from feature_platform.cli.main import main; main()", "serve", "--env", "dev",
             "--port", str(self.port)],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

        def healthy() -> bool:
            assert self.process.poll() is None, self.process.stderr.read().decode() if self.process.stderr else ""
            try:
                return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, "the server to answer /healthz")

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", timeout=10, **kwargs)  # type: ignore[arg-type]

    def post_json(self, path: str, body: object, **kwargs: object) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", json=body, timeout=10, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> int:
        return stop(self.process)


def own_artefact_store(tmp_path: Path) -> tuple[str, ArtefactStore]:
    """The example configs compiled and published to ``dev`` in an artefact store of the test's own."""
    result = compile_configs(REPO_ROOT / "feature_configs")
    assert result.ok
    url = str(tmp_path / "artefacts")
    store = open_store(url)
    for feature_id, sealed in sorted(result.artefacts.items()):
        store.publish("dev", feature_id, store.put_artefact(sealed.data), actor="tests")
    return url, store


def server_env(tmp_path: Path, store_url: str, online: str, tables: OnlineTables, *, auth: bool = False
               ) -> dict[str, str]:
    """The environment of a server process: its own data dir, artefact store and online store."""
    return {"FP_DATA_DIR": str(tmp_path / "data"), "FP_ARTEFACT_STORE": store_url, "FP_ONLINE_STORE": online,
            "FP_TABLES_ROOT": tables.locations.tables_root, "FP_SERVE_AUTH": str(auth).lower(),
            "FP_SERVE_RELOAD_SECONDS": "0.1"}
