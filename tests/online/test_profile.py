"""The profile's completeness flags, at their boundaries: ``batch_missing``; ``batch_stale`` just inside and
just past the config's ``batch_max_lag_seconds``; ``stream_stale`` from the heartbeat's age *and* from the
lag the indexer reports (a live indexer far behind the log is stale too), both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from feature_platform.runtimes.batch import read_snapshot
from feature_platform.runtimes.online import OnlineStore, StreamStatus, batch_end, load_day
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables
from tests.online.helpers import make_app

FEATURE = "recent_engagements_v1"
US = timedelta(microseconds=1)


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def user(online_tables: OnlineTables) -> int:
    return int(read_snapshot(FEATURE, online_tables.days[-1], online_tables.locations).get_column("user_id")[0])


def _profile(client: TestClient, user: int) -> Any:
    response = client.get(f"/v1/features/{FEATURE}/users/{user}/sequence")
    assert response.status_code == 200, response.text
    return response.json()["profile"]


def test_batch_missing_when_no_day_is_loaded(store: OnlineStore, published: Published, user: int,
                                             online_tables: OnlineTables) -> None:
    clock = Clock(batch_end(online_tables.days[-1]))
    with TestClient(make_app(published.store, store, clock=clock)) as client:
        profile = _profile(client, user)
    assert profile["batch_day"] is None and profile["batch_as_of"] is None and profile["count"] == 0
    assert profile["completeness"] == {"batch_missing": True, "batch_stale": True, "stream_missing": True,
                                       "stream_stale": True}


@pytest.fixture
def loaded_client(store: OnlineStore, published: Published, online_tables: OnlineTables
                  ) -> Iterator[tuple[TestClient, Clock]]:
    load_day(online_tables.artefacts[FEATURE], online_tables.days[-1], online_tables.locations, store)
    clock = Clock(batch_end(online_tables.days[-1]))
    with TestClient(make_app(published.store, store, clock=clock)) as client:
        yield client, clock


def test_batch_stale_at_the_configs_completeness_limit(loaded_client: tuple[TestClient, Clock], user: int,
                                                       online_tables: OnlineTables) -> None:
    client, clock = loaded_client
    limit = timedelta(seconds=online_tables.artefacts[FEATURE].feature.freshness.batch_max_lag_seconds)
    as_of = batch_end(online_tables.days[-1])
    for at, stale in ((as_of, False), (as_of + limit - US, False), (as_of + limit, False),
                      (as_of + limit + US, True), (as_of + limit + timedelta(hours=1), True)):
        clock.now = at
        profile = _profile(client, user)
        assert profile["batch_day"] == online_tables.days[-1].isoformat()
        assert profile["completeness"]["batch_missing"] is False
        assert profile["completeness"]["batch_stale"] is stale, at


def _report(store: OnlineStore, client: TestClient, heartbeat: datetime, lag: float | None) -> None:
    """What the streaming indexer writes every second; the server reads it at its next reload."""
    store.put_stream_status(StreamStatus(feature_id=FEATURE, artefact_hash="h" * 64, heartbeat_at=heartbeat,
                                         lag_seconds=lag, lag_entries=0 if not lag else 1000))
    client.app.state.serve.live.refresh()  # type: ignore[attr-defined]


def test_stream_stale_from_the_heartbeats_age_and_from_the_reported_lag(
    store: OnlineStore, loaded_client: tuple[TestClient, Clock], user: int, online_tables: OnlineTables
) -> None:
    client, clock = loaded_client
    limit = float(online_tables.artefacts[FEATURE].feature.freshness.streaming_max_lag_seconds)
    heartbeat = batch_end(online_tables.days[-1]) + timedelta(hours=2)
    clock.now = heartbeat
    assert _profile(client, user)["completeness"]["stream_missing"] is True  # nothing reported yet

    cases = [
        # (seconds since the heartbeat, reported lag, stale)
        (0.0, 0.0, False),  # caught up, just reported
        (0.0, None, False),  # no lag reported: only the heartbeat counts
        (limit, 0.0, False),  # silent for exactly the limit
        (limit + 1e-6, 0.0, True),  # silent for longer: the indexer stopped
        (0.0, limit, False),  # behind by exactly the limit
        (0.0, limit + 1.0, True),  # alive (fresh heartbeat) but far behind the log
        (1.0, 10 * limit, True),
    ]
    for silent, lag, stale in cases:
        _report(store, client, heartbeat, lag)
        clock.now = heartbeat + timedelta(seconds=silent)
        completeness = _profile(client, user)["completeness"]
        assert completeness["stream_missing"] is False
        assert completeness["stream_stale"] is stale, (silent, lag)
        assert completeness["batch_missing"] is False and completeness["batch_stale"] is False
