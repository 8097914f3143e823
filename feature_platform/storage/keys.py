"""Keys are ``/``-separated names relative to a storage root; these checks keep them inside it."""

from __future__ import annotations

from feature_platform.errors import StoreError


def check_key(key: str) -> str:
    """Refuse keys that could escape the root or collide with staged files (components starting with ``.``)."""
    parts = key.split("/") if isinstance(key, str) else []
    if (
        not parts
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
    ):
        msg = f"invalid blob key {key!r}"
        raise StoreError(msg)
    return key


def check_prefix(prefix: str) -> str:
    """Refuse listing prefixes that could walk outside the root; "" lists everything."""
    if prefix == "":
        return prefix
    *directories, last = prefix.split("/")
    if (
        "\\" in prefix
        or "\x00" in prefix
        or last in (".", "..")
        or any(part in ("", ".", "..") or part.startswith(".") for part in directories)
    ):
        msg = f"invalid blob key prefix {prefix!r}"
        raise StoreError(msg)
    return prefix
