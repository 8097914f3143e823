"""Open object storage from a URL, and the one way an S3 client is built.

:func:`s3_client_factory` builds boto3 clients exactly as dagster-aws's ``S3Resource.get_client`` does
(default credential chain, ``endpoint_url`` for S3-compatible servers, standard retries, 5 attempts),
without importing Dagster: runtimes below the orchestrator use it, and Dagster runs hand their
``S3Resource.get_client`` down instead (``client_factory=``), so both paths configure S3 the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from feature_platform.errors import StoreError
from feature_platform.settings import endpoint_url_problem
from feature_platform.storage.base import ObjectStorage
from feature_platform.storage.local import LocalObjectStorage
from feature_platform.storage.s3 import S3ObjectStorage
from feature_platform.storage.urls import S3URL, parse_storage_url

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

S3_MAX_ATTEMPTS = 5
"""dagster-aws's ``S3Resource`` default."""


@dataclass(frozen=True)
class S3Connection:
    """How to reach S3: the endpoint (None: AWS) and the region. Credentials come from the default chain."""

    endpoint_url: str | None = None
    region_name: str | None = None

    def __post_init__(self) -> None:
        if self.endpoint_url is not None and (problem := endpoint_url_problem(self.endpoint_url)):
            msg = f"S3 endpoint {self.endpoint_url!r} {problem}"
            raise StoreError(msg)

    @classmethod
    def from_polars_options(cls, options: Mapping[str, str] | None) -> S3Connection:
        """The connection polars ``storage_options`` describe (the inverse of :meth:`polars_options`), so
        code handed only polars options still reaches S3 through this layer's one client factory."""
        options = options or {}

        def option(*names: str) -> str | None:
            return next((options[name] for name in names if options.get(name)), None)

        return cls(
            endpoint_url=option("aws_endpoint_url", "endpoint_url", "aws_endpoint"),
            region_name=option("aws_region", "region", "aws_default_region"),
        )

    def polars_options(self) -> dict[str, str] | None:
        """The same connection as polars/object_store ``storage_options`` (for scanning tables)."""
        options: dict[str, str] = {}
        if self.endpoint_url:
            options["aws_endpoint_url"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                options["aws_allow_http"] = "true"
        if self.region_name:
            options["aws_region"] = self.region_name
        elif options:
            options["aws_region"] = "us-east-1"  # object_store needs one; S3-compatible servers ignore it
        return options or None


def s3_client_factory(connection: S3Connection) -> Callable[[], S3Client]:
    """A zero-argument callable building the client (deferred: building one may resolve credentials)."""

    def build() -> S3Client:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        client: S3Client = session.client(
            "s3",
            endpoint_url=connection.endpoint_url,
            region_name=connection.region_name,
            config=Config(retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"}),
        )
        return client

    return build


def open_storage(
    url: str,
    connection: S3Connection | None = None,
    *,
    client_factory: Callable[[], S3Client] | None = None,
    what: str = "storage",
) -> ObjectStorage:
    """The storage rooted at ``url`` (see :mod:`feature_platform.storage.urls`); does no I/O.

    For ``s3://`` URLs the client comes from ``client_factory`` when given (a Dagster ``S3Resource``),
    otherwise from :func:`s3_client_factory` with ``connection``.
    """
    parsed = parse_storage_url(url, what)
    if isinstance(parsed, S3URL):
        factory = client_factory or s3_client_factory(connection or S3Connection())
        return S3ObjectStorage(factory, parsed.bucket, parsed.prefix)
    return LocalObjectStorage(parsed.path)
