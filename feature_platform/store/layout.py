"""Where things live inside a store: the one place that turns names into blob keys.

Every key is built here from validated parts, so an environment or feature name can never escape
its directory (``..``, ``/``) or collide with the temporary files backends use (names starting
with a dot). Keeping the layout in one module also documents it for non-Python readers::

    objects/<content_hash>.json                              immutable artefacts
    envs/<env>/audit/<feature_id>/<generation:012d>.json     immutable audit log (the truth)
    envs/<env>/pointers/<feature_id>.json                    latest-generation hint (a cache)
    envs/<env>/live/<feature_id>.json                        live record: a second copy of the newest entry

An environment folder holds only the ``audit``, ``pointers`` and ``live`` folders, so a file where one of
them (or the environment folder itself) belongs is damage, never an empty listing: :func:`env_of_key`.
"""

from __future__ import annotations

import re

from feature_platform.errors import StoreError

OBJECTS_PREFIX = "objects/"
ENVS_PREFIX = "envs/"
GENERATION_DIGITS = 12

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_HASH_RE = re.compile(r"[0-9a-f]{64}")
_GENERATION_FILE_RE = re.compile(rf"(\d{{{GENERATION_DIGITS}}})\.json")


def check_name(kind: str, value: str) -> str:
    """Refuse environment and feature names that are not safe as one path component."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value) or ".." in value:
        msg = (
            f"invalid {kind} {value!r}: use 1-128 characters from letters, digits, '_', '-' and '.', "
            f"starting with a letter or digit"
        )
        raise StoreError(msg)
    return value


def check_hash(value: str) -> str:
    """Refuse anything that is not a full sha256 hex digest (short prefixes are not supported)."""
    if not isinstance(value, str) or not _HASH_RE.fullmatch(value):
        msg = f"{value!r} is not a content hash (expected 64 lowercase hex digits)"
        raise StoreError(msg)
    return value


def is_hash(value: str) -> bool:
    return bool(_HASH_RE.fullmatch(value))


def object_key(content_hash: str) -> str:
    return f"{OBJECTS_PREFIX}{check_hash(content_hash)}.json"


def hash_from_object_key(key: str) -> str | None:
    """The hash an ``objects/`` key addresses, or None for anything else found under the prefix."""
    if not key.startswith(OBJECTS_PREFIX) or not key.endswith(".json"):
        return None
    candidate = key[len(OBJECTS_PREFIX) : -len(".json")]
    return candidate if is_hash(candidate) else None


def env_prefix(env: str) -> str:
    return f"{ENVS_PREFIX}{check_name('environment', env)}/"


def audit_prefix(env: str, feature_id: str | None = None) -> str:
    """Prefix of one feature's audit log, or of every feature's log in ``env`` when feature_id is None."""
    base = f"{env_prefix(env)}audit/"
    if feature_id is None:
        return base
    return f"{base}{check_name('feature id', feature_id)}/"


def audit_key(env: str, feature_id: str, generation: int) -> str:
    if generation < 1 or generation >= 10**GENERATION_DIGITS:
        msg = f"audit generation {generation} is out of range"
        raise StoreError(msg)
    return f"{audit_prefix(env, feature_id)}{generation:0{GENERATION_DIGITS}d}.json"


def audit_folder_key(env: str, feature_id: str) -> str:
    """The key of a feature's audit log folder itself (where only a misplaced file can be)."""
    return audit_prefix(env, feature_id).rstrip("/")


def generation_from_name(name: str) -> int | None:
    """The generation an audit entry's file name (``<generation:012d>.json``) holds, or None."""
    match = _GENERATION_FILE_RE.fullmatch(name)
    return int(match.group(1)) if match else None


def is_name(value: str) -> bool:
    """Whether ``value`` is a valid environment or feature name (see :func:`check_name`)."""
    return bool(_NAME_RE.fullmatch(value)) and ".." not in value


def generation_from_audit_key(prefix: str, key: str) -> int | None:
    """The generation an audit key under ``prefix`` holds, or None for a foreign file."""
    if not key.startswith(prefix):
        return None
    match = _GENERATION_FILE_RE.fullmatch(key[len(prefix) :])
    return int(match.group(1)) if match else None


def hint_key(env: str, feature_id: str) -> str:
    return f"{env_prefix(env)}pointers/{check_name('feature id', feature_id)}.json"


def live_key(env: str, feature_id: str) -> str:
    return f"{env_prefix(env)}{LIVE_FOLDER}/{check_name('feature id', feature_id)}.json"


LIVE_FOLDER = "live"
ENV_FOLDERS = ("audit", "pointers", LIVE_FOLDER)
"""The only things an environment folder holds, all folders."""


def env_of_key(key: str, origin: str) -> str | None:
    """The environment a key under ``envs/`` belongs to (None for a key outside its three folders). A file
    where the environment folder or one of its folders belongs raises :class:`StoreError`: skipping it
    would list that environment as having nothing published. ``origin`` names the key in the message."""
    parts = key[len(ENVS_PREFIX) :].split("/") if key.startswith(ENVS_PREFIX) else []
    if len(parts) == 1:
        msg = f"cannot list the environments: {origin} is a file, not an environment folder"
        raise StoreError(msg)
    if len(parts) == 2 and parts[1] in ENV_FOLDERS:
        msg = f"cannot list the environments: {origin} is a file, not the environment's {parts[1]} folder"
        raise StoreError(msg)
    if len(parts) < 3 or parts[1] not in ENV_FOLDERS or parts[0].startswith("."):
        return None
    return parts[0]
