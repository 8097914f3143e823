"""The serving API (FastAPI on uvicorn): sequence X for user U, with its schema and profile.

Routes: ``GET /v1/features/{feature}/users/{user}/sequence``, ``POST /v1/features/{feature}/sequences``,
``GET /v1/features``, ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``. Handlers return
pre-encoded bytes (no response-model serialisation on the hot path); the OpenAPI document still
describes every parameter, body and error.

Errors are always 4xx/503 with ``{"error", "message"}``: unknown feature 404, bad parameters 422,
no key 401, no grant 403, online store down or too many requests in flight 503 with ``Retry-After``.
Load is shed, never queued without limit: at most ``max_in_flight`` sequence requests run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import orjson
import polars as pl
from fastapi import Body, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.routing import Route

from feature_platform.artefact.dtypes import DType
from feature_platform.runtimes.online import (
    BlobFormatError,
    OnlineStore,
    OnlineStoreError,
    SequenceRequest,
    ServedSequence,
    assemble,
)
from feature_platform.runtimes.serve import _encode as enc
from feature_platform.runtimes.serve._auth import Authoriser, presented_key
from feature_platform.runtimes.serve._fast import fast_sequence
from feature_platform.runtimes.serve._metrics import ServeMetrics, Timer, route_of
from feature_platform.runtimes.serve._profile import profile as profile_of
from feature_platform.runtimes.serve._registry import LiveFeatures, LoadedFeature

logger = logging.getLogger(__name__)

MAX_BATCH_USERS = 1000
MAX_LIMIT = 10_000
RETRY_AFTER_SECONDS = "1"
_INT64 = re.compile(r"^-?[0-9]{1,19}$")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.retry = status, error, message, retry


class SequencesBody(BaseModel):
    """A ranking request: many users of one feature."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: list[Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | Annotated[str, Field(max_length=256)]] = Field(
        min_length=1, max_length=MAX_BATCH_USERS, description=f"1 to {MAX_BATCH_USERS} users."
    )
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    since: datetime | None = None
    fields: list[str] | None = Field(default=None, max_length=200)

    @field_validator("users", mode="before")
    @classmethod
    def _no_boolean_user(cls, users: Any) -> Any:
        # pydantic reads true/false as the ints 1/0: a boolean would be served as users 1 and 0
        if isinstance(users, list) and (at := next((i for i, u in enumerate(users) if isinstance(u, bool)), None)) \
                is not None:
            msg = f"users[{at}] is {str(users[at]).lower()}: a user is an integer or a string, never a boolean"
            raise ValueError(msg)
        return users

    @field_validator("limit", mode="before")
    @classmethod
    def _no_boolean_limit(cls, limit: Any) -> Any:
        if isinstance(limit, bool):  # pydantic would take true as 1
            msg = f"limit is {str(limit).lower()}: give a whole number of events, or leave it out"
            raise ValueError(msg)
        return limit


class ErrorBody(BaseModel):
    error: str
    message: str


class Profile(BaseModel):
    """The freshness and completeness profile of one answer (documented in docs/ARCHITECTURE.md)."""

    feature_id: str
    artefact_hash: str
    batch_artefact_hash: str | None
    batch_day: str | None
    batch_as_of: str | None
    as_of: str
    stream_newest_event_at: str | None
    stream_lag_seconds: float | None
    count: int
    limit: int
    truncated: bool
    tail_events_merged: int
    completeness: dict[str, bool]


class SchemaField(BaseModel):
    name: str
    dtype: str


class SequenceResponse(BaseModel):
    feature_id: str
    user: int | str
    schema_: list[SchemaField] = Field(alias="schema")
    events: list[dict[str, Any]]
    profile: Profile


class UserResult(BaseModel):
    user: int | str
    events: list[dict[str, Any]]
    profile: Profile


class SequencesResponse(BaseModel):
    feature_id: str
    schema_: list[SchemaField] = Field(alias="schema")
    results: list[UserResult]


_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody, "description": d} for s, d in {
        401: "No API key, or an unknown one", 403: "The key has no grant on this feature",
        404: "Unknown feature", 422: "Bad parameters", 503: "Online store unavailable or overloaded (Retry-After)",
    }.items()
}
_BINARY: dict[str, Any] = {"application/msgpack": {}, "application/vnd.apache.arrow.stream": {}}


@dataclass
class ServeState:
    live: LiveFeatures
    online: OnlineStore
    authoriser: Authoriser
    metrics: ServeMetrics
    clock: Clock
    max_in_flight: int
    in_flight: int = 0


