"""One exception hierarchy for the whole platform.

Every error a user can meet derives from :class:`FeaturePlatformError`, so the CLI can print it as a
message instead of a traceback, and callers can catch a precise subclass.
"""

from __future__ import annotations

import re


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


class ArtefactNotFoundError(StoreError):
    """No artefact with that hash, or no pointer for that environment and feature."""


class PointerConflictError(StoreError):
    """A compare-and-set on a pointer lost against a concurrent writer more often than allowed."""


class PublishRefusedError(FeaturePlatformError):
    """Publishing would make a breaking change to a production feature in place."""


class SourceDataError(FeaturePlatformError):
    """Raw data does not match what the artefact expects (a missing column, a missing partition)."""


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
