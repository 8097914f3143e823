"""The serving floor: a minimal ASGI app on the same stack (uvicorn) answering one Redis GET of a
pre-encoded response of the same size. Run: python -m benchmarks.floor_app PORT REDIS_URL KEY."""

from __future__ import annotations

import sys
from typing import Any

import redis.asyncio as aredis
import uvicorn


def make(url: str, key: str) -> Any:
    client = aredis.Redis.from_url(url)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await client.get(key) or b""
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    port, url, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uvicorn.run(make(url, key), host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False,
                log_level="warning", lifespan="off")
