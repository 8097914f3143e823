"""The one grammar of storage URLs, for the artefact store, the tables root and everything else.

* a plain path, or ``file://PATH`` (``file:///abs`` or ``file://relative``): a local directory;
* ``s3://BUCKET`` or ``s3://BUCKET/PREFIX``: S3 (or any S3-compatible endpoint).

Anything else (another scheme, an empty string, an S3 URL without a bucket) is refused here, once,
with the same message wherever the URL came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from feature_platform.errors import StoreError
from feature_platform.storage.keys import check_key

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
SUPPORTED = "a local path, file://PATH or s3://BUCKET/PREFIX"


@dataclass(frozen=True)
class LocalURL:
    path: str


@dataclass(frozen=True)
class S3URL:
    bucket: str
    prefix: str  # no leading or trailing "/"; "" for the bucket's root

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


StorageURL = LocalURL | S3URL


def parse_storage_url(url: str, what: str = "storage") -> StorageURL:
    """Parse ``url`` (see the module docstring); :class:`StoreError` for anything unsupported.

    ``what`` names the URL in messages ("artefact store", "tables root", …).
    """
    if not isinstance(url, str) or not url.strip():
        msg = f"empty {what} URL {url!r}; use {SUPPORTED}"
        raise StoreError(msg)
    match = _SCHEME_RE.match(url)
    if match is None:
        return LocalURL(url)
    scheme = match.group(1).lower()
    rest = url[match.end() :]
    if scheme == "file":
        if not rest:
            msg = f"{what} URL {url!r} names no path; use {SUPPORTED}"
            raise StoreError(msg)
        return LocalURL(rest)
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            msg = f"{what} URL {url!r} names no bucket; use s3://BUCKET/PREFIX"
            raise StoreError(msg)
        prefix = prefix.strip("/")
        if prefix:
            try:
                check_key(prefix)
            except StoreError as exc:
                msg = f"invalid {what} URL {url!r}: {exc}"
                raise StoreError(msg) from exc
        return S3URL(bucket, prefix)
    msg = f"unsupported {what} URL {url!r} (scheme {scheme!r}); use {SUPPORTED}"
    raise StoreError(msg)
