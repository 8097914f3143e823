"""Blob backends: the few storage primitives the artefact store is built on.

The store needs exactly one concurrency primitive, :meth:`BlobBackend.put_if_absent` (an atomic
"create, but only if nobody else did"). Immutable artefacts and the compare-and-set on pointers
are both built from it, so a backend is correct as soon as that one call is atomic against writers
in other processes. Everything else is plain reads, atomic overwrites and listing.

Two backends exist: :class:`LocalBlobBackend` (the embedded default, a directory) and
:class:`S3BlobBackend` (any S3 API with conditional writes).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from botocore.exceptions import BotoCoreError, ClientError

from feature_platform._durable import fsync_directory
from feature_platform.errors import StoreError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEMP_PREFIX = ".tmp-"
"""Temporary files start with a dot; keys never have a component starting with one."""


@runtime_checkable
class BlobBackend(Protocol):
    """Byte blobs under ``/``-separated keys. Implementations must be safe across processes."""

    def get(self, key: str) -> bytes | None:
        """The whole blob, or None if the key does not exist. Never a partially written blob."""
        ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create ``key`` atomically; True if this call created it, False if it already existed."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Create or replace ``key`` atomically: readers see the old or the new blob, nothing else."""
        ...

    def list_keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix`` (a plain string prefix), sorted."""
        ...

    def describe(self) -> str:
        """Where the blobs live, for messages: a path or an ``s3://`` URL without a trailing slash."""
        ...


def check_key(key: str) -> str:
    """Refuse keys that could escape the store root or collide with temporary files."""
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
    """Refuse listing prefixes that could walk outside the store root; "" lists everything."""
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
    *directories, last = prefix.split("/") if isinstance(prefix, str) else [""]
    if (
        not isinstance(prefix, str)
        or "\\" in prefix
        or "\x00" in prefix
        or any(part in ("", ".", "..") or part.startswith(".") for part in directories)
        or last in (".", "..")
    ):
        msg = f"invalid blob key prefix {prefix!r}"
        raise StoreError(msg)
    return prefix


# --------------------------------------------------------------------------------------------------
# Local filesystem


class LocalBlobBackend:
    """Blobs as files under ``root``; safe for several processes on one POSIX filesystem.

    Writes go to a temporary file in the destination directory, are fsynced, then published with a
    single atomic call: ``os.link`` for :meth:`put_if_absent` (fails if the name exists, unlike
    ``rename``) and ``os.replace`` for :meth:`put`. A reader therefore never sees a partial file, and
    exactly one of several concurrent ``put_if_absent`` calls wins. Nothing is touched on disk until
    the first write, so constructing one is free.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)

    @property
    def root(self) -> Path:
        return self._root

    def describe(self) -> str:
        return os.path.abspath(self._root)

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            msg = f"cannot read {path}: {exc}"
            raise StoreError(msg) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():  # cheap fast path; the link below is what decides
            return False
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                msg = (
                    f"the filesystem under {self.describe()} does not support hard links, which the "
                    f"local artefact store needs for atomic create-if-absent: {exc}"
                )
                raise StoreError(msg) from exc
            msg = f"cannot create {path}: {exc}"
            raise StoreError(msg) from exc
        finally:
            _unlink_quietly(tmp)
        fsync_directory(path.parent)
        return True

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = self._write_temp(path, data)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            _unlink_quietly(tmp)
            msg = f"cannot write {path}: {exc}"
            raise StoreError(msg) from exc
        fsync_directory(path.parent)

    def list_keys(self, prefix: str) -> list[str]:
        # Walk only the deepest directory the prefix names, then filter by the full string prefix.
        check_prefix(prefix)
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._root.joinpath(*directory.split("/")) if directory else self._root
        if not start.is_dir():
            return []
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel_dir = Path(dirpath).relative_to(self._root).as_posix()
            for name in filenames:
                if name.startswith("."):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)

    def _write_temp(self, path: Path, data: bytes) -> Path:
        """Write ``data`` to a fresh, fsynced temporary file next to ``path`` (same filesystem)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                _unlink_quietly(tmp)
                raise
            os.close(fd)
        except OSError as exc:
            msg = f"cannot write under {path.parent}: {exc}"
            raise StoreError(msg) from exc
        return tmp


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# --------------------------------------------------------------------------------------------------
# S3

_EXISTS_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_EXISTS_STATUSES = frozenset({409, 412})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3BlobBackend:
    """Blobs as objects under ``s3://bucket/prefix/``.

    :meth:`put_if_absent` is S3's conditional write (``PutObject`` with ``If-None-Match: *``), which
    S3 guarantees atomic: of concurrent writers one gets 200, the others 412 PreconditionFailed (or
    409 ConditionalRequestConflict while the winner's upload is still in flight). Both mean "someone
    else created it", and callers re-read. A single ``PutObject`` is atomic, so :meth:`put` needs no
    more than that.

    ``client`` is a boto3 S3 client, or a zero-argument callable returning one. Building a client
    resolves credentials (possibly over the network), so the factory passes a callable and the
    client is built on first use: constructing the backend does no I/O.
    """

    def __init__(self, client: S3Client | Callable[[], S3Client], bucket: str, prefix: str = "") -> None:
        if not bucket:
            msg = "S3 artefact store needs a bucket name"
            raise StoreError(msg)
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        if self._prefix:
            check_key(self._prefix)
        self._client: S3Client | None = None
        self._client_factory: Callable[[], S3Client] | None = None
        if callable(client):
            self._client_factory = client
        else:
            self._client = client
        self._client_lock = threading.Lock()

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def prefix(self) -> str:
        return self._prefix

    def describe(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}" if self._prefix else f"s3://{self._bucket}"

    @property
    def client(self) -> S3Client:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    assert self._client_factory is not None
                    try:
                        self._client = self._client_factory()
                    except (BotoCoreError, ClientError) as exc:
                        msg = f"cannot create an S3 client for {self.describe()}: {exc}"
                        raise StoreError(msg) from exc
        return self._client

    def _full_key(self, key: str) -> str:
        check_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    def _error(self, action: str, key: str, exc: Exception) -> StoreError:
        return StoreError(f"S3 {action} of {self.describe()}/{key} failed: {exc}")

    def get(self, key: str) -> bytes | None:
        full = self._full_key(key)
        try:
            response = self.client.get_object(Bucket=self._bucket, Key=full)
            return response["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return None
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        full = self._full_key(key)
        try:
            self.client.put_object(
                Bucket=self._bucket,
                Key=full,
                Body=data,
                IfNoneMatch="*",
                ContentType="application/json",
            )
        except ClientError as exc:
            if _error_code(exc) in _EXISTS_CODES or _status(exc) in _EXISTS_STATUSES:
                return False
            raise self._error("conditional write", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("conditional write", key, exc) from exc
        return True

    def put(self, key: str, data: bytes) -> None:
        full = self._full_key(key)
        try:
            self.client.put_object(Bucket=self._bucket, Key=full, Body=data, ContentType="application/json")
        except (ClientError, BotoCoreError) as exc:
            raise self._error("write", key, exc) from exc

    def list_keys(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        root = f"{self._prefix}/" if self._prefix else ""
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=root + prefix):
                for item in page.get("Contents", []):
                    name = item.get("Key", "")
                    if name.startswith(root):
                        keys.append(name[len(root) :])
        except (ClientError, BotoCoreError) as exc:
            msg = f"S3 listing of {self.describe()}/{prefix}* failed: {exc}"
            raise StoreError(msg) from exc
        return sorted(keys)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None
