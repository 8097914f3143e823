"""Fixtures of the streaming indexer tests.

* the batch demo data set, published artefacts and the certified batch tables of ``tests.online``
  (the oracle: batch and stream run the same plan over the same raw partitions);
* ``log``: an empty event log per test, parametrised over both backends (Redis: a fresh key prefix,
  deleted afterwards; SQLite: a file under ``tmp_path``);
* ``redis_url``: the shared Redis (skip, or fail with FP_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from feature_platform.runtimes.stream import EventLog
from feature_platform.runtimes.stream._redis_log import RedisEventLog
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from tests.batch.conftest import demo, published  # noqa: F401
from tests.online.conftest import online_tables, redis_store, redis_url  # noqa: F401


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:  # noqa: F811
    prefix = f"fptest-stream-{uuid.uuid4().hex}"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture(params=["sqlite", "redis"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    if request.param == "sqlite":
        sqlite = SqliteEventLog(tmp_path / "event_log.sqlite")
        yield sqlite
        sqlite.close()
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        redis_log = RedisEventLog(url, prefix=prefix)
        yield redis_log
        redis_log.close()
