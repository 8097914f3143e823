"""Fixtures of the online store and serving tests.

* ``online_tables``: the batch demo (``tests.batch.conftest``'s small data set) indexed and certified
  into this package's own tables directory, once per session;
* ``redis_url``: the shared Redis on 127.0.0.1:6379 (skip, or fail with FP_REQUIRE_SERVICES=1);
* ``store``: an empty online store per test, parametrised over both backends; Redis keys live under a
  fresh uuid prefix and are deleted afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import redis

from feature_platform.artefact import Artefact
from feature_platform.runtimes.batch import TableLocations, certify_day, index_days
from feature_platform.runtimes.online import OnlineStore, RedisOnlineStore, SqliteOnlineStore
from tests.batch.conftest import DAYS, FEATURES, Demo, Published, demo, published  # noqa: F401
from tests.conftest import require_service

REDIS_URL = os.environ.get("FP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class OnlineTables:
    locations: TableLocations
    artefacts: dict[str, Artefact]
    days: list[date]


@pytest.fixture(scope="session")
def online_tables(demo: Demo, published: Published, tmp_path_factory: pytest.TempPathFactory) -> OnlineTables:  # noqa: F811
    locations = TableLocations(raw_root=str(demo.root), tables_root=str(tmp_path_factory.mktemp("online_tables")))
    for feature_id, artefact in published.artefacts.items():
        for result in index_days(artefact, DAYS[0], DAYS[-1], locations):
            assert certify_day(locations, feature_id, result.day, "tests").artefact_hash == artefact.content_hash
    return OnlineTables(locations=locations, artefacts=dict(published.artefacts), days=list(DAYS))


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def redis_available(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        ok = bool(client.ping())
        client.close()
        return ok
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not redis_available(REDIS_URL):
        require_service("Redis", f"nothing answers PING at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisOnlineStore]:
    store = RedisOnlineStore(redis_url, prefix=f"fptest-{uuid.uuid4().hex}")
    yield store
    store.delete_prefix()
    store.close()


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        sqlite = SqliteOnlineStore(tmp_path / "online.sqlite")
        yield sqlite
        sqlite.close()
    else:
        yield request.getfixturevalue("redis_store")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


__all__ = ["FEATURES", "OnlineTables", "day_end", "free_port"]
