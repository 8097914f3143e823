"""Dagster resources: where the configs, the artefact store, the data and the release target are.

Each is a ``ConfigurableResource`` whose defaults come from the ``FP_*`` environment variables (see
:class:`~feature_platform.settings.PlatformSettings`) when the definitions are built, so the UI shows
the values in use and a run can override them in its run config. Constructing one does no I/O: the
store, the S3 client and the table locations are built on first use inside a run, sensor or check.
"""

import dataclasses
from pathlib import Path

import dagster as dg
from pydantic import Field

from feature_platform.compiler import CompileResult, compile_configs
from feature_platform.release.publisher import default_actor
from feature_platform.runtimes.batch import TableLocations
from feature_platform.settings import PlatformSettings
from feature_platform.storage import S3URL, parse_storage_url
from feature_platform.store import ArtefactStore, open_store


class FeatureConfigsResource(dg.ConfigurableResource):
    """The config package the graph is generated from and every compile reads."""

    configs_dir: str = Field(description="Config package directory (FP_CONFIGS_DIR).")

    def compile(self) -> CompileResult:
        """Discover, validate and compile the whole package in memory (cross-references need all of it)."""
        return compile_configs(Path(self.configs_dir))


class ArtefactStoreResource(dg.ConfigurableResource):
    """The artefact store at ``url``: a local directory (``s3://`` URLs use :class:`S3ArtefactStoreResource`)."""

    url: str = Field(description="Store URL (FP_ARTEFACT_STORE): a path, file://PATH or s3://BUCKET/PREFIX.")

    def get_store(self) -> ArtefactStore:
        return open_store(self.url)


class ReleaseTargetResource(dg.ConfigurableResource):
    """Which environment the publish assets release to, and who the audit log says did it."""

    env: str = Field(description="Environment to publish to and index from (FP_ENV).")
    actor: str | None = Field(default=None, description="Actor for the audit log (FP_ACTOR); default: the OS user.")

    def who(self, run_id: str) -> str:
        return f"{self.actor or default_actor()} (dagster run {run_id[:8]})"


class DataLocationsResource(dg.ConfigurableResource):
    """Where raw sources are read from and indexed tables are written to."""

    raw_root: str = Field(description="Root of the raw sources (FP_RAW_DATA_ROOT, default <data_dir>/raw).")
    tables_root: str = Field(description="Root of the indexed tables (FP_TABLES_ROOT, default <data_dir>/tables).")
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint for s3:// roots.")
    s3_region: str | None = Field(default=None, description="S3 region for s3:// roots.")

    def table_locations(self) -> TableLocations:
        """The locations, with tables on S3 written through a client built by dagster-aws's ``S3Resource``."""
        settings = PlatformSettings(
            raw_data_root=self.raw_root, tables_root=self.tables_root,
            s3_endpoint_url=self.s3_endpoint_url, s3_region=self.s3_region,
        )
        locations = TableLocations.from_settings(settings)
        if not isinstance(parse_storage_url(self.tables_root, "tables root"), S3URL):
            return locations
        from dagster_aws.s3 import S3Resource  # only for S3 roots: importing it costs a second

        s3 = S3Resource(endpoint_url=self.s3_endpoint_url, region_name=self.s3_region)
        return dataclasses.replace(locations, s3_client_factory=s3.get_client)


def build_resources(settings: PlatformSettings) -> dict[str, dg.ConfigurableResource]:
    """The resources of the code location, with the settings' values as their configuration."""
    return {
        "feature_configs": FeatureConfigsResource(configs_dir=str(settings.configs_dir)),
        "artefact_store": artefact_store_resource(settings),
        "release_target": ReleaseTargetResource(env=settings.env, actor=settings.actor),
        "data_locations": DataLocationsResource(
            raw_root=settings.raw_root, tables_root=settings.tables_url,
            s3_endpoint_url=settings.s3_endpoint_url, s3_region=settings.s3_region,
        ),
    }


def artefact_store_resource(settings: PlatformSettings) -> ArtefactStoreResource:
    """The store resource for the configured URL; dagster-aws is imported only for an S3 store.

    (Importing dagster-aws costs over a second, which every code-location load would pay.)
    """
    url = settings.artefact_store_url
    if not isinstance(parse_storage_url(url, "artefact store"), S3URL):
        return ArtefactStoreResource(url=url)
    from dagster_aws.s3 import S3Resource

    from feature_platform.orchestration.resources_s3 import S3ArtefactStoreResource

    s3 = S3Resource(endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
    return S3ArtefactStoreResource(url=url, s3=s3)
