"""Canonical JSON and content hashing: equal content means equal bytes, and equal bytes equal hashes.

Canonical form: UTF-8, keys sorted, 2-space indentation, ``,``/``": "`` separators, one trailing newline,
floats in their shortest round-trip form (orjson's, the same on every platform). It is produced by
orjson, a C-speed encoder: the standard library falls back to pure Python as soon as it indents, which
made encoding dominate compile time. NaN and infinities never reach this point: the authoring API
refuses them, since JSON cannot hold them. Collections with no natural order are sorted by the compiler
before they get here.

Content hash: sha256 (hex) of the canonical bytes *with the top-level ``content_hash`` set to ""*.
Any runtime, in any language, can verify a stored artefact without re-encoding it: blank the hash
value in the file's bytes and hash what remains.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

HASH_FIELD = "content_hash"
_HASH_LINE = re.compile(rb'\n  "content_hash": "([0-9a-f]{64})?"')
_EMPTY_HASH_LINE = b'\n  "content_hash": ""'


def canonical_bytes(document: Any) -> bytes:
    """Encode a JSON-compatible value canonically."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def compact_digest(document: Any) -> str:
    """sha256 of a compact canonical encoding: for internal identities that are never stored as files."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def seal(document: dict[str, Any]) -> tuple[bytes, str]:
    """Canonical bytes of ``document`` with its ``content_hash`` filled in, and that hash."""
    blank = canonical_bytes({**document, HASH_FIELD: ""})
    digest = hashlib.sha256(blank).hexdigest()
    return blank.replace(_EMPTY_HASH_LINE, b'\n  "content_hash": "' + digest.encode() + b'"', 1), digest


def claimed_and_actual_hash(data: bytes) -> tuple[str | None, str]:
    """The hash an artefact's bytes claim, and the hash they actually have."""
    match = _HASH_LINE.search(data)
    claimed = match.group(1).decode() if match and match.group(1) else None
    blank = _HASH_LINE.sub(_EMPTY_HASH_LINE, data, count=1) if match else data
    return claimed, hashlib.sha256(blank).hexdigest()
