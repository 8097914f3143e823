"""The loader refuses what a runtime must not run: unknown major versions, tampered or truncated bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feature_platform.artefact import (
    FORMAT_VERSION,
    canonical_bytes,
    load_artefact,
    parse_artefact,
    seal,
    seal_artefact,
)
from feature_platform.compiler import compile_configs
from feature_platform.errors import ArtefactError, CorruptArtefactError, UnsupportedFormatVersionError
from tests.compiler._helpers import VALID_FIXTURE

_RESULT = compile_configs(VALID_FIXTURE)
assert _RESULT.ok, _RESULT.issues
SEALED = _RESULT.artefacts["recent_item_activity_v1"]
OTHER = _RESULT.artefacts["recent_searches_v1"]
DATA = SEALED.data


def _resealed(**update: object) -> bytes:
    """The fixture artefact with ``update`` applied and a correct hash: valid apart from the update."""
    data, _ = seal_artefact(SEALED.artefact.model_copy(update=update))
    return data


def test_a_compiled_artefact_loads(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(DATA)

    assert parse_artefact(DATA) == SEALED.artefact
    assert parse_artefact(DATA, expected_hash=SEALED.content_hash) == SEALED.artefact
    assert load_artefact(path) == SEALED.artefact


def test_sealing_is_stable() -> None:
    """Sealing an artefact that was loaded gives back the same bytes and hash."""
    assert seal_artefact(parse_artefact(DATA)) == (DATA, SEALED.content_hash)


@pytest.mark.parametrize("version", ["2.0", "0.9", "10.1"])
def test_an_unknown_major_version_is_refused_with_a_clear_error(version: str) -> None:
    data = _resealed(format_version=version)

    with pytest.raises(UnsupportedFormatVersionError) as caught:
        parse_artefact(data, origin="features/x.json")

    message = str(caught.value)
    assert f"format version {version}" in message
    assert f"major version {FORMAT_VERSION.split('.')[0]}" in message
    assert "features/x.json" in message


def test_a_newer_minor_version_is_accepted() -> None:
    data = _resealed(format_version="1.7")

    artefact = parse_artefact(data)

    assert artefact.format_version == "1.7"
    assert artefact.feature == SEALED.artefact.feature


@pytest.mark.parametrize("version", [None, 1, "", "one.two", "v1.0"])
def test_a_missing_or_malformed_version_is_corrupt(version: object) -> None:
    document = json.loads(DATA)
    document["format_version"] = version

    with pytest.raises(CorruptArtefactError, match="format_version"):
        parse_artefact(canonical_bytes(document))


def test_one_changed_byte_is_refused() -> None:
    position = DATA.index(b'"max_length": 200') + len(b'"max_length": ')
    tampered = DATA[:position] + b"9" + DATA[position + 1 :]  # 200 -> 900, still valid JSON
    assert len(tampered) == len(DATA)
    assert tampered != DATA

    with pytest.raises(CorruptArtefactError, match="corrupt"):
        parse_artefact(tampered)


def test_an_edit_re_encoded_canonically_is_refused() -> None:
    """Re-canonicalising after an edit does not help: the claimed hash no longer matches."""
    document = json.loads(DATA)
    document["feature"]["max_length"] = 900

    with pytest.raises(CorruptArtefactError):
        parse_artefact(canonical_bytes(document))


def test_an_unedited_but_re_formatted_artefact_is_refused() -> None:
    """The bytes are what is verified: the same document in another formatting is not the artefact."""
    compact = json.dumps(json.loads(DATA), sort_keys=True, separators=(",", ":")).encode()

    with pytest.raises(CorruptArtefactError):
        parse_artefact(compact)


def test_a_changed_hash_is_refused() -> None:
    position = DATA.index(SEALED.content_hash.encode())
    flipped = b"0" if DATA[position : position + 1] != b"0" else b"1"
    tampered = DATA[:position] + flipped + DATA[position + 1 :]

    with pytest.raises(CorruptArtefactError):
        parse_artefact(tampered)


def test_a_missing_hash_is_refused() -> None:
    document = json.loads(DATA)
    del document["content_hash"]

    with pytest.raises(CorruptArtefactError):
        parse_artefact(canonical_bytes(document))


@pytest.mark.parametrize("keep", [0, 1, len(DATA) // 2, len(DATA) - 2, len(DATA) - 1])
def test_truncated_bytes_are_refused(keep: int) -> None:
    with pytest.raises(CorruptArtefactError):
        parse_artefact(DATA[:keep])


@pytest.mark.parametrize("data", [b"[]\n", b'"artefact"\n', b"\xff\xfe{}", b"null"])
def test_what_is_not_an_artefact_is_refused(data: bytes) -> None:
    with pytest.raises(CorruptArtefactError):
        parse_artefact(data)


def test_a_valid_artefact_under_the_wrong_hash_is_refused() -> None:
    """A store key addresses one artefact; another valid artefact in its place is caught too."""
    parse_artefact(OTHER.data, expected_hash=OTHER.content_hash)

    with pytest.raises(CorruptArtefactError, match="requested as"):
        parse_artefact(OTHER.data, expected_hash=SEALED.content_hash)


def test_a_body_that_does_not_fit_the_format_is_refused() -> None:
    """Correctly hashed, right version, but not an artefact of this format (an unknown field)."""
    document = json.loads(DATA)
    del document["content_hash"]
    document["feature"]["surprise"] = True
    data, _ = seal(document)

    with pytest.raises(CorruptArtefactError, match="does not match format"):
        parse_artefact(data)


def test_every_refusal_is_an_artefact_error() -> None:
    """Runtimes catch one base class to keep serving the previous version."""
    assert issubclass(CorruptArtefactError, ArtefactError)
    assert issubclass(UnsupportedFormatVersionError, ArtefactError)


def test_hashes_in_messages_are_shown_long_enough_to_differ() -> None:
    from feature_platform.artefact.loader import distinct_prefixes

    a = "0123456789abcdef0123" + "a" * 44
    b = "0123456789abcdef0123" + "b" * 44
    shown_a, shown_b = distinct_prefixes(a, b)
    assert shown_a != shown_b and shown_a.rstrip("…") != shown_b.rstrip("…")
    assert distinct_prefixes("abcdef" * 10, "bcdefa" * 10) == ("abcdefabcdef…", "bcdefabcdefa…")  # 12 by default
