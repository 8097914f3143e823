"""Whole-file reads and atomic whole-file replacement, on a local disk or S3.

Every file of the tables is written in one piece — from bytes in memory (:meth:`TableStorage.put`),
or from a local file written beforehand (:meth:`TableStorage.stage`, for the large tables, which are
streamed to disk so that they never sit in memory whole):

* **local**: the bytes go to a hidden temporary file in the *same directory* (``.<name>.<uuid>.tmp``,
  which no ``*.parquet`` glob matches), are flushed and fsynced, and the temporary file is renamed over
  the final name with :func:`os.replace` — atomic on POSIX, so a reader opening the final path sees the
  old file or the new one, never a prefix of either. The temporary file is removed if anything fails.

  Durability (a crash of the machine, not only of the process): each file's data is fsynced *before*
  the rename, then the directory holding it is fsynced (the rename is on disk), and a directory
  created for it (``dt=D/`` of a new day) is made durable by fsyncing its parent. One fsync per file
  is the minimum for this: without it a rename can reach the disk before the data, and a crash
  would leave a complete-looking day with an empty or torn file. :meth:`LocalStorage.delete` fsyncs
  the directory after the unlink, so the manifest's removal is on disk before any file of the day is
  replaced, and the new manifest (the last ``put``) reaches the disk only after every file it
  describes. After a crash a day is therefore either complete with the files its manifest describes,
  or has no manifest (and a re-run rewrites it).
* **S3**: one ``PutObject`` with the whole body (a staged file: boto3's managed upload, multipart
  when large). S3 makes an object visible only once the request — or the whole multipart upload — has
  completed, and a PUT over an existing key replaces it atomically (readers get the old or the new
  object), so no temporary object is needed. A staged file waits in the local temporary directory.

Reading a large file goes through :meth:`TableStorage.open_read`: a seekable handle on one version of
the file (locally the open inode, which a concurrent replacement does not change; on S3 a local
temporary copy), so a reader can check its sha256 and then decode the very bytes it checked.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from feature_platform._durable import fsync_directory
from feature_platform.errors import StoreError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class TableStorage(Protocol):
    """The few operations the batch runtime needs from where its tables live."""

    def put(self, path: str, data: bytes) -> None:
        """Create or replace the file ``path`` with ``data``, atomically."""
        ...

    def get(self, path: str) -> bytes | None:
        """The bytes of ``path``, or None when there is no such file."""
        ...

    def delete(self, path: str) -> None:
        """Remove ``path`` if it exists."""
        ...

    def list_names(self, directory: str) -> list[str]:
        """The names of the entries directly under ``directory`` (none if it does not exist), sorted."""
        ...

    def stage(self, path: str) -> StagedFile:
        """A local file to write ``path``'s new content into; nothing is visible until it is committed."""
        ...

    def open_read(self, path: str) -> BinaryIO | None:
        """A seekable binary handle on the current version of ``path`` (None if there is none)."""
        ...


class StagedFile:
    """A file being written for ``path``: write ``local_path``, then :meth:`commit` or :meth:`discard`.

    ``commit`` replaces ``path`` atomically (see the module docstring); ``discard`` (also the effect
    of leaving a ``with`` block by an exception) removes the local file and leaves ``path`` as it was.
    """

    def __init__(self, path: str, local_path: str, publish: Callable[[str, str], None]) -> None:
        self.path = path
        self.local_path = local_path
        self._publish = publish
        self.done = False

    def open_committed(self) -> BinaryIO:
        """A read handle on the staged bytes that stays valid after :meth:`commit` (open it before)."""
        return open(self.local_path, "rb")

    def commit(self) -> None:
        if self.done:
            msg = f"{self.path} was already committed or discarded"
            raise RuntimeError(msg)
        try:
            self._publish(self.local_path, self.path)
        except BaseException:
            self.discard()
            raise
        self.done = True

    def discard(self) -> None:
        self.done = True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.local_path)

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if not self.done:
            self.discard()


