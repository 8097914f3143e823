"""The hot route, ``GET /v1/features/{feature}/users/{user}/sequence``, as a plain Starlette endpoint.

Why: FastAPI's per-request dependency resolution and validation cost more than everything else the
route does (the stored JSON is spliced, not decoded); see benchmarks/RESULTS.md (online serving,
FastAPI vs Starlette). The FastAPI route with the same path stays registered behind this one, so the
OpenAPI document still describes every parameter; this endpoint validates with the *same* pydantic
types (``TypeAdapter``) and answers errors in the same shape, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import Field, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

_LIMIT: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=1)])
_SINCE: TypeAdapter[datetime] = TypeAdapter(datetime)


def _checked(name: str, raw: str | None, adapter: TypeAdapter[Any], problems: list[dict[str, Any]]) -> Any:
    if raw is None:
        return None
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        problems += [{"loc": ["query", name], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        return None


def invalid(problems: list[dict[str, Any]]) -> Response:
    """The 422 body of ``bad_request`` in ``_app`` (one shape for both routes)."""
    message = "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems)
    body = {"error": "invalid_request", "message": message, "detail": problems}
    return Response(orjson.dumps(body), status_code=422, media_type="application/json")


Handler = Callable[..., Awaitable[Response]]


def fast_sequence(handler: Handler, *, max_limit: int, max_fields_chars: int, max_user_chars: int
                  ) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint that parses the route's parameters and calls ``handler`` with them."""

    async def endpoint(request: Request) -> Response:
        params = request.path_params
        query = request.query_params
        problems: list[dict[str, Any]] = []
        user = params["user"]
        if len(user) > max_user_chars:
            problems.append({"loc": ["path", "user"],
                             "msg": f"String should have at most {max_user_chars} characters"})
        limit = _checked("limit", query.get("limit"), _LIMIT, problems)
        if limit is not None and limit > max_limit:
            problems.append({"loc": ["query", "limit"], "msg": f"Input should be less than or equal to {max_limit}"})
        since = _checked("since", query.get("since"), _SINCE, problems)
        fields = query.get("fields")
        if fields is not None and len(fields) > max_fields_chars:
            problems.append({"loc": ["query", "fields"],
                             "msg": f"String should have at most {max_fields_chars} characters"})
        if problems:
            return invalid(problems)
        headers = request.headers
        return await handler(request, params["feature"], user, limit, since, fields, headers.get("authorization"),
                             headers.get("x-api-key"))

    return endpoint
