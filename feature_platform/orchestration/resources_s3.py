"""The artefact store on S3, through dagster-aws's ``S3Resource`` (imported only when the store is on S3)."""

from dagster_aws.s3 import S3Resource
from pydantic import Field

from feature_platform.orchestration.resources import ArtefactStoreResource
from feature_platform.store import ArtefactStore, open_store


class S3ArtefactStoreResource(ArtefactStoreResource):
    """``s3://BUCKET/PREFIX`` through the client of the nested ``S3Resource``.

    Credentials, endpoint (S3-compatible servers) and retries are configured once, the Dagster way,
    and shared with any other asset that uses S3.
    """

    s3: S3Resource = Field(description="S3 client settings (endpoint, region, credentials).")

    def get_store(self) -> ArtefactStore:
        return open_store(self.url, client_factory=self.s3.get_client)
