"""The object-storage interface, and the staged file both backends publish from.

The primitives are the few the platform's stores are built from:

* :meth:`ObjectStorage.put_if_absent` — an atomic "create, but only if nobody else did". Immutable
  artefacts and the compare-and-set on environment pointers are both built from it, so a backend is
  correct as soon as that one call is atomic against writers in other processes.
* :meth:`~ObjectStorage.put` and :meth:`~ObjectStorage.stage` — create or replace an object as a
  whole: a reader sees the old bytes or the new ones, never part of either. ``stage`` is for large
  objects written as a stream (the table files): they go to a local file first and are published in
  one step, so they never sit in memory whole.
* :meth:`~ObjectStorage.sweep_stale_stages` — what a writer killed mid-stage left behind, removed by the
  next run under the one rule of :mod:`feature_platform.storage.sweep`.
* :meth:`~ObjectStorage.get`, :meth:`~ObjectStorage.open_read` (a seekable handle on one version, so
  a reader can hash the bytes and then decode the very bytes it hashed), :meth:`~ObjectStorage.list_keys`,
  :meth:`~ObjectStorage.list_folder` (one level only, so one unreadable sub-folder fails only the caller that
  reads it) and :meth:`~ObjectStorage.delete`.

Both listings ignore S3 *folder markers* (the empty objects whose key ends in ``/`` that the AWS console's
"Create folder" makes): they are how S3 shows an empty folder, the counterpart of an empty local directory,
and never an object of the platform (a key with an empty last component is not a valid key).

Reads are capped (:meth:`~ObjectStorage.get`'s ``limit``): :data:`MAX_OBJECT_BYTES` by default (artefacts and
table manifests are kilobytes; the cap is generous and only stops a runaway read), :data:`MAX_ENTRY_BYTES` for
audit entries and witnesses. Locally only regular files are read (a symbolic link to one is followed): a FIFO
would hang the reader and a device such as ``/dev/zero`` never ends. Either is
:class:`~feature_platform.errors.UnreadableObjectError`, damage to that one key.

Keys are relative to the storage's root and checked by :func:`~feature_platform.storage.keys.check_key`;
:meth:`~ObjectStorage.url` turns one into the path or ``s3://`` URL other readers (polars, DuckDB) use.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

MAX_OBJECT_BYTES = 256 * 1024 * 1024
"""The most :meth:`ObjectStorage.get` reads by default (256 MiB)."""

MAX_ENTRY_BYTES = 1024 * 1024
"""The most read of an audit entry, a pointer hint or a live record (1 MiB; an entry is a few hundred bytes)."""


@dataclass(frozen=True)
class FolderListing:
    """What one folder holds directly: the names (no ``/``) of its sub-folders and of its files, sorted."""

    folders: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


@runtime_checkable
class ObjectStorage(Protocol):
    """Byte objects under ``/``-separated keys below one root. Implementations are safe across processes."""

    def get(self, key: str, *, limit: int = MAX_OBJECT_BYTES) -> bytes | None:
        """The whole object, or None if the key does not exist. Never a partially written object. An object
        larger than ``limit`` bytes, or (locally) not a regular file, is
        :class:`~feature_platform.errors.UnreadableObjectError`."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Create or replace ``key`` atomically: readers see the old or the new bytes, nothing else."""
        ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create ``key`` atomically; True if this call created it, False if it already existed."""
        ...

    def stage(self, key: str) -> StagedFile:
        """A local file to write ``key``'s new content into; nothing is visible until it is committed."""
        ...

    def sweep_stale_stages(self, directory: str, *, older_than: float = ...) -> list[str]:
        """Remove what writers killed while staging left in the folder ``directory`` (a key prefix without
        the trailing ``/``) and no live writer can still own; returns what was removed. The next run of a
        writer calls it (see :mod:`feature_platform.storage.sweep`)."""
        ...

    def open_read(self, key: str) -> BinaryIO | None:
        """A seekable binary handle on the current version of ``key`` (None if there is none)."""
        ...

    def list_keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix`` (a plain string prefix), sorted."""
        ...

    def list_folder(self, folder: str) -> FolderListing:
        """The sub-folders and files directly in ``folder`` (a prefix ending in ``/``, or "" for the root); an
        absent folder is empty. Does not look inside the sub-folders, so an unreadable one fails nobody here."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` if it exists (durably, before anything the caller does next)."""
        ...

    def url(self, key: str) -> str:
        """Where ``key`` lives, as a local path or an ``s3://`` URL (for polars, DuckDB and messages)."""
        ...

    def describe(self) -> str:
        """The root, for messages: an absolute path or an ``s3://`` URL without a trailing slash."""
        ...


class StagedFile:
    """A file being written for ``key``: write ``local_path``, then :meth:`commit` or :meth:`discard`.

    ``commit`` replaces ``key`` atomically; ``discard`` (also the effect of leaving a ``with`` block by
    an exception) removes the local file and leaves ``key`` as it was.
    """

    def __init__(self, key: str, local_path: str, publish: Callable[[str, str], None]) -> None:
        self.key = key
        self.local_path = local_path
        self._publish = publish
        self.done = False

    def open_committed(self) -> BinaryIO:
        """A read handle on the staged bytes that stays valid after :meth:`commit` (open it before)."""
        return open(self.local_path, "rb")

    def commit(self, key: str | None = None) -> None:
        """Publish the staged bytes under ``key`` (default: the key it was staged for; a name known only
        once the content is written, such as one carrying its hash, goes here)."""
        if self.done:
            msg = f"{self.key} was already committed or discarded"
            raise RuntimeError(msg)
        if key is not None:
            self.key = key
        try:
            self._publish(self.local_path, self.key)
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
