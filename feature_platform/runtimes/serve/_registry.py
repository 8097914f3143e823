"""The artefacts the server serves, and hot reload when an environment's pointer moves.

:meth:`LiveFeatures.refresh` reads every pointer of the environment (the audit log's latest entry) and
loads, verifies and swaps in each artefact whose hash changed. A corrupt artefact, one of an unknown
major format version, or any error loading it is *refused*: the previous version keeps serving and the
refusal is reported (``/v1/features``, the ``fp_serve_reload_errors_total`` metric, the log). The
server calls it every ``FP_SERVE_RELOAD_SECONDS`` (default 2 s), which bounds how long a publish or a
rollback takes to be served. A swap replaces one immutable :class:`LoadedFeature` in a dict, so a
request sees the old or the new version whole.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine.plan import events_schema
from feature_platform.errors import FeaturePlatformError
from feature_platform.runtimes.online import FeatureState, OnlineStore, StreamStatus
from feature_platform.store import ArtefactStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedFeature:
    """One live artefact with what serving precomputes from it."""

    artefact: Artefact
    content_hash: str
    columns: tuple[str, ...]
    event_schema: pl.Schema
    schema_json: bytes
    state: FeatureState | None = None
    stream: StreamStatus | None = None
    """What the streaming indexer last reported (its lag makes the profile's ``stream_stale``)."""

    @property
    def feature_id(self) -> str:
        return self.artefact.feature.id

    @property
    def name(self) -> str:
        return self.artefact.feature.name


def loaded_feature(artefact: Artefact, state: FeatureState | None = None,
                   stream: StreamStatus | None = None) -> LoadedFeature:
    schema = events_schema(artefact)
    user = artefact.feature.entity_key.name
    columns = tuple(c for c in schema if c != user)
    dtypes = {f.name: f.dtype.value for f in artefact.feature.fields}
    described = [{"name": c, "dtype": dtypes.get(c, _dtype_name(schema[c]))} for c in columns]
    assert artefact.content_hash is not None
    return LoadedFeature(
        artefact=artefact, content_hash=artefact.content_hash, columns=columns,
        event_schema=pl.Schema({c: schema[c] for c in columns}), schema_json=orjson.dumps(described), state=state,
        stream=stream,
    )


def _dtype_name(dtype: Any) -> str:
    return str(dtype)


@dataclass
class LiveFeatures:
    """Feature id -> loaded artefact, for one environment; refreshed in place."""

    env: str
    store: ArtefactStore
    online: OnlineStore
    features: dict[str, LoadedFeature] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    reload_failures: int = 0
    refreshed: bool = False

    def refresh(self) -> None:
        """Swap in every changed artefact; refuse (and report) those that do not load."""
        for feature_id in self.store.list_features(self.env):
            try:
                entry = self.store.current(self.env, feature_id)
                if entry is None:
                    continue
                current = self.features.get(feature_id)
                if current is None or current.content_hash != entry.to_hash:
                    artefact = self.store.get_artefact(entry.to_hash)
                    if artefact.feature.id != feature_id:
                        msg = f"pointer names artefact of feature {artefact.feature.id!r}"
                        raise FeaturePlatformError(msg)
                    state = current.state if current is not None else None
                    stream = current.stream if current is not None else None
                    self.features[feature_id] = loaded_feature(artefact, state, stream)
                    logger.info("serving %s at %s", feature_id, entry.to_hash[:12])
                self.errors.pop(feature_id, None)
            except (FeaturePlatformError, ValueError, OSError) as exc:
                if self.errors.get(feature_id) != str(exc):
                    self.reload_failures += 1
                    logger.error("refused to load %s in %s (still serving the previous version): %s",
                                 feature_id, self.env, exc)
                self.errors[feature_id] = str(exc)
        self._refresh_states()
        self.refreshed = True

    def _refresh_states(self) -> None:
        for feature_id, loaded in list(self.features.items()):
            try:
                state = self.online.get_state(feature_id)
                stream = self.online.get_stream_status(feature_id)
            except FeaturePlatformError as exc:
                logger.warning("online store state of %s unavailable: %s", feature_id, exc)
                continue
            if state != loaded.state or stream != loaded.stream:
                self.features[feature_id] = dataclasses.replace(loaded, state=state, stream=stream)

    def resolve(self, feature: str) -> LoadedFeature | None:
        """An exact feature id, or a name (its highest live version in the environment)."""
        exact = self.features.get(feature)
        if exact is not None:
            return exact
        candidates = [f for f in self.features.values() if f.name == feature]
        return max(candidates, key=lambda f: f.artefact.feature.version) if candidates else None
