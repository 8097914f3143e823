"""Content-addressed artefacts: stored once, verified on every read, never silently replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_platform.errors import (
    ArtefactNotFoundError,
    CorruptArtefactError,
    StoreError,
    UnsupportedFormatVersionError,
)
from feature_platform.storage import LocalObjectStorage
from feature_platform.store import ArtefactStore
from tests.store.artefacts import make_artefact, sealed, sealed_with_format_version


def test_put_then_get_round_trips_bytes_and_model(store: ArtefactStore) -> None:
    data, digest = sealed("round trip")

    assert store.put_artefact(data) == digest

    assert store.get_artefact_bytes(digest) == data
    assert store.get_artefact(digest) == make_artefact("round trip").model_copy(
        update={"content_hash": digest}
    )
    assert store.backend.list_keys("objects/") == [f"objects/{digest}.json"]
    assert store.list_artefacts() == [digest]
    assert store.has_artefact(digest)


def test_putting_the_same_bytes_twice_is_a_no_op(store: ArtefactStore) -> None:
    data, digest = sealed("twice")

    assert store.put_artefact(data) == digest
    assert store.put_artefact(data) == digest

    assert store.list_artefacts() == [digest]
    assert store.get_artefact_bytes(digest) == data


def test_distinct_artefacts_get_distinct_keys(store: ArtefactStore) -> None:
    hashes = sorted(store.put_artefact(sealed(f"v{i}")[0]) for i in range(3))

    assert len(set(hashes)) == 3
    assert store.list_artefacts() == hashes


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(
            lambda d: d.replace(b'"compiler_version": "test"', b'"compiler_version": "evil"'), id="edited"
        ),
        pytest.param(lambda d: d.replace(b"\n", b"\r\n"), id="not-canonical"),
        pytest.param(lambda d: b"\x00\xff garbage", id="garbage"),
        pytest.param(lambda d: b"[]", id="not-an-object"),
    ],
)
def test_corrupt_bytes_are_refused_and_nothing_is_stored(store: ArtefactStore, mangle: object) -> None:
    data, _ = sealed("to corrupt")
    assert callable(mangle)

    with pytest.raises(CorruptArtefactError):
        store.put_artefact(mangle(data))

    assert store.list_artefacts() == []


def test_unknown_major_format_version_is_refused_on_put(store: ArtefactStore) -> None:
    data, _ = sealed_with_format_version("2.0")

    with pytest.raises(UnsupportedFormatVersionError, match=r"format version 2\.0"):
        store.put_artefact(data)

    assert store.list_artefacts() == []


def test_unknown_major_format_version_is_refused_on_read(store: ArtefactStore) -> None:
    # Written behind the store's back (e.g. by a newer platform version sharing the bucket).
    data, digest = sealed_with_format_version("2.0")
    store.backend.put(f"objects/{digest}.json", data)

    with pytest.raises(UnsupportedFormatVersionError):
        store.get_artefact(digest)


def test_missing_artefact_is_not_found_with_a_clear_message(store: ArtefactStore) -> None:
    _, digest = sealed("never stored")

    with pytest.raises(ArtefactNotFoundError, match=rf"no artefact {digest} in the artefact store"):
        store.get_artefact(digest)
    with pytest.raises(ArtefactNotFoundError):
        store.get_artefact_bytes(digest)
    assert not store.has_artefact(digest)


def test_malformed_hash_is_refused_before_any_lookup(store: ArtefactStore) -> None:
    with pytest.raises(StoreError, match="is not a content hash"):
        store.get_artefact("abc123")
    with pytest.raises(StoreError, match="is not a content hash"):
        store.get_artefact("../../etc/passwd")


@pytest.mark.parametrize("damage", ["truncate", "flip-a-byte", "empty"])
def test_object_damaged_after_put_is_refused_on_read(store: ArtefactStore, damage: str) -> None:
    data, digest = sealed("damaged later")
    store.put_artefact(data)
    key = f"objects/{digest}.json"
    damaged = {
        "truncate": data[: len(data) - 40],
        "flip-a-byte": data.replace(b"damaged later", b"damaged LATER"),
        "empty": b"",
    }[damage]
    store.backend.put(key, damaged)

    with pytest.raises(CorruptArtefactError, match=f"{digest}.json"):
        store.get_artefact(digest)
    with pytest.raises(CorruptArtefactError, match=f"{digest}.json"):
        store.get_artefact_bytes(digest)


def test_valid_artefact_swapped_under_another_key_is_refused(store: ArtefactStore) -> None:
    data_a, hash_a = sealed("a")
    data_b, _ = sealed("b")
    store.put_artefact(data_a)
    store.backend.put(f"objects/{hash_a}.json", data_b)

    with pytest.raises(CorruptArtefactError, match=f"requested as {hash_a[:12]}"):
        store.get_artefact(hash_a)


def test_put_refuses_to_overwrite_a_corrupt_existing_object(store: ArtefactStore) -> None:
    data, digest = sealed("corrupt at rest")
    key = f"objects/{digest}.json"
    store.backend.put(key, data[:10])

    with pytest.raises(CorruptArtefactError, match="refusing to overwrite"):
        store.put_artefact(data)

    assert store.backend.get(key) == data[:10]  # evidence left in place


def test_truncated_file_on_local_disk_is_refused(tmp_path: Path) -> None:
    store = ArtefactStore(LocalObjectStorage(tmp_path))
    data, digest = sealed("on disk")
    store.put_artefact(data)
    path = tmp_path / "objects" / f"{digest}.json"
    assert path.read_bytes() == data
    with path.open("r+b") as handle:
        handle.truncate(len(data) // 3)

    with pytest.raises(CorruptArtefactError, match=str(path)):
        store.get_artefact(digest)
