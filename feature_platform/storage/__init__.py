"""Object storage: the one layer every byte the platform keeps goes through.

The artefact store (immutable objects, pointers, audit log), the batch tables and their manifests,
the watermark and the online load all read and write through :class:`ObjectStorage`, rooted at a URL
parsed by :func:`parse_storage_url` and opened by :func:`open_storage`. Two backends:
:class:`LocalObjectStorage` (a directory; the embedded default) and :class:`S3ObjectStorage` (any S3
API, real or S3-compatible on loopback in tests). What a writer killed while staging leaves behind is swept by
the next run under one rule, :func:`sweep_stale` (:mod:`feature_platform.storage.sweep`). Nothing here knows
about artefacts, tables or Dagster.
"""

from feature_platform.storage.base import FolderListing, ObjectStorage, StagedFile
from feature_platform.storage.factory import S3Connection, open_storage, s3_client_factory
from feature_platform.storage.keys import check_key, check_prefix
from feature_platform.storage.local import LocalObjectStorage
from feature_platform.storage.s3 import S3ObjectStorage
from feature_platform.storage.sweep import STALE_STAGING_SECONDS, staged_names_of, sweep_stale, sweep_stale_staged
from feature_platform.storage.urls import S3URL, LocalURL, StorageURL, parse_storage_url

__all__ = [
    "S3URL",
    "STALE_STAGING_SECONDS",
    "FolderListing",
    "LocalObjectStorage",
    "LocalURL",
    "ObjectStorage",
    "S3Connection",
    "S3ObjectStorage",
    "StagedFile",
    "StorageURL",
    "check_key",
    "check_prefix",
    "open_storage",
    "parse_storage_url",
    "s3_client_factory",
    "staged_names_of",
    "sweep_stale",
    "sweep_stale_staged",
]
