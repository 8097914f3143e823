"""Open the artefact store from a URL, through the one storage layer.

Runtimes, the CLI and Dagster assets all call :func:`open_store` (or :func:`open_store_from_settings`),
so a store URL means the same thing everywhere: :func:`feature_platform.storage.parse_storage_url`'s
grammar (a path, ``file://PATH`` or ``s3://BUCKET/PREFIX``). Opening does no I/O: a local directory
is created on first write and the S3 client is built on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from feature_platform.settings import PlatformSettings
from feature_platform.storage import S3Connection, open_storage
from feature_platform.store.store import ArtefactStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def open_store(
    url: str,
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    client_factory: Callable[[], S3Client] | None = None,
) -> ArtefactStore:
    """Open the artefact store at ``url``; ``client_factory`` (a Dagster ``S3Resource.get_client``) wins."""
    connection = S3Connection(endpoint_url=endpoint_url, region_name=region_name)
    return ArtefactStore(open_storage(url, connection, client_factory=client_factory, what="artefact store"))


def open_store_from_settings(settings: PlatformSettings) -> ArtefactStore:
    """Open the store the platform settings (``FP_ARTEFACT_STORE``, ``FP_S3_*``) point at."""
    return open_store(
        settings.artefact_store_url,
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
    )
