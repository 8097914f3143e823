"""Open the online store a URL names: ``redis://…`` / ``rediss://…`` or a SQLite file path."""

from __future__ import annotations

from feature_platform.runtimes.online._redis import RedisOnlineStore
from feature_platform.runtimes.online._sqlite import SqliteOnlineStore
from feature_platform.runtimes.online._store import OnlineStore
from feature_platform.settings import PlatformSettings


def open_online_store(url: str, *, prefix: str = "fp") -> OnlineStore:
    """``redis://HOST:PORT/DB`` (Redis, keys under ``prefix``), else a SQLite file (``sqlite:///PATH`` or a path)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisOnlineStore(url, prefix=prefix)
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    return SqliteOnlineStore(path)


def open_online_store_from_settings(settings: PlatformSettings) -> OnlineStore:
    """``FP_ONLINE_STORE`` (default ``<data_dir>/online.sqlite``) with ``FP_ONLINE_PREFIX``."""
    return open_online_store(settings.online_store_url, prefix=settings.online_prefix)
