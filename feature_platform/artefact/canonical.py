"""Canonical JSON: the one byte encoding of an artefact, so equal content means equal bytes and hash.

Keys are sorted, indentation and separators fixed, non-ASCII escaped, NaN/Infinity refused, and the
document ends with one newline. Floats use Python's shortest round-trip ``repr``, which is the same on
every platform. Collections that have no natural order are sorted by the compiler before they get here;
this module never relies on set or dict insertion order.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

HASH_FIELD = "content_hash"


def canonical_bytes(document: Any) -> bytes:
    """Encode a JSON-compatible value canonically."""
    text = json.dumps(
        document,
        sort_keys=True,
        indent=2,
        separators=(",", ": "),
        ensure_ascii=True,
        allow_nan=False,
    )
    return (text + "\n").encode("ascii")


def content_hash(document: dict[str, Any]) -> str:
    """sha256 (hex) over the canonical bytes of ``document`` without its own ``content_hash`` field."""
    body = {k: v for k, v in document.items() if k != HASH_FIELD}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()