def create_app(
    live: LiveFeatures,
    online: OnlineStore,
    authoriser: Authoriser,
    *,
    clock: Clock = utc_now,
    max_in_flight: int = 256,
    reload_seconds: float = 2.0,
    fast_route: bool = True,
) -> FastAPI:
    """The ASGI app. ``live`` is refreshed at start-up and then every ``reload_seconds``. ``fast_route``
    serves the one-user GET through :mod:`._fast` (plain Starlette) instead of FastAPI's own routing."""
    state = ServeState(live=live, online=online, authoriser=authoriser, metrics=ServeMetrics(live), clock=clock,
                       max_in_flight=max_in_flight)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(live.refresh)
        task = asyncio.create_task(_reload_forever(live, reload_seconds))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await online.aclose()

    app = FastAPI(title="feature_platform serving", version="1", lifespan=lifespan,
                  description="Sequence X for user U: a schema of enriched events with a freshness and "
                  "completeness profile.")
    app.state.serve = state

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        headers = {"Retry-After": RETRY_AFTER_SECONDS} if exc.retry else None
        return JSONResponse({"error": exc.error, "message": exc.message}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> Response:
        details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        message = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details) or "invalid request"
        return JSONResponse({"error": "invalid_request", "message": message, "detail": details}, status_code=422)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Artefacts loaded and the online store reachable",
             responses={503: {"model": ErrorBody, "description": "Not ready"}})
    async def readyz() -> Response:
        problems = []
        if not live.features:
            problems.append("no artefact loaded")
        try:
            await online.ping()
        except OnlineStoreError as exc:
            problems.append(f"online store unreachable: {exc}")
        except Exception as exc:  # never a 500 (see _unexpected_store_error)
            _unexpected_store_error("ping", exc)
            problems.append(f"online store unreachable: {type(exc).__name__}")
        if problems:
            return JSONResponse({"error": "not_ready", "message": "; ".join(problems)}, status_code=503,
                                headers={"Retry-After": RETRY_AFTER_SECONDS})
        return JSONResponse({"status": "ready", "features": sorted(live.features)})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/features", summary="Features served in this environment, with their artefact and state")
    async def features() -> dict[str, Any]:
        return {"env": live.env, "features": [
            {"feature_id": f.feature_id, "name": f.name, "artefact_hash": f.content_hash,
             "batch_day": f.state.batch_day.isoformat() if f.state and f.state.batch_day else None,
             "reload_error": live.errors.get(f.feature_id)}
            for f in sorted(live.features.values(), key=lambda f: f.feature_id)
        ], "refused": dict(sorted(live.errors.items()))}

    @app.get("/v1/features/{feature}/users/{user}/sequence", response_model=SequenceResponse,
             responses={**_ERRORS, 200: {"content": _BINARY}}, summary="One user's sequence")
    async def sequence(
        request: Request,
        feature: Annotated[str, Path(description="Feature name (its live version) or exact feature id.")],
        user: Annotated[str, Path(description="The entity key (user id).", max_length=256)],
        limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="At most this many events.")] = None,
        since: Annotated[datetime | None, Query(description="Only events at or after this instant.")] = None,
        fields: Annotated[str | None, Query(description="Comma-separated fields to return.", max_length=4000)] = None,
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Response:
        return await one_sequence(request, feature, user, limit, since, fields, authorization, x_api_key)

    async def one_sequence(request: Request, feature: str, user: str, limit: int | None, since: datetime | None,
                           fields: str | None, authorization: str | None, x_api_key: str | None) -> Response:
        loaded = _authorised(state, feature, authorization, x_api_key)
        key = _user_key(loaded, user)
        req = SequenceRequest(limit=limit, since=_utc(since), fields=_fields(loaded, fields))
        with _slot(state):
            record = (await _read(state, loaded, [key]))[0]
        now = state.clock()
        served = _assemble(record, loaded, req, now)
        profile = profile_of(loaded, served, req, now)
        fmt = enc.negotiate(request.headers.get("accept"))
        user_json = orjson.dumps(_user_value(loaded, key))
        schema_json = _schema_json(loaded, req.fields)
        if fmt == "json":
            body = enc.one_json(orjson.dumps(loaded.feature_id), user_json, schema_json, served.events_json, profile)
            return Response(body, media_type=enc.JSON)
        if fmt == "msgpack":
            body = enc.to_msgpack({"feature_id": loaded.feature_id, "user": _user_value(loaded, key),
                                   "schema": orjson.loads(schema_json),
                                   "events": enc.decode_events(served.events_json), "profile": profile})
            return Response(body, media_type=enc.MSGPACK)
        body = enc.to_arrow(served.events_json, _subschema(loaded, req.fields))
        return Response(body, media_type=enc.ARROW, headers={"X-FP-Profile": orjson.dumps(profile).decode()})

    @app.post("/v1/features/{feature}/sequences", response_model=SequencesResponse,
              responses={**_ERRORS, 200: {"content": _BINARY}}, summary="Many users' sequences (a ranking request)")
    async def sequences(
        request: Request,
        feature: Annotated[str, Path(description="Feature name (its live version) or exact feature id.")],
        body: Annotated[SequencesBody, Body()],
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Response:
        loaded = _authorised(state, feature, authorization, x_api_key)
        keys = [_user_key(loaded, str(u)) for u in body.users]
        req = SequenceRequest(limit=body.limit, since=_utc(body.since),
                              fields=_fields(loaded, ",".join(body.fields) if body.fields is not None else None))
        with _slot(state):
            records = await _read(state, loaded, keys)
        now = state.clock()
        served = [_assemble(r, loaded, req, now) for r in records]
        profiles = [profile_of(loaded, s, req, now) for s in served]
        fmt = enc.negotiate(request.headers.get("accept"))
        schema_json = _schema_json(loaded, req.fields)
        if fmt == "json":
            results = [enc.result_json(orjson.dumps(_user_value(loaded, k)), s.events_json, p)
                       for k, s, p in zip(keys, served, profiles, strict=True)]
            return Response(enc.many_json(orjson.dumps(loaded.feature_id), schema_json, results), media_type=enc.JSON)
        if fmt == "msgpack":
            document = {"feature_id": loaded.feature_id, "schema": orjson.loads(schema_json), "results": [
                {"user": _user_value(loaded, k), "events": enc.decode_events(s.events_json), "profile": p}
                for k, s, p in zip(keys, served, profiles, strict=True)]}
            return Response(enc.to_msgpack(document), media_type=enc.MSGPACK)
        user_col = loaded.artefact.feature.entity_key.name
        events = b",".join(s.events_json for s in served if s.count)
        users = [_user_value(loaded, k) for k, s in zip(keys, served, strict=True) for _ in range(s.count)]
        users_series = pl.Series(user_col, users, dtype=pl.Int64 if _int_key(loaded) else pl.String)
        body_bytes = enc.to_arrow(events, _subschema(loaded, req.fields), {user_col: users_series})
        return Response(body_bytes, media_type=enc.ARROW,
                        headers={"X-FP-Profiles": orjson.dumps(profiles).decode()})

    if fast_route:  # served by a plain Starlette endpoint; the FastAPI route above documents it
        endpoint = fast_sequence(one_sequence, max_limit=MAX_LIMIT, max_fields_chars=4000, max_user_chars=256)
        app.router.routes.insert(0, Route("/v1/features/{feature}/users/{user}/sequence", endpoint, methods=["GET"],
                                          include_in_schema=False))
    app.add_middleware(_MetricsMiddleware, metrics=state.metrics)
    return app


async def _reload_forever(live: LiveFeatures, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await anyio.to_thread.run_sync(live.refresh)
        except Exception:  # a reload bug must never stop serving the loaded versions
            logger.exception("reload of %s failed; still serving the loaded artefacts", live.env)


class _MetricsMiddleware:
    """Pure ASGI: times every request and labels it by route template and status."""

    def __init__(self, app: Callable[..., Awaitable[None]], metrics: ServeMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        timer = Timer()
        status = [500]

        async def capture(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, capture)
        finally:
            self._metrics.requests.labels(route_of(scope["path"]), scope["method"], str(status[0])).observe(
                timer.elapsed()
            )


class _Slot:
    def __init__(self, state: ServeState) -> None:
        self._state = state

    def __enter__(self) -> None:
        if self._state.in_flight >= self._state.max_in_flight:
            self._state.metrics.shed.inc()
            raise ApiError(503, "overloaded", f"more than {self._state.max_in_flight} requests in flight; retry",
                           retry=True)
        self._state.in_flight += 1

    def __exit__(self, *_: object) -> None:
        self._state.in_flight -= 1


def _slot(state: ServeState) -> _Slot:
    return _Slot(state)


async def _read(state: ServeState, loaded: LoadedFeature, keys: list[str]) -> Any:
    timer = Timer()
    try:
        records = await state.online.read_users(loaded.feature_id, keys)
    except OnlineStoreError as exc:
        state.metrics.store_errors.inc()
        logger.warning("online store read failed: %s", exc)
        raise ApiError(503, "store_unavailable", "the online store is unavailable; retry", retry=True) from exc
    except Exception as exc:  # the store client's own failure mode (see _unexpected_store_error)
        state.metrics.store_errors.inc()
        _unexpected_store_error("read", exc)
        raise ApiError(503, "store_unavailable", "the online store is unavailable; retry", retry=True) from exc
    finally:
        state.metrics.store.labels("read_users").observe(timer.elapsed())
    return records


def _unexpected_store_error(operation: str, exc: Exception) -> None:
    """Log an error the store raised that is not an :class:`OnlineStoreError`, with its traceback.

    Why it is still a 503 and not a 500: a store client can fail in ways its wrapper does not map. Seen:
    Redis killed under concurrent requests, redis-py's asyncio connection handshake on uvloop raises
    ``RuntimeError: unable to perform operation on <TCPTransport closed=True>`` (not a ``RedisError``).
    The request could not be answered because the store failed, so the client should retry; the 500
    that escaped also made uvicorn close the connection under the next request (connection reset).
    The traceback stays in the log so a genuine bug is not hidden."""
    logger.error("online store %s failed with an unexpected %s (answered 503)", operation, type(exc).__name__,
                 exc_info=exc)


def _assemble(record: Any, loaded: LoadedFeature, req: SequenceRequest, now: datetime) -> ServedSequence:
    try:
        return assemble(record, loaded.artefact, loaded.event_schema, req, now=now)
    except BlobFormatError as exc:
        raise ApiError(503, "store_unreadable", f"stored sequence not readable by this server: {exc}",
                       retry=True) from exc


def _authorised(state: ServeState, feature: str, authorization: str | None, x_api_key: str | None) -> LoadedFeature:
    loaded = state.live.resolve(feature)
    key = presented_key(authorization, x_api_key)
    if loaded is None:
        if state.authoriser.enabled and state.authoriser.decide(key, feature, feature).status == 401:
            raise ApiError(401, "unauthenticated", "an API key is required (Authorization: Bearer <key>)")
        raise ApiError(404, "unknown_feature", f"no feature {feature!r} is live in {state.live.env!r}")
    decision = state.authoriser.decide(key, loaded.feature_id, loaded.name)
    if decision.status != 200:
        raise ApiError(decision.status, "unauthenticated" if decision.status == 401 else "forbidden",
                       decision.message)
    return loaded


def _int_key(loaded: LoadedFeature) -> bool:
    return loaded.artefact.feature.entity_key.dtype in (DType.INT64, DType.INT32)


def _user_key(loaded: LoadedFeature, user: str) -> str:
    if _int_key(loaded):
        if not _INT64.match(user) or not -(2**63) <= int(user) < 2**63:
            raise ApiError(422, "invalid_user", f"user must be a 64-bit integer, got {user[:40]!r}")
        return str(int(user))
    if not user or len(user) > 256:
        raise ApiError(422, "invalid_user", "user must be 1 to 256 characters")
    return user


def _user_value(loaded: LoadedFeature, key: str) -> int | str:
    return int(key) if _int_key(loaded) else key


def _fields(loaded: LoadedFeature, fields: str | None) -> tuple[str, ...] | None:
    if fields is None:
        return None
    names = tuple(f.strip() for f in fields.split(",") if f.strip())
    if not names:
        raise ApiError(422, "invalid_fields", "fields is empty: name at least one field, or leave it out for all")
    unknown = [f for f in names if f not in loaded.columns]
    if unknown:
        raise ApiError(422, "invalid_fields", f"unknown fields {unknown[:10]}; known: {list(loaded.columns)}")
    return names


def _schema_json(loaded: LoadedFeature, fields: tuple[str, ...] | None) -> bytes:
    if fields is None:
        return loaded.schema_json
    described = {d["name"]: d for d in orjson.loads(loaded.schema_json)}
    return orjson.dumps([described[f] for f in fields])


def _subschema(loaded: LoadedFeature, fields: tuple[str, ...] | None) -> pl.Schema:
    if fields is None:
        return loaded.event_schema
    return pl.Schema({f: loaded.event_schema[f] for f in fields})


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
