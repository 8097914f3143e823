"""The serving floor: a minimal ASGI app answering one Redis GET of a pre-encoded response of the same
size, on the same server stack as the contender it is compared with (uvicorn or granian).

Run: ``python -m benchmarks.floor_app PORT REDIS_URL KEY [uvicorn|granian]``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import redis.asyncio as aredis


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


def from_environment() -> Any:
    """Granian imports a factory by name in its worker: the URL and key come through the environment."""
    return make(os.environ["FP_FLOOR_REDIS"], os.environ["FP_FLOOR_KEY"])


if __name__ == "__main__":
    port, url, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = sys.argv[4] if len(sys.argv) > 4 else "uvicorn"
    if server == "granian":
        from feature_platform.runtimes.serve._granian import run_granian

        os.environ.update({"FP_FLOOR_REDIS": url, "FP_FLOOR_KEY": key})
        run_granian("benchmarks.floor_app:from_environment", host="127.0.0.1", port=port)
    else:
        import uvicorn

        uvicorn.run(make(url, key), host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False,
                    log_level="warning", lifespan="off")
