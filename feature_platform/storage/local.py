"""Objects as files under a local directory; safe for several processes on one POSIX filesystem.

Every write goes to a hidden temporary file in the destination directory (``.<name>.<uuid>.tmp``,
which no listing and no ``*.parquet`` glob sees), is fsynced, then published with one atomic call:
``os.replace`` for :meth:`~LocalObjectStorage.put` and a committed stage, ``os.link`` for
:meth:`~LocalObjectStorage.put_if_absent` (which, unlike a rename, fails if the name exists, so exactly
one of several concurrent creators wins). The directory is then fsynced so the new name is on disk,
and so is the parent of every directory the write created. One fsync per file is the minimum for this:
without it a rename can reach the disk before the data, and a machine crash would leave a
complete-looking name over an empty or torn file. Nothing is touched on disk until the first write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from feature_platform._durable import fsync_directory
from feature_platform._filekind import file_kind
from feature_platform.errors import NotAFileError, StoreError, UnreadableObjectError
from feature_platform.storage.base import MAX_OBJECT_BYTES, FolderListing, StagedFile
from feature_platform.storage.keys import check_key, check_prefix
from feature_platform.storage.sweep import STALE_STAGING_SECONDS, is_staged_name, staged_name, sweep_stale


class LocalObjectStorage:
    """Objects as files under ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)
        self._root_text = os.fspath(root).rstrip("/") or "/"

    @property
    def root(self) -> Path:
        return self._root

    def root_exists(self) -> bool:
        """Whether the root directory is there; False only when nothing is (see :func:`_is_directory`)."""
        return _is_directory(self._root)

    def describe(self) -> str:
        return os.path.abspath(self._root)

    def url(self, key: str) -> str:
        check_key(key)
        return f"{self._root_text}/{key}" if self._root_text != "/" else f"/{key}"

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))

    # -- reads -------------------------------------------------------------------------------------

    def get(self, key: str, *, limit: int = MAX_OBJECT_BYTES) -> bytes | None:
        path = self._path(key)
        try:  # non-blocking: opening a FIFO must not wait for a writer; the type is checked before any read
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except IsADirectoryError as exc:
            raise _not_a_file(path) from exc
        except OSError as exc:
            msg = f"cannot read {path}: {exc}"
            raise StoreError(msg) from exc
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise _not_a_file(path)
            if not stat.S_ISREG(mode):
                raise UnreadableObjectError(str(path), f"is not a regular file ({file_kind(mode)})")
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            msg = f"cannot read {path}: {exc}"
            raise StoreError(msg) from exc
        finally:
            os.close(fd)
        if len(data) > limit:
            raise UnreadableObjectError(str(path), f"is larger than {limit} bytes, the most read there")
        return data

    def open_read(self, key: str) -> BinaryIO | None:
        """The open inode: a concurrent replacement of the name does not change what it reads."""
        path = self._path(key)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            return None
        except IsADirectoryError as exc:
            raise _not_a_file(path) from exc
        except OSError as exc:
            msg = f"cannot read {path}: {exc}"
            raise StoreError(msg) from exc

    def list_keys(self, prefix: str) -> list[str]:
        # Walk only the deepest directory the prefix names, then filter by the full string prefix.
        check_prefix(prefix)
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._root.joinpath(*directory.split("/")) if directory else self._root
        if not _is_directory(start):  # absent: empty; a file, a loop or unreadable: StoreError
            return []
        found: list[str] = []

        def unreadable(exc: OSError) -> None:  # an unreadable store is an error, never "empty"
            msg = f"cannot list {exc.filename or start}: {exc.strerror or exc}"
            raise StoreError(msg) from exc

        for dirpath, dirnames, filenames in os.walk(start, onerror=unreadable):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel_dir = Path(dirpath).relative_to(self._root).as_posix()
            for name in filenames:
                if name.startswith("."):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)

    def list_folder(self, folder: str) -> FolderListing:
        """One ``scandir`` of the folder: a sub-directory (or a link to one) is a folder, anything else a file;
        hidden names (staged files) are left out. The sub-directories are not opened."""
        start = self._folder_path(folder)
        if not _is_directory(start):
            return FolderListing()
        folders: list[str] = []
        files: list[str] = []
        try:
            with os.scandir(start) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        is_folder = entry.is_dir()  # follows a symbolic link, like the walk of list_keys
                    except OSError:
                        is_folder = False  # a link that cannot be followed: a file whose read will say why
                    (folders if is_folder else files).append(entry.name)
        except OSError as exc:
            msg = f"cannot list {start}: {exc.strerror or exc}"
            raise StoreError(msg) from exc
        return FolderListing(tuple(sorted(folders)), tuple(sorted(files)))

    def _folder_path(self, folder: str) -> Path:
        check_prefix(folder)
        if folder and not folder.endswith("/"):
            msg = f"invalid folder {folder!r}: a folder prefix ends with '/'"
            raise StoreError(msg)
        return self._root.joinpath(*folder[:-1].split("/")) if folder else self._root

    # -- writes ------------------------------------------------------------------------------------

    def stage(self, key: str) -> StagedFile:
        path = self._path(key)
        created = _make_directories(path.parent)
        local_path = path.parent / staged_name(path.name)
        return StagedFile(key, os.fspath(local_path), lambda local, final: self._replace(local, final, created))

    def sweep_stale_stages(self, directory: str, *, older_than: float = STALE_STAGING_SECONDS) -> list[str]:
        """Remove the staged files killed writers left in the folder ``directory`` (a key prefix without the
        trailing ``/``), only those no live writer can own (:mod:`feature_platform.storage.sweep`)."""
        check_prefix(f"{directory}/")
        removed = sweep_stale(self._root.joinpath(*directory.split("/")), is_staged_name, older_than=older_than)
        return [os.fspath(p) for p in removed]

    def put(self, key: str, data: bytes) -> None:
        with self.stage(key) as staged:
            _write_file(staged.local_path, data)
            staged.commit()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():  # cheap fast path; the link below is what decides
            return False
        with self.stage(key) as staged:
            _write_file(staged.local_path, data)
            try:
                os.link(staged.local_path, path)  # unlike a rename, fails if the name exists
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    msg = (
                        f"the filesystem under {self.describe()} does not support hard links, which the "
                        f"local store needs for atomic create-if-absent: {exc}"
                    )
                    raise StoreError(msg) from exc
                msg = f"cannot create {path}: {exc}"
                raise StoreError(msg) from exc
        fsync_directory(path.parent)
        return True

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            msg = f"cannot delete {path}: {exc}"
            raise StoreError(msg) from exc
        fsync_directory(path.parent)  # the removal is on disk before what the caller does next

    def _replace(self, local_path: str, key: str, created: list[Path]) -> None:
        """fsync the staged file, rename it over ``key``'s file, then make the rename durable."""
        path = self._path(key)
        created = [*created, *_make_directories(path.parent)]  # committed under another key than staged
        _refuse_special_file(path)
        try:
            with open(local_path, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(local_path, path)
        except IsADirectoryError as exc:
            raise _not_a_file(path) from exc
        except OSError as exc:
            msg = f"cannot write {path}: {exc}"
            raise StoreError(msg) from exc
        fsync_directory(path.parent)
        for made in reversed(created):
            fsync_directory(made.parent)


def _refuse_special_file(path: Path) -> None:
    """A rename over a device, a pipe or a socket (``--out /dev/null``, run as root) would replace it with a
    regular file: refuse, naming it. A symbolic link is replaced itself, never its target."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        msg = f"cannot write {path}: {exc.strerror or exc}"
        raise StoreError(msg) from exc
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode)):
        msg = (f"{path} is not a regular file (a device, a pipe or a socket): writing would replace it with a "
               "file; name a regular file")
        raise NotAFileError(msg)


def _not_a_file(path: Path) -> NotAFileError:
    return NotAFileError(f"{path} is a directory where a file belongs")


def _write_file(local_path: str, data: bytes) -> None:
    try:
        with open(local_path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(local_path)
        msg = f"cannot write {local_path}: {exc}"
        raise StoreError(msg) from exc


def _make_directories(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; the ones created, outermost first."""
    missing: list[Path] = []
    current = directory.absolute()
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the directory {directory}: {exc}"
        raise StoreError(msg) from exc
    return missing[::-1]


def _is_directory(path: Path) -> bool:
    """Whether ``path`` is a directory; False only when nothing is there at all (a missing directory lists
    as empty). Anything else is a :class:`StoreError` naming the path: a regular file where a directory
    should be, a path component that is a file (ENOTDIR), a symlink loop, a dangling symlink, no permission.
    ``Path.is_dir()`` would call all of those "not a directory", so an unreadable store would list as empty."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as exc:
        if not os.path.lexists(path):
            return False
        msg = f"cannot list {path}: {exc.strerror or exc} (a dangling symbolic link)"
        raise StoreError(msg) from exc
    except OSError as exc:
        msg = f"cannot list {path}: {exc.strerror or exc}"
        raise StoreError(msg) from exc
    if not stat.S_ISDIR(mode):
        msg = f"cannot list {path}: not a directory"
        raise StoreError(msg)
    return True
