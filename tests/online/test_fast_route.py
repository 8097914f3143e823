"""The one-user GET is served by a plain Starlette endpoint (``serve._fast``) for speed; FastAPI's route
for the same path documents it. Both must answer every request identically: status, body, headers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from feature_platform.runtimes.online import OnlineStore, load_day
from feature_platform.runtimes.serve import LiveFeatures, create_app
from feature_platform.runtimes.serve._auth import Authoriser
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables, day_end
from tests.online.helpers import ENV, KEY_ALL, KEY_SEARCH, KEYS

FEATURE = "recent_engagements_v1"
QUERIES = [
    {}, {"limit": "3"}, {"limit": "0"}, {"limit": "10001"}, {"limit": "x"}, {"limit": "2.0"},
    {"since": "2026-11-07T12:00:00Z"}, {"since": "2026-11-07"}, {"since": "1793000000"}, {"since": "soon"},
    {"fields": "timestamp,event_type"}, {"fields": "nope"}, {"fields": ","}, {"fields": ""}, {"fields": "a" * 4001},
    {"limit": "0", "since": "soon"},
]


Request = tuple[str, dict[str, str], dict[str, str]]  # path, query, headers


@pytest.fixture
def answers(online_tables: OnlineTables, store: OnlineStore, published: Published
            ) -> Callable[[list[Request]], None]:
    """Asserts that both apps answer each request identically (one app at a time: the store's async
    client belongs to one event loop, and each TestClient runs its own)."""
    for artefact in online_tables.artefacts.values():
        load_day(artefact, online_tables.days[-1], online_tables.locations, store)
    now = day_end(online_tables.days[-1])

    def check(requests: list[Request]) -> None:
        results = []
        for fast in (True, False):
            app = create_app(LiveFeatures(env=ENV, store=published.store, online=store), store,
                             Authoriser(KEYS, enabled=True), clock=lambda: now, reload_seconds=3600, fast_route=fast)
            with TestClient(app) as client:
                results.append([client.get(p, params=q, headers=h) for p, q, h in requests])
        for request, fast_answer, slow in zip(requests, *results, strict=True):
            assert (fast_answer.status_code, fast_answer.headers.get("content-type"),
                    fast_answer.headers.get("retry-after")) == (
                slow.status_code, slow.headers.get("content-type"), slow.headers.get("retry-after")), request
            assert fast_answer.content == slow.content, (request, fast_answer.content[:300], slow.content[:300])
            assert fast_answer.status_code != 500, request

    return check


def test_both_routes_answer_parameters_identically(answers: Callable[[list[Request]], None]) -> None:
    path = f"/v1/features/{FEATURE}/users/1000000/sequence"
    answers([(path, query, {"Authorization": f"Bearer {KEY_ALL}"}) for query in QUERIES])


def test_both_routes_answer_errors_and_formats_identically(answers: Callable[[list[Request]], None]) -> None:
    path = f"/v1/features/{FEATURE}/users/1000000/sequence"
    answers([
        (path, {}, {}),  # no key
        (path, {}, {"X-API-Key": KEY_SEARCH}),  # no grant
        ("/v1/features/nope_v1/users/1/sequence", {}, {"X-API-Key": KEY_ALL}),
        (f"/v1/features/{FEATURE}/users/not-a-number/sequence", {}, {"X-API-Key": KEY_ALL}),
        (f"/v1/features/{FEATURE}/users/{'9' * 300}/sequence", {}, {"X-API-Key": KEY_ALL}),
        (f"/v1/features/{FEATURE}/users/404404404/sequence", {}, {"X-API-Key": KEY_ALL}),  # unknown: empty
        ("/v1/features/recent_engagements/users/1000000/sequence", {},
         {"X-API-Key": KEY_ALL, "Accept": "application/msgpack"}),
    ])
