"""API keys: stored as sha256 hashes, each with grants on features (by name, id, or ``*``).

Keys file (``FP_SERVE_API_KEYS_FILE``) or inline JSON (``FP_SERVE_API_KEYS``)::

    {"keys": [{"name": "homefeed-ranker", "sha256": "<hex sha256 of the key>",
               "features": ["recent_engagements", "recent_searches_v1"]}]}

The plain key is never stored; ``feature-platform hash-api-key`` prints the hash of one. An entry that
holds anything but ``name``, ``sha256`` and ``features`` (a plain ``"key"``, say) or a ``sha256`` that is
not 64 lowercase hex digits is refused, so a plain key cannot be configured by mistake. A file or inline
JSON that does not parse stops the server at start-up with one line naming the variable and the problem
(:class:`ApiKeysError`), rather than serving with fewer keys than intended. Clients send
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. No key (or an unknown one) is 401; a known
key without a grant on the feature is 403.
"""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from feature_platform._filekind import file_kind
from feature_platform.errors import FeaturePlatformError

KEYS_FILE_VARIABLE = "FP_SERVE_API_KEYS_FILE"
KEYS_INLINE_VARIABLE = "FP_SERVE_API_KEYS"
_SHAPE = '{"keys": [{"name": ..., "sha256": ..., "features": [...]}]}'


class ApiKeysError(FeaturePlatformError):
    """The configured API keys cannot be used; the server does not start (one line: where and why)."""


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
    """Merge the keys of the file and of the inline JSON (either may be absent); :class:`ApiKeysError`
    if either cannot be read or parsed, or holds anything but hashed keys."""
    sources: list[tuple[str, str]] = []
    if path is not None:
        where = f"{KEYS_FILE_VARIABLE}={path}"
        try:  # before opening it: reading a FIFO blocks until a writer comes (serve would hang, silent)
            mode = path.stat().st_mode  # a symbolic link to a regular file is followed
        except OSError as exc:
            raise ApiKeysError(f"{where}: cannot read the API keys file ({exc.strerror or exc})") from exc
        if not stat.S_ISREG(mode):
            msg = f"{where}: the API keys file is not a regular file ({file_kind(mode)}); name a JSON file"
            raise ApiKeysError(msg)
        try:
            sources.append((where, path.read_text()))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ApiKeysError(f"{where}: cannot read the API keys file ({reason})") from exc
    if inline:
        sources.append((KEYS_INLINE_VARIABLE, inline))
    keys: list[ApiKey] = []
    for where, text in sources:
        keys.extend(_parse_keys(where, text).keys)
    return ApiKeys(keys=tuple(keys))


def _parse_keys(where: str, text: str) -> ApiKeys:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); expected {_SHAPE}"
        raise ApiKeysError(msg) from exc
    try:
        return ApiKeys.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors()[:5])
        raise ApiKeysError(f"{where}: {problems}") from exc


def _problem(error: Any) -> str:
    """One validation error as ``keys[0].sha256: why``, with the fix for the mistakes people make."""
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.get("loc", ())).lstrip(".")
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        why = ("unknown field: an entry has only name, sha256 and features, and a key is stored as its sha256, "
               "never in plain (feature-platform hash-api-key KEY prints it)")
    elif loc.endswith("sha256") and kind == "string_pattern_mismatch":
        why = "not a sha256 digest (64 lowercase hex digits: feature-platform hash-api-key KEY prints it)"
    elif kind == "model_type" and not loc:
        why = f"expected a JSON object {_SHAPE}"
    else:
        why = str(error.get("msg", "invalid"))
    return f"{loc or 'document'}: {why}"


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
