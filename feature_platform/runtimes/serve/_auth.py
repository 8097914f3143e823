"""API keys: stored as sha256 hashes, each with grants on features (by name, id, or ``*``).

Keys file (``FP_SERVE_API_KEYS_FILE``) or inline JSON (``FP_SERVE_API_KEYS``)::

    {"keys": [{"name": "homefeed-ranker", "sha256": "<hex sha256 of the key>",
               "features": ["recent_engagements", "recent_searches_v1"]}]}

The plain key is never stored; ``feature-platform hash-api-key`` prints the hash of one. Clients send
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. No key (or an unknown one) is 401; a known
key without a grant on the feature is 403.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ApiKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    features: tuple[str, ...] = ()


class ApiKeys(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: tuple[ApiKey, ...] = ()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_api_keys(path: Path | None, inline: str | None) -> ApiKeys:
    """Merge the keys of the file and of the inline JSON (either may be absent)."""
    keys: list[ApiKey] = []
    for text in ([path.read_text()] if path is not None else []) + ([inline] if inline else []):
        keys.extend(ApiKeys.model_validate(json.loads(text)).keys)
    return ApiKeys(keys=tuple(keys))


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: int
    message: str = ""


ALLOW = Decision(status=200)


class Authoriser:
    """Decides 200 / 401 / 403 for a presented key and a feature; ``enabled=False`` allows everything."""

    def __init__(self, keys: ApiKeys, *, enabled: bool) -> None:
        self._enabled = enabled
        self._by_hash = {k.sha256: k for k in keys.keys}

    @property
    def enabled(self) -> bool:
        return self._enabled

    def decide(self, presented: str | None, feature_id: str, feature_name: str) -> Decision:
        if not self._enabled:
            return ALLOW
        if not presented:
            return Decision(status=401, message="an API key is required (Authorization: Bearer <key>)")
        key = self._by_hash.get(hash_key(presented))
        if key is None:
            return Decision(status=401, message="unknown API key")
        if "*" in key.features or feature_id in key.features or feature_name in key.features:
            return ALLOW
        return Decision(status=403, message=f"API key {key.name!r} has no grant on feature {feature_id!r}")


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None
