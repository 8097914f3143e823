"""The real server process: hot reload (publish, rollback, refused corrupt / unknown-version artefacts),
the online store going away and coming back (503 then recovery, no restart), and the OpenAPI fuzzed by
schemathesis (never a 500)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error

from feature_platform.artefact import Artefact, seal_artefact
from feature_platform.artefact.canonical import seal
from feature_platform.runtimes.batch import read_snapshot
from feature_platform.runtimes.online import SqliteOnlineStore, load_day, open_online_store
from feature_platform.store import ArtefactStore, layout
from feature_platform.store.audit import AuditEntry, utc_now
from tests.conftest import require_service
from tests.online.conftest import OnlineTables
from tests.online.server import CLEAN_EXIT, RedisServer, ServerProcess, own_artefact_store, server_env, wait_for

FEATURE = "recent_searches_v1"


def _version(artefact: Artefact, description: str) -> tuple[bytes, str]:
    feature = artefact.feature.model_copy(update={"description": description})
    return seal_artefact(artefact.model_copy(update={"feature": feature, "content_hash": None}))


def _force_pointer(store: ArtefactStore, content_hash: str) -> None:
    """Move the pointer the way a buggy or hostile writer could (publish itself refuses bad artefacts)."""
    current = store.current("dev", FEATURE)
    assert current is not None
    entry = AuditEntry(generation=current.generation + 1, env="dev", feature_id=FEATURE, action="publish",
                       from_hash=current.to_hash, to_hash=content_hash, actor="tests", at=utc_now())
    assert store.backend.put_if_absent(layout.audit_key("dev", FEATURE, entry.generation), entry.to_bytes())


def _served_hash(server: ServerProcess) -> Any:
    return server.get(f"/v1/features/{FEATURE}/users/1/sequence").json()["profile"]["artefact_hash"]


def test_hot_reload_serves_new_versions_and_refuses_bad_ones(tmp_path: Path, online_tables: OnlineTables) -> None:
    store_url, store = own_artefact_store(tmp_path)
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    load_day(online_tables.artefacts[FEATURE], online_tables.days[-1], online_tables.locations, online)
    server = ServerProcess(server_env(tmp_path, store_url, str(tmp_path / "online.sqlite"), online_tables))
    try:
        first = store.load_live("dev", FEATURE)
        assert _served_hash(server) == first.content_hash

        data, second = _version(first, "second version")
        store.put_artefact(data)
        store.publish("dev", FEATURE, second, actor="tests")
        wait_for(lambda: _served_hash(server) == second, 30, "the published version to be served")

        store.rollback("dev", FEATURE, actor="tests")
        wait_for(lambda: _served_hash(server) == first.content_hash, 30, "the rollback to be served")

        corrupt_data, corrupt = _version(first, "corrupt version")
        store.backend.put(layout.object_key(corrupt), corrupt_data.replace(b"corrupt version", b"CORRUPT version"))
        _force_pointer(store, corrupt)
        wait_for(lambda: FEATURE in server.get("/v1/features").json()["refused"], 30, "the refusal")
        assert "hash" in server.get("/v1/features").json()["refused"][FEATURE]
        assert _served_hash(server) == first.content_hash  # the previous version keeps serving

        document = {**first.model_dump(mode="json", exclude={"content_hash"}), "format_version": "9.0"}
        future_data, future = seal(document)
        store.backend.put(layout.object_key(future), future_data)
        _force_pointer(store, future)
        wait_for(lambda: "9.0" in server.get("/v1/features").json()["refused"].get(FEATURE, ""), 30,
                 "the unknown version to be refused")
        assert _served_hash(server) == first.content_hash
        assert "fp_serve_reload_refusals_total 2.0" in server.get("/metrics").text

        store.publish("dev", FEATURE, second, actor="tests")  # a good version again: served, refusal cleared
        wait_for(lambda: _served_hash(server) == second, 30, "recovery to a good version")
        assert FEATURE not in server.get("/v1/features").json()["refused"]
    finally:
        assert server.stop() in CLEAN_EXIT
        online.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if RedisServer.binary() is None:
        require_service("redis-server", "the binary is not on PATH (needed to stop and restart a private Redis)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


class Traffic:
    """``workers`` threads sending one-user GETs and many-user POSTs back to back (so requests are always
    in flight), recording every status; a transport error (the server dropped a connection) is recorded
    as status 0."""

    def __init__(self, server: ServerProcess, get_path: str, post_path: str, users: list[int], workers: int) -> None:
        self.records: list[tuple[int, int, str | None]] = []  # (phase, status, Retry-After or the error)
        self.phase = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(server, get_path, post_path, users, i % 2 == 0))
                         for i in range(workers)]

    def _run(self, server: ServerProcess, get_path: str, post_path: str, users: list[int], get: bool) -> None:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            while not self._stop.is_set():
                phase = self.phase
                try:
                    response = (client.get(get_path) if get
                                else client.post(post_path, json={"users": users}))
                    record = (phase, response.status_code, response.headers.get("retry-after"))
                except httpx.TransportError as exc:
                    record = (phase, 0, repr(exc))
                with self._lock:
                    self.records.append(record)

    def seen(self, phase: int, status: int) -> bool:
        with self._lock:
            return any(p == phase and s == status for p, s, _ in self.records)

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def test_store_down_under_concurrent_requests_gives_503_then_recovers_without_restart(
    tmp_path: Path, online_tables: OnlineTables, private_redis: RedisServer
) -> None:
    """Redis killed (SIGKILL) while 16 clients keep requests in flight: every answer is a 200 or a 503 with
    Retry-After (never a 500, never a dropped connection); once Redis is back, 200s again, no restart."""
    store_url, _ = own_artefact_store(tmp_path)
    online = open_online_store(private_redis.url, prefix="fp")
    load_day(online_tables.artefacts[FEATURE], online_tables.days[-1], online_tables.locations, online)
    online.close()
    server = ServerProcess(server_env(tmp_path, store_url, private_redis.url, online_tables))
    users = read_snapshot(FEATURE, online_tables.days[-1], online_tables.locations).get_column("user_id")
    user = users[0]
    get_path = f"/v1/features/{FEATURE}/users/{user}/sequence"
    post_path = f"/v1/features/{FEATURE}/sequences"
    try:
        before = server.get(get_path)
        assert before.status_code == 200 and before.json()["events"]
        with Traffic(server, get_path, post_path, users.unique().to_list()[:50], workers=16) as traffic:
            wait_for(lambda: traffic.seen(0, 200), 30, "requests in flight")
            traffic.phase = 1
            private_redis.kill()  # mid-traffic, no goodbye
            wait_for(lambda: traffic.seen(1, 503), 30, "503s while Redis is down")
            assert server.get("/readyz").status_code == 503
            assert server.get("/healthz").status_code == 200
            traffic.phase = 2
            private_redis.start()  # same port, same append-only file
            wait_for(lambda: traffic.seen(2, 200), 30, "200s once Redis is back")
            traffic.phase = 3
            wait_for(lambda: traffic.seen(3, 200), 30, "200s after recovery")
        statuses = {s for _, s, _ in traffic.records}
        odd = [r for r in traffic.records if r[1] not in (200, 503)]
        assert statuses <= {200, 503}, odd[:10]  # never a 500, never a dropped connection
        assert all(retry == "1" for _, s, retry in traffic.records if s == 503)
        assert {s for p, s, _ in traffic.records if p == 3} == {200}  # recovered: nothing failing any more
        assert len(traffic.records) > 100
        assert server.get(get_path).json()["events"] == before.json()["events"]
        assert server.get("/readyz").status_code == 200
    finally:
        assert server.stop() in CLEAN_EXIT


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory, online_tables: OnlineTables) -> Iterator[ServerProcess]:
    tmp_path = tmp_path_factory.mktemp("fuzz")
    store_url, _ = own_artefact_store(tmp_path)
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    for artefact in online_tables.artefacts.values():
        load_day(artefact, online_tables.days[-1], online_tables.locations, online)
    online.close()
    server = ServerProcess(server_env(tmp_path, store_url, str(tmp_path / "online.sqlite"), online_tables))
    yield server
    assert server.stop() in CLEAN_EXIT


def test_openapi_fuzz_never_gives_a_server_error(fuzzed_server: ServerProcess) -> None:
    """Every operation of the OpenAPI document, fuzzed by schemathesis against the live server."""
    api = schemathesis.openapi.from_url(f"{fuzzed_server.base}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 6
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=60, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        def fuzz(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()
