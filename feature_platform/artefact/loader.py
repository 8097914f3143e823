"""Parse, check and seal artefacts. Runtimes load artefacts only through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from feature_platform.artefact.canonical import HASH_FIELD, canonical_bytes, claimed_and_actual_hash, seal
from feature_platform.artefact.format import FORMAT_VERSION, Artefact
from feature_platform.errors import CorruptArtefactError, UnsupportedFormatVersionError

SUPPORTED_MAJOR = int(FORMAT_VERSION.split(".")[0])


def seal_artefact(artefact: Artefact) -> tuple[bytes, str]:
    """Return the canonical bytes of ``artefact`` with its content hash filled in, and the hash."""
    return seal(artefact.model_dump(mode="json", exclude={HASH_FIELD}))


def parse_artefact(data: bytes, *, expected_hash: str | None = None, origin: str = "<bytes>") -> Artefact:
    """Parse artefact bytes, refusing unknown major versions, bad hashes and truncated documents.

    ``expected_hash`` is the hash the caller addressed the artefact by (its store key); when given it
    must match too, so a file swapped for another valid artefact is caught as well.
    """
    try:
        document: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        msg = f"artefact {origin} is not valid JSON (truncated or corrupt): {exc}"
        raise CorruptArtefactError(msg) from exc
    if not isinstance(document, dict):
        msg = f"artefact {origin} is not a JSON object"
        raise CorruptArtefactError(msg)
    _check_format_version(document.get("format_version"), origin)
    claimed, actual = claimed_and_actual_hash(data)
    recorded = document.get(HASH_FIELD)
    if claimed is None or claimed != recorded or claimed != actual:
        shown_actual, shown_claimed = distinct_prefixes(actual, str(recorded if claimed is None else claimed))
        msg = (
            f"artefact {origin} is corrupt: its content hashes to {shown_actual} but it claims "
            f"{shown_claimed}; refusing to load it"
        )
        raise CorruptArtefactError(msg)
    if expected_hash is not None and expected_hash != actual:
        shown_expected, shown_actual = distinct_prefixes(expected_hash, actual)
        msg = f"artefact {origin} was requested as {shown_expected} but holds {shown_actual}"
        raise CorruptArtefactError(msg)
    if canonical_bytes(document) != data:
        msg = f"artefact {origin} is not in canonical form; it was edited after compilation"
        raise CorruptArtefactError(msg)
    try:
        return Artefact.model_validate(document)
    except ValidationError as exc:
        msg = f"artefact {origin} does not match format {FORMAT_VERSION}: {exc}"
        raise CorruptArtefactError(msg) from exc


def load_artefact(path: str | Path) -> Artefact:
    """Read and check an artefact file."""
    p = Path(path)
    return parse_artefact(p.read_bytes(), origin=str(p))


def distinct_prefixes(first: str, second: str, shortest: int = 12) -> tuple[str, str]:
    """The two hashes shortened to where they differ (at least ``shortest`` characters), so a message
    never shows two equal-looking prefixes for different hashes; the whole hash when that is needed."""
    common = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), None)
    length = max(shortest, (common if common is not None else min(len(first), len(second))) + 4)

    def cut(text: str) -> str:
        return text if len(text) <= length else f"{text[:length]}…"

    return cut(first), cut(second)


def _check_format_version(version: object, origin: str) -> None:
    if not isinstance(version, str) or not version.split(".")[0].isdigit():
        msg = f"artefact {origin} has no valid format_version (got {version!r})"
        raise CorruptArtefactError(msg)
    major = int(version.split(".")[0])
    if major != SUPPORTED_MAJOR:
        msg = (
            f"artefact {origin} uses format version {version}, but this runtime understands major "
            f"version {SUPPORTED_MAJOR} only ({FORMAT_VERSION}); upgrade feature_platform or recompile "
            f"the configs with a compiler that writes {SUPPORTED_MAJOR}.x"
        )
        raise UnsupportedFormatVersionError(msg)
