"""Helpers: an in-process app over a real artefact store and online store, and response decoding."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from fastapi import FastAPI

from feature_platform.runtimes.online import OnlineStore
from feature_platform.runtimes.serve import ApiKey, ApiKeys, Authoriser, LiveFeatures, create_app, hash_key
from feature_platform.store import ArtefactStore

ENV = "dev"
KEY_ALL = "key-all-features"
KEY_SEARCH = "key-searches-only"
KEYS = ApiKeys(keys=(
    ApiKey(name="all", sha256=hash_key(KEY_ALL), features=("*",)),
    ApiKey(name="search", sha256=hash_key(KEY_SEARCH), features=("recent_searches",)),
))


def make_app(store: ArtefactStore, online: OnlineStore, *, clock: Callable[[], datetime], auth: bool = False,
             max_in_flight: int = 64) -> FastAPI:
    live = LiveFeatures(env=ENV, store=store, online=online)
    return create_app(live, online, Authoriser(KEYS, enabled=auth), clock=clock, max_in_flight=max_in_flight,
                      reload_seconds=3600)


def events_frame(document: dict[str, Any]) -> pl.DataFrame:
    """A response's events with the dtypes its schema names (what a client does)."""
    from feature_platform.artefact.dtypes import DType
    from feature_platform.engine import to_polars_dtype

    schema = pl.Schema({f["name"]: to_polars_dtype(DType(f["dtype"])) for f in document["schema"]})
    lines = "\n".join(json.dumps(e) for e in document["events"])
    return pl.read_ndjson(io.StringIO(lines), schema=schema) if lines else pl.DataFrame(schema=schema)


def write_keys_file(path: Path) -> Path:
    path.write_text(KEYS.model_dump_json())
    return path