class LocalStorage:
    """Files on a local disk; :meth:`put` is a temporary file plus :func:`os.replace`."""

    def put(self, path: str, data: bytes) -> None:
        with self.stage(path) as staged:
            with open(staged.local_path, "wb") as handle:
                handle.write(data)
            staged.commit()

    def get(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def stage(self, path: str) -> StagedFile:
        directory, name = os.path.split(path)
        created = _make_directories(directory or ".")
        local_path = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
        return StagedFile(path, local_path, lambda local, final: self._publish(local, final, created))

    def _publish(self, local_path: str, path: str, created: list[str]) -> None:
        """fsync the staged file, rename it over ``path``, then make the rename durable (as :meth:`put`)."""
        directory = os.path.dirname(path) or "."
        with open(local_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(local_path, path)
        fsync_directory(directory)
        for made in reversed(created):
            fsync_directory(os.path.dirname(made) or ".")

    def open_read(self, path: str) -> BinaryIO | None:
        try:
            return open(path, "rb")
        except FileNotFoundError:
            return None

    def delete(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        fsync_directory(os.path.dirname(path) or ".")  # the removal is on disk before what follows

    def list_names(self, directory: str) -> list[str]:
        try:
            return sorted(os.listdir(directory))
        except FileNotFoundError:
            return []


def _make_directories(directory: str) -> list[str]:
    """Create ``directory`` and its missing parents; the ones created, outermost first."""
    missing: list[str] = []
    current = os.path.abspath(directory)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    os.makedirs(directory, exist_ok=True)
    return missing[::-1]


class S3Storage:
    """Objects in S3; :meth:`put` is a single ``PutObject``. ``path`` is ``s3://bucket/key``."""

    def __init__(self, client_factory: Callable[[], S3Client]) -> None:
        self._factory = client_factory
        self._client: S3Client | None = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def put(self, path: str, data: bytes) -> None:
        bucket, key = split_s3_url(path)
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def get(self, path: str) -> bytes | None:
        bucket, key = split_s3_url(path)
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body

    def delete(self, path: str) -> None:
        bucket, key = split_s3_url(path)
        self.client.delete_object(Bucket=bucket, Key=key)

    def stage(self, path: str) -> StagedFile:
        split_s3_url(path)  # a bad URL fails before anything is written
        handle, local_path = tempfile.mkstemp(prefix="fp-stage-", suffix=".parquet")
        os.close(handle)
        return StagedFile(path, local_path, self._publish)

    def _publish(self, local_path: str, path: str) -> None:
        bucket, key = split_s3_url(path)
        self.client.upload_file(local_path, bucket, key)
        os.unlink(local_path)  # a handle from open_committed keeps the bytes readable

    def open_read(self, path: str) -> BinaryIO | None:
        bucket, key = split_s3_url(path)
        copy = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller, removed on close
        try:
            self.client.download_fileobj(bucket, key, copy)
        except self.client.exceptions.ClientError as exc:
            copy.close()
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                return None
            raise
        copy.seek(0)
        return copy

    def list_names(self, directory: str) -> list[str]:
        bucket, key = split_s3_url(directory)
        prefix = f"{key.rstrip('/')}/" if key else ""
        names: set[str] = set()
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.add(common["Prefix"][len(prefix) :].rstrip("/"))
            for item in page.get("Contents", []):
                names.add(item["Key"][len(prefix) :])
        return sorted(n for n in names if n)


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key)."""
    rest = url[len("s3://") :] if url.startswith("s3://") else url
    bucket, _, key = rest.partition("/")
    if not bucket:
        msg = f"S3 URL {url!r} names no bucket"
        raise StoreError(msg)
    return bucket, key


def storage_for(root: str, storage_options: Mapping[str, str] | None = None) -> TableStorage:
    """The storage for a tables root: ``s3://…`` → :class:`S3Storage`, a path → :class:`LocalStorage`."""
    if root.startswith("s3://"):
        options = dict(storage_options or {})
        return S3Storage(lambda: _s3_client(options))
    if "://" in root:
        msg = f"unsupported tables root {root!r}: use a local path or s3://BUCKET/PREFIX"
        raise StoreError(msg)
    return LocalStorage()


def _s3_client(options: Mapping[str, str]) -> S3Client:
    """A boto3 client configured from polars-style storage options (credentials: the default chain)."""
    import boto3

    kwargs: dict[str, Any] = {}
    for option, argument in (
        ("aws_endpoint_url", "endpoint_url"),
        ("aws_region", "region_name"),
        ("aws_access_key_id", "aws_access_key_id"),
        ("aws_secret_access_key", "aws_secret_access_key"),
        ("aws_session_token", "aws_session_token"),
    ):
        if options.get(option):
            kwargs[argument] = options[option]
    client: S3Client = boto3.client("s3", **kwargs)
    return client
