"""The serving API in process (the real ASGI app over a real artefact store and online store, both backends):
served = snapshot for users without a tail, the merge rule with a tail, parameters, formats, auth, errors."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack
import orjson
import polars as pl
import pytest
from fastapi.testclient import TestClient

from feature_platform.engine import dedup_and_rank
from feature_platform.runtimes.batch import read_snapshot
from feature_platform.runtimes.online import OnlineStore, RedisOnlineStore, TailEvent, load_day, to_micros
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables, day_end
from tests.online.helpers import KEY_ALL, KEY_SEARCH, events_frame, make_app

FEATURE = "recent_engagements_v1"


@pytest.fixture
def loaded(online_tables: OnlineTables, store: OnlineStore) -> OnlineStore:
    for artefact in online_tables.artefacts.values():
        load_day(artefact, online_tables.days[-1], online_tables.locations, store)
    return store


@pytest.fixture
def client(loaded: OnlineStore, published: Published, online_tables: OnlineTables) -> Iterator[TestClient]:
    now = day_end(online_tables.days[-1])
    with TestClient(make_app(published.store, loaded, clock=lambda: now)) as test_client:
        yield test_client


def _snapshot(online_tables: OnlineTables, feature_id: str) -> pl.DataFrame:
    return read_snapshot(feature_id, online_tables.days[-1], online_tables.locations)


@pytest.mark.parametrize("feature_id", ["recent_engagements_v1", "recent_searches_v1", "recent_closeups_v1"])
def test_served_sequences_equal_the_snapshot_for_users_without_a_tail(
    client: TestClient, online_tables: OnlineTables, feature_id: str
) -> None:
    snapshot = _snapshot(online_tables, feature_id)
    users = snapshot.get_column("user_id").unique().sort().to_list()
    response = client.post(f"/v1/features/{feature_id}/sequences", json={"users": users})
    assert response.status_code == 200, response.text
    document = response.json()
    assert [r["user"] for r in document["results"]] == users
    for result in document["results"]:
        served = events_frame({"schema": document["schema"], "events": result["events"]})
        expected = snapshot.filter(pl.col("user_id") == result["user"]).sort("position").drop("user_id", "position")
        assert served.to_dicts() == expected.to_dicts(), result["user"]
        assert result["profile"]["count"] == expected.height
        assert result["profile"]["batch_day"] == online_tables.days[-1].isoformat()
        assert result["profile"]["completeness"]["batch_missing"] is False


def test_one_user_with_profile_and_parameters(client: TestClient, online_tables: OnlineTables) -> None:
    snapshot = _snapshot(online_tables, FEATURE)
    user = snapshot.group_by("user_id").len().sort("len", descending=True).get_column("user_id")[0]
    rows = snapshot.filter(pl.col("user_id") == user).sort("position")
    document = client.get(f"/v1/features/recent_engagements/users/{user}/sequence").json()  # by name
    profile = document["profile"]
    assert profile["feature_id"] == FEATURE
    assert profile["artefact_hash"] == online_tables.artefacts[FEATURE].content_hash
    assert profile["batch_artefact_hash"] == online_tables.artefacts[FEATURE].content_hash
    assert profile["stream_newest_event_at"] is None and profile["stream_lag_seconds"] is None
    assert profile["completeness"] == {"batch_missing": False, "batch_stale": False, "stream_missing": True,
                                       "stream_stale": True}
    assert [f["name"] for f in document["schema"]][:3] == ["event_id", "timestamp", "event_type"]
    assert {"name": "item_embedding", "dtype": "list[float32]"} in document["schema"]

    limited = client.get(f"/v1/features/{FEATURE}/users/{user}/sequence", params={"limit": 2}).json()
    assert [e["event_id"] for e in limited["events"]] == rows.get_column("event_id").to_list()[:2]
    assert limited["profile"]["truncated"] is True and limited["profile"]["count"] == 2

    since = rows.get_column("timestamp")[1]
    recent = client.get(f"/v1/features/{FEATURE}/users/{user}/sequence", params={"since": since.isoformat()}).json()
    assert [e["event_id"] for e in recent["events"]] == rows.filter(pl.col("timestamp") >= since).get_column(
        "event_id").to_list()

    projected = client.get(f"/v1/features/{FEATURE}/users/{user}/sequence",
                           params={"fields": "event_id,item_id", "limit": 3}).json()
    assert [f["name"] for f in projected["schema"]] == ["event_id", "item_id"]
    assert projected["events"] == rows.head(3).select("event_id", "item_id").to_dicts()


def test_binary_formats_carry_the_same_events(client: TestClient, online_tables: OnlineTables) -> None:
    user = _snapshot(online_tables, FEATURE).get_column("user_id")[0]
    url = f"/v1/features/{FEATURE}/users/{user}/sequence"
    as_json = client.get(url).json()
    packed = client.get(url, headers={"Accept": "application/msgpack"})
    assert packed.headers["content-type"] == "application/msgpack"
    assert msgpack.unpackb(packed.content) == orjson.loads(orjson.dumps(as_json))
    arrow = client.get(url, headers={"Accept": "application/vnd.apache.arrow.stream"})
    frame = pl.read_ipc_stream(io.BytesIO(arrow.content))
    assert frame.to_dicts() == events_frame(as_json).to_dicts()
    assert orjson.loads(arrow.headers["x-fp-profile"]) == as_json["profile"]


def test_retention_is_applied_at_request_time(loaded: OnlineStore, published: Published,
                                              online_tables: OnlineTables) -> None:
    """Later than the snapshot, events that left the retention window are not served (the definition)."""
    artefact = online_tables.artefacts[FEATURE]
    later = day_end(online_tables.days[-1]) + timedelta(seconds=artefact.feature.retention_seconds) - timedelta(
        days=2)
    snapshot = _snapshot(online_tables, FEATURE)
    expected = dedup_and_rank(snapshot.drop("position").lazy(), artefact, as_of=later).collect()
    users = snapshot.get_column("user_id").unique().to_list()
    with TestClient(make_app(published.store, loaded, clock=lambda: later)) as client:
        document = client.post(f"/v1/features/{FEATURE}/sequences", json={"users": users}).json()
    served = sum(r["profile"]["count"] for r in document["results"])
    assert served == expected.height < snapshot.height
    assert all(r["profile"]["completeness"]["batch_stale"] for r in document["results"])


def test_merge_with_a_tail_is_dedup_and_rank_of_batch_and_tail(
    loaded: OnlineStore, published: Published, online_tables: OnlineTables
) -> None:
    artefact = online_tables.artefacts["recent_searches_v1"]  # dedup_by query_norm: a tail event hides older ones
    snapshot = _snapshot(online_tables, "recent_searches_v1")
    user = snapshot.get_column("user_id")[0]
    batch_rows = snapshot.filter(pl.col("user_id") == user).drop("position")
    arrived = day_end(online_tables.days[-1]) + timedelta(hours=1)
    newest = batch_rows.sort("timestamp", descending=True).row(0, named=True)
    tail_rows = [
        {**newest, "event_id": "tail-1", "timestamp": arrived - timedelta(minutes=30)},  # same query: dedups
        {**newest, "event_id": "tail-2", "query_norm": "brand new query", "timestamp": arrived - timedelta(minutes=5)},
        {**newest, "event_id": "tail-2", "query_norm": "brand new query", "timestamp": arrived - timedelta(minutes=5)},
    ]
    tail_frame = pl.DataFrame(tail_rows, schema=batch_rows.schema)
    encoded = tail_frame.drop("user_id").select(pl.struct(pl.all()).struct.json_encode()).to_series().to_list()
    loaded.append_tail("recent_searches_v1", str(user), [
        TailEvent(event_id=r["event_id"], arrived_us=to_micros(arrived), timestamp_us=to_micros(r["timestamp"]),
                  json=j.encode()) for r, j in zip(tail_rows, encoded, strict=True)
    ], bound=100)
    now = arrived + timedelta(minutes=1)
    expected = dedup_and_rank(pl.concat([batch_rows, tail_frame]).lazy(), artefact, as_of=now).collect()
    with TestClient(make_app(published.store, loaded, clock=lambda: now)) as client:
        document = client.get(f"/v1/features/recent_searches_v1/users/{user}/sequence").json()
    assert events_frame(document).to_dicts() == expected.sort("position").drop("user_id", "position").to_dicts()
    assert document["events"][0]["event_id"] == "tail-2"
    assert "tail-1" in [e["event_id"] for e in document["events"]]
    assert newest["event_id"] not in [e["event_id"] for e in document["events"]]  # hidden by tail-1
    profile = document["profile"]
    assert profile["tail_events_merged"] == 2
    assert profile["stream_newest_event_at"] is not None and profile["stream_lag_seconds"] == 360.0


def test_auth(loaded: OnlineStore, published: Published, online_tables: OnlineTables) -> None:
    user = _snapshot(online_tables, FEATURE).get_column("user_id")[0]
    url = f"/v1/features/{FEATURE}/users/{user}/sequence"
    now = day_end(online_tables.days[-1])
    with TestClient(make_app(published.store, loaded, clock=lambda: now, auth=True)) as client:
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
        forbidden = client.get(url, headers={"Authorization": f"Bearer {KEY_SEARCH}"})
        assert forbidden.status_code == 403 and "no grant" in forbidden.json()["message"]
        assert client.get(url, headers={"X-API-Key": KEY_ALL}).status_code == 200
        assert client.get("/v1/features/recent_searches_v1/users/1/sequence",
                          headers={"Authorization": f"Bearer {KEY_SEARCH}"}).status_code == 200
        assert client.get("/v1/features/nope/users/1/sequence").status_code == 401  # no key: nothing leaks


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/v1/features/nope/users/1/sequence", {}, 404),
    (f"/v1/features/{FEATURE}/users/abc/sequence", {}, 422),
    (f"/v1/features/{FEATURE}/users/99999999999999999999/sequence", {}, 422),
    (f"/v1/features/{FEATURE}/users/1/sequence", {"limit": 0}, 422),
    (f"/v1/features/{FEATURE}/users/1/sequence", {"since": "yesterday"}, 422),
    (f"/v1/features/{FEATURE}/users/1/sequence", {"fields": "nope"}, 422),
])
def test_bad_requests_are_4xx_with_a_message(client: TestClient, path: str, params: dict[str, Any],
                                             status: int) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    assert response.json()["message"]


def test_batch_requests_are_bounded(client: TestClient) -> None:
    response = client.post(f"/v1/features/{FEATURE}/sequences", json={"users": list(range(1001))})
    assert response.status_code == 422 and "users" in response.json()["message"]
    assert client.post(f"/v1/features/{FEATURE}/sequences", json={"users": []}).status_code == 422


def test_unknown_user_is_an_empty_complete_sequence(client: TestClient) -> None:
    document = client.get(f"/v1/features/{FEATURE}/users/123456789/sequence").json()
    assert document["events"] == [] and document["profile"]["count"] == 0
    assert document["profile"]["completeness"]["batch_missing"] is False


def test_overload_is_shed_with_retry_after(client: TestClient) -> None:
    state = client.app.state.serve  # type: ignore[attr-defined]
    state.in_flight = state.max_in_flight  # as if that many requests were running
    try:
        response = client.get(f"/v1/features/{FEATURE}/users/1/sequence")
    finally:
        state.in_flight = 0
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert "fp_serve_shed_total 1.0" in client.get("/metrics").text


def test_store_down_is_503_and_not_ready(published: Published, online_tables: OnlineTables) -> None:
    from tests.online.conftest import free_port

    dead = RedisOnlineStore(f"redis://127.0.0.1:{free_port()}/0", prefix="dead")
    now = datetime.now(UTC)
    with TestClient(make_app(published.store, dead, clock=lambda: now)) as client:
        response = client.get(f"/v1/features/{FEATURE}/users/1/sequence")
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200


def test_metrics(client: TestClient, online_tables: OnlineTables) -> None:
    client.get(f"/v1/features/{FEATURE}/users/1/sequence")
    client.get("/v1/features/nope/users/1/sequence")
    text = client.get("/metrics").text
    route = "/v1/features/{feature}/users/{user}/sequence"
    assert f'fp_serve_request_seconds_bucket{{le="0.005",method="GET",route="{route}",status="200"}}' in text
    assert f'route="{route}",status="404"' in text
    assert 'fp_serve_store_seconds_count{op="read_users"}' in text
    assert f'content_hash="{online_tables.artefacts[FEATURE].content_hash}"' in text
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("feature_id", ["recent_engagements_v1", "recent_searches_v1", "recent_closeups_v1"])
@pytest.mark.parametrize("fields", [None, ["event_id", "timestamp"]])
def test_binary_formats_of_many_users_carry_the_same_events(
    client: TestClient, online_tables: OnlineTables, feature_id: str, fields: list[str] | None
) -> None:
    """Every user of every feature (their nulls and dtypes), whole and projected: Arrow and msgpack hold
    exactly the JSON response's content."""
    users = [*_snapshot(online_tables, feature_id).get_column("user_id").unique().sort().to_list(), 10**9]
    url = f"/v1/features/{feature_id}/sequences"
    body: dict[str, Any] = {"users": users, "fields": fields} if fields else {"users": users}
    as_json = client.post(url, json=body).json()
    packed = client.post(url, json=body, headers={"Accept": "application/msgpack"})
    assert msgpack.unpackb(packed.content) == orjson.loads(orjson.dumps(as_json))
    arrow = client.post(url, json=body, headers={"Accept": "application/vnd.apache.arrow.stream"})
    frame = pl.read_ipc_stream(io.BytesIO(arrow.content))
    expected = pl.concat([
        events_frame({"schema": as_json["schema"], "events": r["events"]}).select(
            pl.lit(r["user"], dtype=pl.Int64).alias("user_id"), pl.all())
        for r in as_json["results"]
    ])
    assert frame.schema == expected.schema
    assert frame.to_dicts() == expected.to_dicts()
    assert orjson.loads(arrow.headers["x-fp-profiles"]) == [r["profile"] for r in as_json["results"]]


