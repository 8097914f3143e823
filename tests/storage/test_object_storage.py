"""The object-storage primitives every store relies on, against both backends, plus backend specifics."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from feature_platform.errors import NotAFileError, StoreError
from feature_platform.storage import (
    FolderListing,
    LocalObjectStorage,
    ObjectStorage,
    S3Connection,
    S3ObjectStorage,
    open_storage,
)


@pytest.fixture(
    params=["local", pytest.param("s3", marks=[pytest.mark.services, pytest.mark.xdist_group("s3_server")])]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStorage:
    """A fresh, empty storage, opened through open_storage exactly as production code opens one."""
    if request.param == "local":
        return open_storage(str(tmp_path / "store"))
    endpoint = request.getfixturevalue("s3_endpoint_url")
    return open_storage(request.getfixturevalue("s3_store_url"), S3Connection(endpoint_url=endpoint))


def test_backends_satisfy_the_protocol(backend: ObjectStorage) -> None:
    assert isinstance(backend, ObjectStorage)


def test_get_of_a_missing_key_is_none(backend: ObjectStorage) -> None:
    assert backend.get("nothing/here.json") is None


def test_put_if_absent_creates_once_and_never_overwrites(backend: ObjectStorage) -> None:
    assert backend.put_if_absent("a/one.json", b"first") is True
    assert backend.put_if_absent("a/one.json", b"second") is False
    assert backend.get("a/one.json") == b"first"


def test_put_creates_and_overwrites(backend: ObjectStorage) -> None:
    backend.put("a/two.json", b"v1")
    assert backend.get("a/two.json") == b"v1"
    backend.put("a/two.json", b"v2 is longer")
    assert backend.get("a/two.json") == b"v2 is longer"
    backend.put("a/two.json", b"")
    assert backend.get("a/two.json") == b""


def test_list_keys_is_sorted_and_filters_by_string_prefix(backend: ObjectStorage) -> None:
    for key in ["b/2.json", "a/b/c.json", "a/bc.json", "a/a.json", "b/1.json"]:
        backend.put(key, key.encode())

    assert backend.list_keys("") == ["a/a.json", "a/b/c.json", "a/bc.json", "b/1.json", "b/2.json"]
    assert backend.list_keys("a/b") == ["a/b/c.json", "a/bc.json"]
    assert backend.list_keys("a/b/") == ["a/b/c.json"]
    assert backend.list_keys("b/") == ["b/1.json", "b/2.json"]
    assert backend.list_keys("c/") == []
    assert backend.list_keys("a/zzz/") == []


@pytest.mark.parametrize(
    "key", ["", "/abs.json", "../up.json", "a/../b", "a//b", ".hidden", "a/.tmp-x", "a\\b"]
)
def test_unsafe_keys_are_refused(backend: ObjectStorage, key: str) -> None:
    with pytest.raises(StoreError, match="invalid blob key"):
        backend.put(key, b"x")
    with pytest.raises(StoreError, match="invalid blob key"):
        backend.get(key)


@pytest.mark.parametrize("prefix", ["../", "/etc/", "a/../", "a//", "..", "a\\b"])
def test_unsafe_list_prefixes_are_refused(backend: ObjectStorage, prefix: str) -> None:
    with pytest.raises(StoreError, match="invalid blob key prefix"):
        backend.list_keys(prefix)


def test_concurrent_put_if_absent_in_threads_has_one_winner(backend: ObjectStorage) -> None:
    wins: list[int] = []
    start = threading.Barrier(8)

    def contend(n: int) -> None:
        start.wait()
        if backend.put_if_absent("race/key.json", f"writer {n}".encode()):
            wins.append(n)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(wins) == 1
    assert backend.get("race/key.json") == f"writer {wins[0]}".encode()


# --------------------------------------------------------------------------------------------------
# Local specifics


def test_local_describe_is_the_absolute_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert LocalObjectStorage("rel/store").describe() == str(tmp_path / "rel" / "store")


def test_local_construction_touches_nothing(tmp_path: Path) -> None:
    backend = LocalObjectStorage(tmp_path / "not-yet")
    assert backend.get("a.json") is None
    assert backend.list_keys("") == []
    assert not (tmp_path / "not-yet").exists()


def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    backend = LocalObjectStorage(tmp_path)
    backend.put_if_absent("x/a.json", b"1")
    backend.put_if_absent("x/a.json", b"2")
    backend.put("x/b.json", b"3")
    backend.put("x/b.json", b"4")

    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["a.json", "b.json"]
    assert (tmp_path / "x" / "a.json").read_bytes() == b"1"


def test_local_ignores_leftovers_of_a_crashed_writer(tmp_path: Path) -> None:
    backend = LocalObjectStorage(tmp_path)
    backend.put("x/a.json", b"done")
    (tmp_path / "x" / ".tmp-deadbeef").write_bytes(b"half a fi")

    assert backend.list_keys("") == ["x/a.json"]
    assert backend.list_keys("x/") == ["x/a.json"]


def test_local_files_are_readable_by_others(tmp_path: Path) -> None:
    backend = LocalObjectStorage(tmp_path)
    backend.put_if_absent("a.json", b"1")
    backend.put("b.json", b"2")
    umask = os.umask(0)
    os.umask(umask)

    for name in ("a.json", "b.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644 & ~umask


def test_local_reader_never_sees_a_partial_overwrite(tmp_path: Path) -> None:
    backend = LocalObjectStorage(tmp_path)
    versions = [bytes([65 + i]) * 2_000_000 for i in range(2)]
    backend.put("big.json", versions[0])
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            backend.put("big.json", versions[i % 2])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen = {backend.get("big.json") for _ in range(200)}
    finally:
        stop.set()
        thread.join()

    assert seen <= set(versions)


# --------------------------------------------------------------------------------------------------
# S3 specifics (no server needed: botocore's Stubber answers in place of S3)


@pytest.fixture
def stubbed() -> Iterator[tuple[S3ObjectStorage, Stubber]]:
    client = boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with Stubber(client) as stubber:
        yield S3ObjectStorage(client, "bucket", "/pre/fix/"), stubber
        stubber.assert_no_pending_responses()


def test_s3_put_if_absent_sends_if_none_match_under_the_prefix(
    stubbed: tuple[S3ObjectStorage, Stubber],
) -> None:
    backend, stubber = stubbed
    expected = {
        "Bucket": "bucket",
        "Key": "pre/fix/a/b.json",
        "Body": b"x",
        "IfNoneMatch": "*",
        "ContentType": "application/json",
    }
    stubber.add_response("put_object", {}, expected)

    assert backend.put_if_absent("a/b.json", b"x") is True
    assert backend.describe() == "s3://bucket/pre/fix"


@pytest.mark.parametrize(
    ("code", "status"), [("PreconditionFailed", 412), ("ConditionalRequestConflict", 409)]
)
def test_s3_conditional_write_conflicts_mean_exists(
    stubbed: tuple[S3ObjectStorage, Stubber], code: str, status: int
) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("put_object", service_error_code=code, http_status_code=status)

    assert backend.put_if_absent("a.json", b"x") is False


def test_s3_other_errors_become_store_errors_naming_the_object(
    stubbed: tuple[S3ObjectStorage, Stubber],
) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    stubber.add_client_error("get_object", service_error_code="NoSuchBucket", http_status_code=404)
    stubber.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)

    with pytest.raises(
        StoreError, match=r"conditional write of s3://bucket/pre/fix/a\.json failed.*AccessDenied"
    ):
        backend.put_if_absent("a.json", b"x")
    with pytest.raises(StoreError, match="NoSuchBucket"):
        backend.get("a.json")
    assert backend.get("a.json") is None


def test_s3_client_is_built_on_first_use_only() -> None:
    calls: list[str] = []

    def factory() -> object:
        calls.append("built")
        return boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")

    backend = S3ObjectStorage(factory, "bucket")  # type: ignore[arg-type]
    assert calls == []
    assert backend.describe() == "s3://bucket"
    assert backend.client is backend.client
    assert calls == ["built"]


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_s3_keys_live_under_the_prefix_in_the_bucket(s3_endpoint_url: str, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    backend = S3ObjectStorage(client, s3_bucket, "tests/prefix-check")
    backend.put("k/one.json", b"1")
    backend.put_if_absent("k/two.json", b"2")

    raw = client.list_objects_v2(Bucket=s3_bucket, Prefix="tests/prefix-check/")
    assert sorted(o["Key"] for o in raw["Contents"]) == [
        "tests/prefix-check/k/one.json",
        "tests/prefix-check/k/two.json",
    ]
    assert backend.list_keys("k/") == ["k/one.json", "k/two.json"]
    assert client.get_object(Bucket=s3_bucket, Key="tests/prefix-check/k/one.json")["ContentType"] == (
        "application/json"
    )


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_s3_missing_bucket_is_a_store_error(s3_endpoint_url: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    backend = S3ObjectStorage(client, "no-such-bucket-here")

    with pytest.raises(StoreError, match=r"s3://no-such-bucket-here/a\.json failed.*NoSuchBucket"):
        backend.get("a.json")
    with pytest.raises(StoreError, match="NoSuchBucket"):
        backend.list_keys("")


def test_a_listing_error_is_a_store_error_not_an_empty_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory the walk cannot read (permissions, I/O): os.walk's error becomes a StoreError. (Simulated:
    the tests run as root, who may read any directory.)"""
    storage = LocalObjectStorage(tmp_path)
    storage.put("envs/dev/audit/f/0000000001.json", b"{}")
    real_scandir = os.scandir

    def refusing(path: Any) -> Any:
        if str(path).endswith("audit"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    with pytest.raises(StoreError, match=r"cannot list .*audit: Permission denied"):
        storage.list_keys("envs/")


def test_a_missing_directory_lists_as_empty_even_deep(tmp_path: Path) -> None:
    storage = LocalObjectStorage(tmp_path / "not-yet")
    assert storage.list_keys("envs/dev/audit/f/") == []
    storage.put("envs/dev/pointers/f.json", b"{}")
    assert storage.list_keys("envs/dev/audit/f/") == []


def test_a_store_root_under_a_regular_file_is_a_store_error_not_empty(tmp_path: Path) -> None:
    """``Path.is_dir()`` is False for ENOTDIR: a root below a file listed as empty ("Added" in plan)."""
    (tmp_path / "afile").write_text("a file")
    storage = LocalObjectStorage(tmp_path / "afile" / "store")
    with pytest.raises(StoreError, match=r"cannot list .*afile/store: Not a directory"):
        storage.list_keys("")
    with pytest.raises(StoreError, match=r"cannot list .*afile/store/envs/dev/audit/f: Not a directory"):
        storage.list_keys("envs/dev/audit/f/")


def test_a_store_root_that_is_a_regular_file_is_a_store_error_not_empty(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("a file")
    with pytest.raises(StoreError, match=r"cannot list .*store: not a directory"):
        LocalObjectStorage(tmp_path / "store").list_keys("")


def test_a_folder_replaced_by_a_regular_file_is_a_store_error_not_empty(tmp_path: Path) -> None:
    storage = LocalObjectStorage(tmp_path)
    storage.put("envs/dev/audit/f/0000000001.json", b"{}")
    folder = tmp_path / "envs" / "dev" / "audit" / "f"
    (folder / "0000000001.json").unlink()
    folder.rmdir()
    folder.write_text("a file where the audit folder was")
    with pytest.raises(StoreError, match=r"cannot list .*audit/f: not a directory"):
        storage.list_keys("envs/dev/audit/f/")


def test_a_symlink_loop_or_dangling_link_is_a_store_error_not_empty(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(StoreError, match=r"cannot list .*loop"):
        LocalObjectStorage(tmp_path / "loop").list_keys("")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(StoreError, match=r"cannot list .*dangling"):
        LocalObjectStorage(tmp_path / "dangling").list_keys("")


# -- one folder level, and S3 folder markers ------------------------------------------------------------------------


def test_list_folder_lists_one_level(backend: ObjectStorage) -> None:
    for key in ["a/b/c.json", "a/d.json", "e.json", "ab.json"]:
        backend.put(key, key.encode())

    assert backend.list_folder("") == FolderListing(("a",), ("ab.json", "e.json"))
    assert backend.list_folder("a/") == FolderListing(("b",), ("d.json",))
    assert backend.list_folder("a/b/") == FolderListing((), ("c.json",))
    assert backend.list_folder("zzz/") == FolderListing()
    with pytest.raises(StoreError, match="a folder prefix ends with '/'"):
        backend.list_folder("a")


def test_list_folder_does_not_open_sub_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One unreadable sub-folder fails only the listing of that sub-folder, not of its parent (which is what
    keeps one feature's unreadable audit log from stopping every feature of its environment)."""
    storage = LocalObjectStorage(tmp_path)
    storage.put("envs/dev/audit/f/000000000001.json", b"{}")
    storage.put("envs/dev/audit/g/000000000001.json", b"{}")
    real_scandir = os.scandir

    def refusing(path: Any) -> Any:
        if str(path).endswith("audit/f"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    assert storage.list_folder("envs/dev/audit/") == FolderListing(("f", "g"), ())
    assert storage.list_folder("envs/dev/audit/g/") == FolderListing((), ("000000000001.json",))
    with pytest.raises(StoreError, match=r"cannot list .*audit/f: Permission denied"):
        storage.list_folder("envs/dev/audit/f/")


def test_a_directory_where_a_file_belongs_is_a_not_a_file_error(tmp_path: Path) -> None:
    """Distinct from an outage, so the store can diagnose that one key as damage."""
    storage = LocalObjectStorage(tmp_path)
    (tmp_path / "k" / "x.json").mkdir(parents=True)
    for call in (lambda: storage.get("k/x.json"), lambda: storage.open_read("k/x.json"),
                 lambda: storage.put("k/x.json", b"1")):
        with pytest.raises(NotAFileError, match=r"k/x\.json is a directory where a file belongs"):
            call()
    assert storage.list_folder("k/") == FolderListing(("x.json",), ())


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_s3_folder_markers_are_not_objects(s3_endpoint_url: str, s3_bucket: str) -> None:
    """The empty ``folder/`` objects the AWS console's "Create folder" makes are how S3 shows a folder, never an
    object: neither listing returns them, whether they mark the root, a folder with objects, or an empty one."""
    client = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    root = "tests/markers"
    backend = S3ObjectStorage(client, s3_bucket, root)
    backend.put("a/one.json", b"1")
    for marker in ("", "a/", "a/empty/", "b/"):
        client.put_object(Bucket=s3_bucket, Key=f"{root}/{marker}", Body=b"")

    assert backend.list_keys("") == ["a/one.json"]
    assert backend.list_keys("a/") == ["a/one.json"]
    assert backend.list_keys("b/") == []
    assert backend.list_folder("") == FolderListing(("a", "b"), ())
    assert backend.list_folder("a/") == FolderListing(("empty",), ("one.json",))
    assert backend.list_folder("a/empty/") == FolderListing()
