"""The artefact store: immutable, content-addressed artefacts and per-environment pointers.

Open one with :func:`open_store` (a local path, ``file://PATH`` or ``s3://BUCKET/PREFIX``). Every
read verifies the artefact's hash; every pointer change is a compare-and-set recorded in an
append-only audit log (see :mod:`feature_platform.store.store` for the protocol). The bytes live in
:mod:`feature_platform.storage`, the platform's one object-storage layer.
"""

from feature_platform.store.audit import AuditEntry
from feature_platform.store.factory import open_store, open_store_from_settings
from feature_platform.store.store import DEFAULT_MAX_ATTEMPTS, UNSET, ArtefactStore, Unset

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "UNSET",
    "ArtefactStore",
    "AuditEntry",
    "Unset",
    "open_store",
    "open_store_from_settings",
]