class _ClientLibraryFailure:
    """A store whose client fails the way redis-py's asyncio connection does on uvloop when Redis dies
    under it: a ``RuntimeError``, not the store's own ``OnlineStoreError``."""

    def __init__(self, store: OnlineStore) -> None:
        self._store = store

    async def read_users(self, feature_id: str, users: list[str]) -> Any:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

    async def ping(self) -> None:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_an_unexpected_store_client_error_is_a_503_with_retry_after_never_a_500(
    loaded: OnlineStore, published: Published, online_tables: OnlineTables
) -> None:
    now = day_end(online_tables.days[-1])
    app = make_app(published.store, _ClientLibraryFailure(loaded), clock=lambda: now)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        one = client.get(f"/v1/features/{FEATURE}/users/1/sequence")
        many = client.post(f"/v1/features/{FEATURE}/sequences", json={"users": [1, 2]})
        ready = client.get("/readyz")
        metrics = client.get("/metrics").text
    for response in (one, many, ready):
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert one.json()["error"] == "store_unavailable"
    assert "online store unreachable: RuntimeError" in ready.json()["message"]
    assert "fp_serve_store_errors_total 2.0" in metrics


@pytest.mark.parametrize(("body", "says"), [
    ({"users": [True, False]}, "body.users: Value error, users[0] is true: a user is an integer or a string, "
                               "never a boolean"),
    ({"users": [1, False]}, "users[1] is false: a user is an integer or a string, never a boolean"),
    ({"users": [1], "limit": True}, "body.limit: Value error, limit is true: give a whole number of events, "
                                    "or leave it out"),
])
def test_a_json_boolean_is_neither_a_user_nor_a_limit(client: TestClient, body: dict[str, Any], says: str) -> None:
    """true/false were read as the users 1 and 0, and "limit": true as 1."""
    response = client.post(f"/v1/features/{FEATURE}/sequences", json=body)
    assert response.status_code == 422
    assert says in response.json()["message"]


def test_empty_fields_say_so(client: TestClient) -> None:
    """Was "unknown fields []"."""
    says = "fields is empty: name at least one field, or leave it out for all"
    answers = [client.post(f"/v1/features/{FEATURE}/sequences", json={"users": [1], "fields": []}),
               client.get(f"/v1/features/{FEATURE}/users/1/sequence", params={"fields": ""}),
               client.get(f"/v1/features/{FEATURE}/users/1/sequence", params={"fields": " , "})]
    for response in answers:
        assert response.status_code == 422
        assert response.json()["message"] == says
