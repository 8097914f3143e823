"""One exception hierarchy for the whole platform.

Every error a user can meet derives from :class:`FeaturePlatformError`, so the CLI can print it as a
message instead of a traceback, and callers can catch a precise subclass.
"""

from __future__ import annotations


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
