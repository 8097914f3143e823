"""Objects under ``s3://bucket/prefix/`` (AWS S3 or any S3-compatible endpoint).

* :meth:`~S3ObjectStorage.put_if_absent` is S3's conditional write (``PutObject`` with
  ``If-None-Match: *``), which S3 guarantees atomic: of concurrent writers one gets 200, the others
  412 PreconditionFailed (or 409 ConditionalRequestConflict while the winner's upload is in flight).
  Both mean "someone else created it", and callers re-read.
* :meth:`~S3ObjectStorage.put` is one ``PutObject``, and a committed stage one managed upload
  (multipart when large): S3 makes an object visible only once the request, or the whole multipart
  upload, has completed, and replaces an existing key as a whole, so no temporary object is needed.
  A staged file waits in the local temporary directory.
* :meth:`~S3ObjectStorage.open_read` downloads to a local temporary file: a seekable handle on one
  version of the object.
* Listings skip *folder markers*: the empty objects whose key ends in ``/`` (the AWS console's "Create
  folder" makes them; so do several sync tools). S3 has no folders, and a marker is how it shows an empty
  one; no key of the platform ends in ``/``. :meth:`~S3ObjectStorage.list_folder` is one delimited listing
  (``Delimiter="/"``): the common prefixes are the sub-folders.

``client`` is a boto3 S3 client or a zero-argument callable returning one; building a client resolves
credentials (possibly over the network), so the callable is called on first use and constructing the
storage does no I/O. Every failure becomes a :class:`StoreError` naming the object.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from feature_platform.errors import StoreError, UnreadableObjectError
from feature_platform.storage.base import MAX_OBJECT_BYTES, FolderListing, StagedFile
from feature_platform.storage.keys import check_key, check_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_EXISTS_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_EXISTS_STATUSES = frozenset({409, 412})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_S3_ERRORS = (ClientError, BotoCoreError)


class S3ObjectStorage:
    """Objects under ``s3://bucket/prefix/`` (see the module docstring)."""

    def __init__(self, client: S3Client | Callable[[], S3Client], bucket: str, prefix: str = "") -> None:
        if not bucket:
            msg = "S3 storage needs a bucket name"
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

    def url(self, key: str) -> str:
        return f"s3://{self._bucket}/{self._full_key(key)}"

    @property
    def client(self) -> S3Client:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    assert self._client_factory is not None
                    try:
                        self._client = self._client_factory()
                    except _S3_ERRORS as exc:
                        msg = f"cannot create an S3 client for {self.describe()}: {exc}"
                        raise StoreError(msg) from exc
        return self._client

    def _full_key(self, key: str) -> str:
        check_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    def _error(self, action: str, key: str, exc: Exception) -> StoreError:
        return StoreError(f"S3 {action} of {self.describe()}/{key} failed: {exc}")

    # -- reads -------------------------------------------------------------------------------------

    def get(self, key: str, *, limit: int = MAX_OBJECT_BYTES) -> bytes | None:
        """The object; one larger than ``limit`` (its ContentLength) is refused before its body is read."""
        full = self._full_key(key)
        try:
            response = self.client.get_object(Bucket=self._bucket, Key=full)
            size = response.get("ContentLength")
            if size is not None and size > limit:
                response["Body"].close()
                raise UnreadableObjectError(self.url(key), f"is larger than {limit} bytes, the most read there")
            body: bytes = response["Body"].read(limit + 1)
            if len(body) > limit:
                raise UnreadableObjectError(self.url(key), f"is larger than {limit} bytes, the most read there")
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return None
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from exc
        return body

    def open_read(self, key: str) -> BinaryIO | None:
        full = self._full_key(key)
        copy = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller, removed on close
        try:
            self.client.download_fileobj(self._bucket, full, copy)
        except ClientError as exc:
            copy.close()
            if _error_code(exc) in _MISSING_CODES:
                return None
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            copy.close()
            raise self._error("read", key, exc) from exc
        copy.seek(0)
        return copy

    def list_keys(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        root = self._root()
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=root + prefix):
                for item in page.get("Contents", []):
                    name = item.get("Key", "")
                    if name.startswith(root) and not _is_folder_marker(name, item.get("Size", 0)):
                        keys.append(name[len(root) :])
        except _S3_ERRORS as exc:
            msg = f"S3 listing of {self.describe()}/{prefix}* failed: {exc}"
            raise StoreError(msg) from exc
        return sorted(key for key in keys if key)

    def list_folder(self, folder: str) -> FolderListing:
        check_prefix(folder)
        if folder and not folder.endswith("/"):
            msg = f"invalid folder {folder!r}: a folder prefix ends with '/'"
            raise StoreError(msg)
        start = self._root() + folder
        folders: list[str] = []
        files: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=start, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    name = common.get("Prefix", "")[len(start) :].rstrip("/")
                    if name and not name.startswith("."):
                        folders.append(name)
                for item in page.get("Contents", []):
                    name = item.get("Key", "")[len(start) :]
                    if name and not name.startswith("."):  # "": the folder's own marker
                        files.append(name)
        except _S3_ERRORS as exc:
            msg = f"S3 listing of {self.describe()}/{folder} failed: {exc}"
            raise StoreError(msg) from exc
        return FolderListing(tuple(sorted(folders)), tuple(sorted(files)))

    def _root(self) -> str:
        return f"{self._prefix}/" if self._prefix else ""

    # -- writes ------------------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        full = self._full_key(key)
        try:
            self.client.put_object(Bucket=self._bucket, Key=full, Body=data, ContentType=_content_type(key))
        except _S3_ERRORS as exc:
            raise self._error("write", key, exc) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        full = self._full_key(key)
        try:
            self.client.put_object(
                Bucket=self._bucket, Key=full, Body=data, IfNoneMatch="*", ContentType=_content_type(key)
            )
        except ClientError as exc:
            if _error_code(exc) in _EXISTS_CODES or _status(exc) in _EXISTS_STATUSES:
                return False
            raise self._error("conditional write", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("conditional write", key, exc) from exc
        return True

    def stage(self, key: str) -> StagedFile:
        self._full_key(key)  # a bad key fails before anything is written
        handle, local_path = tempfile.mkstemp(prefix="fp-stage-", suffix=os.path.splitext(key)[1])
        os.close(handle)
        return StagedFile(key, local_path, self._upload)

    def sweep_stale_stages(self, directory: str, *, older_than: float = 0.0) -> list[str]:
        """Nothing to sweep: a staged file waits in the local temporary directory, not under a key, and an
        upload is atomic, so a killed writer leaves nothing in the bucket."""
        return []

    def delete(self, key: str) -> None:
        full = self._full_key(key)
        try:
            self.client.delete_object(Bucket=self._bucket, Key=full)
        except _S3_ERRORS as exc:
            raise self._error("delete", key, exc) from exc

    def _upload(self, local_path: str, key: str) -> None:
        try:
            self.client.upload_file(local_path, self._bucket, self._full_key(key))
        except _S3_ERRORS as exc:
            raise self._error("upload", key, exc) from exc
        with contextlib.suppress(FileNotFoundError):
            os.unlink(local_path)  # a handle from open_committed keeps the bytes readable


def _is_folder_marker(key: str, size: int) -> bool:
    """An empty object whose key ends in ``/``: how S3 consoles and tools show a folder (see the module docstring)."""
    return key.endswith("/") and size == 0


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None
