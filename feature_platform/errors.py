"""One exception hierarchy for the whole platform.

Every error a user can meet derives from :class:`FeaturePlatformError`, so the CLI can print it as a
message instead of a traceback, and callers can catch a precise subclass.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager


class FeaturePlatformError(Exception):
    """Base of every error raised on purpose by feature_platform."""


class ConfigDefinitionError(FeaturePlatformError, ValueError):
    """A config object could not even be constructed (wrong types, a callable, an unknown key)."""


class ArtefactError(FeaturePlatformError):
    """A compiled artefact cannot be used."""


class CorruptArtefactError(ArtefactError):
    """The bytes do not hash to what they claim, are truncated, or are not an artefact at all."""


class UnsupportedFormatVersionError(ArtefactError):
    """The artefact was written in a format major version this runtime does not understand."""


class StoreError(FeaturePlatformError):
    """The artefact store could not do what was asked."""


class NotAFileError(StoreError):
    """A key names a directory where a file belongs (local store): damage to that one key, not an outage, so
    callers can diagnose it as such instead of failing everything that lists near it."""


class UnreadableObjectError(StoreError):
    """A key's object cannot be read as one: it is not a regular file (a FIFO, a device, a socket: reading could
    hang or never end) or it is larger than the cap for what is read there. Damage to that one key, like
    :class:`NotAFileError`, never an outage of the store. ``problem`` ends a sentence starting with the key."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where} {problem}")
        self.where = where
        self.problem = problem


class ArtefactNotFoundError(StoreError):
    """No artefact with that hash, or no pointer for that environment and feature."""


class PointerConflictError(StoreError):
    """A compare-and-set on a pointer lost against a concurrent writer more often than allowed."""


class PublishRefusedError(FeaturePlatformError):
    """Publishing would make a breaking change to a production feature in place."""


class SourceDataError(FeaturePlatformError):
    """Raw data does not match what the artefact expects (a missing column, a missing partition)."""


class OutputWriteError(FeaturePlatformError):
    """Writing an output failed (no space left, permission denied, a path under a file): the message names the
    path (and the day) being written and the operating system's reason; nothing half-written is left under a
    final name."""


class StaleSnapshotError(SourceDataError):
    """A stored snapshot no longer reflects its inputs: a day of its window was re-indexed since it was built."""

    def __init__(self, message: str, *, reindex_from: object, reindex_to: object) -> None:
        super().__init__(message)
        self.reindex_from = reindex_from
        self.reindex_to = reindex_to


class ContractViolationError(SourceDataError):
    """A day's indexed tables broke their data contract; nothing of that day was replaced."""


class IncompleteHistoryError(SourceDataError):
    """Days of a snapshot's window have raw data but are not indexed, and gaps were not allowed."""


class CertificationRefusedError(SourceDataError):
    """A day may not be certified: not indexed, incomplete, or stale."""


_OS_ERROR_CODE = re.compile(r"\(os error \d+\)")
_ERRNO_PREFIX = re.compile(r"^\[Errno \d+\]\s*")
_ERRNO = re.compile(r"\[Errno \d+\]\s*")
_UNDERLYING_IO = "underlying IO error:"


def polars_io_error_message(exc: BaseException) -> str | None:
    """One line for a polars error that carries an operating-system error, or None for any other error.

    polars does not raise ``OSError`` for every I/O failure: a full disk during a Parquet write is
    ``ComputeError: parquet: File out of specification: underlying IO error: No space left on device (os
    error 28)``. The CLI shows such an error like an ``OSError`` (one line, exit 1); any other polars error
    is a bug and keeps its traceback. (Tested by class module, so this bottom layer does not import polars.)"""
    if not type(exc).__module__.startswith("polars"):
        return None
    text = str(exc)
    if _UNDERLYING_IO not in text and not _OS_ERROR_CODE.search(text):
        return None
    io_part = text.split(_UNDERLYING_IO, 1)[1] if _UNDERLYING_IO in text else text
    line = next((ln.strip() for ln in io_part.splitlines() if ln.strip()), text.strip())
    return f"I/O error: {line}"


def io_reason(exc: BaseException) -> str | None:
    """The operating system's reason of an I/O failure, bare ("No space left on device"), for a message
    that names the path itself; None when ``exc`` is no I/O failure (an ``OSError``, or a polars error
    carrying one: see :func:`polars_io_error_message`)."""
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
    else:
        line = polars_io_error_message(exc)
        if line is None:
            return None
        text = line.removeprefix("I/O error: ")
    text = _OS_ERROR_CODE.sub("", _ERRNO_PREFIX.sub("", text.strip())).strip()
    return text or type(exc).__name__


@contextmanager
def writing(target: object, *, context: str = "") -> Iterator[None]:
    """Turn an I/O failure of the block (an ``OSError``, a polars error carrying one, a :class:`StoreError`
    caused by one) into one :class:`OutputWriteError` line: ``[<context>: ]cannot write <target>: <reason>``
    — the path (and the day, in ``context``) being written, never the bare "No space left on device".
    Any other error passes unchanged; an ``OutputWriteError`` of an inner block is kept as it is."""
    try:
        yield
    except OutputWriteError:
        raise
    except Exception as exc:
        text = _write_failure(exc, str(target))
        if text is None:
            raise
        msg = f"{context}: {text}" if context else text
        raise OutputWriteError(msg) from exc


def _write_failure(exc: BaseException, target: str) -> str | None:
    """``cannot write <target>: <reason>`` for an I/O failure ``exc`` (None: it is none)."""
    if isinstance(exc, StoreError):
        cause = exc.__cause__
        if isinstance(cause, OSError) and not cause.filename:  # a write() failed: the staged file of the target
            return _write_failure(cause, target)
        if isinstance(cause, OSError) and (in_the_way := _file_in_the_way_of(cause)) is not None:
            return f"cannot write {target}: {in_the_way}"
        return _ERRNO.sub("", str(exc))  # the storage layer's message names the path it failed on
    reason = io_reason(exc)
    if reason is None:
        return None
    if isinstance(exc, OSError) and (in_the_way := _file_in_the_way_of(exc)) is not None:
        return f"cannot write {target}: {in_the_way}"
    filename = str(getattr(exc, "filename", None) or "")
    named = filename in ("", target) or target.endswith(f" {filename}") or filename.startswith(f"{target}/")
    if not named:  # the operating system names another file than the one the caller writes
        reason = f"{reason} ({filename})"
    return f"cannot write {target}: {reason}"


def _file_in_the_way_of(exc: OSError) -> str | None:
    """"<path> is a file, not a directory" for a mkdir or open under a file ("File exists", "Not a directory")."""
    if exc.errno not in (errno.EEXIST, errno.ENOTDIR) or not exc.filename:
        return None
    in_the_way = _file_in_the_way(str(exc.filename))
    return None if in_the_way is None else f"{in_the_way} is a file, not a directory"


def _file_in_the_way(path: str) -> str | None:
    """The nearest existing ``path`` or ancestor of it, if that is something other than a directory."""
    current = os.path.abspath(path)
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return None if os.path.isdir(current) else current
