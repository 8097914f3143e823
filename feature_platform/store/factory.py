"""Open a store from a URL: the one place that knows which backend a URL means.

Runtimes, the CLI and Dagster assets all call :func:`open_store` (or
:func:`open_store_from_settings`), so a store URL means the same thing everywhere. Opening does no
I/O: a local directory is created on first write and the S3 client is built on first use.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from feature_platform.errors import StoreError
from feature_platform.settings import PlatformSettings
from feature_platform.store.blobs import LocalBlobBackend, S3BlobBackend
from feature_platform.store.store import ArtefactStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_s3 import S3Client

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SUPPORTED = "a local path, file://PATH or s3://BUCKET/PREFIX"


def open_store(url: str, *, endpoint_url: str | None = None, region_name: str | None = None) -> ArtefactStore:
    """Open the artefact store at ``url``.

    * a plain path or ``file://PATH`` (``file:///abs`` or ``file://relative``): a local directory;
    * ``s3://BUCKET`` or ``s3://BUCKET/PREFIX``: S3, through a client built exactly as
      ``dagster_aws.s3.S3Resource`` builds it, so the store and Dagster assets share credentials,
      retry settings and ``endpoint_url`` (for S3-compatible servers).
    """
    if not isinstance(url, str) or not url.strip():
        msg = f"empty artefact store URL {url!r}; use {_SUPPORTED}"
        raise StoreError(msg)
    match = _SCHEME_RE.match(url)
    if match is None:
        return ArtefactStore(LocalBlobBackend(url))
    scheme = match.group(1).lower()
    rest = url[match.end() :]
    if scheme == "file":
        if not rest:
            msg = f"artefact store URL {url!r} names no path; use {_SUPPORTED}"
            raise StoreError(msg)
        return ArtefactStore(LocalBlobBackend(rest))
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            msg = f"artefact store URL {url!r} names no bucket; use s3://BUCKET/PREFIX"
            raise StoreError(msg)
        try:
            backend = S3BlobBackend(_s3_client_factory(endpoint_url, region_name), bucket, prefix)
        except StoreError as exc:
            msg = f"invalid artefact store URL {url!r}: {exc}"
            raise StoreError(msg) from exc
        return ArtefactStore(backend)
    msg = f"unsupported artefact store URL {url!r} (scheme {scheme!r}); use {_SUPPORTED}"
    raise StoreError(msg)


def open_store_from_settings(settings: PlatformSettings) -> ArtefactStore:
    """Open the store the platform settings (``FP_ARTEFACT_STORE``, ``FP_S3_*``) point at."""
    return open_store(
        settings.artefact_store_url,
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
    )


def _s3_client_factory(endpoint_url: str | None, region_name: str | None) -> Callable[[], S3Client]:
    """A callable building the client the way Dagster's S3Resource does, deferred to first use.

    dagster_aws (and with it dagster) is imported only here, so processes that only ever read a
    local store do not pay for importing it.
    """
    from dagster_aws.s3 import S3Resource

    resource = S3Resource(endpoint_url=endpoint_url, region_name=region_name)

    def build() -> S3Client:
        client: S3Client = resource.get_client()
        return client

    return build
