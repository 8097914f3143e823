"""Build the code location's ``Definitions`` from the settings: compile in memory, generate the graph.

This is the only thing ``feature_platform.definitions`` calls at import. It reads the ``FP_*``
settings, discovers and compiles the config package in memory (tens of milliseconds for a few
features, well under a second for hundreds) and generates one asset group per feature. It reads no
data, opens no store and writes nothing. A config package that does not compile still yields a
loadable code location (see :mod:`.catalogue`); only a missing package directory is an error.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from feature_platform.compiler import compile_configs
from feature_platform.orchestration.assets import configs_asset, feature_definitions
from feature_platform.orchestration.automation import automation_sensor, raw_source_assets
from feature_platform.orchestration.catalogue import Catalogue, catalogue_from_compile
from feature_platform.orchestration.executors import default_executor
from feature_platform.orchestration.jobs import feature_jobs
from feature_platform.orchestration.partitions import daily_partitions
from feature_platform.orchestration.resources import build_resources
from feature_platform.orchestration.sensors import config_sensor
from feature_platform.orchestration.settings import OrchestrationSettings
from feature_platform.orchestration.stream import with_stream
from feature_platform.settings import PlatformSettings


def load_catalogue(configs_dir: Path) -> Catalogue:
    """Compile the config package in memory and keep what the graph needs."""
    return catalogue_from_compile(compile_configs(configs_dir))


def build_definitions(
    settings: PlatformSettings | None = None, orchestration: OrchestrationSettings | None = None
) -> dg.Definitions:
    """The whole code location: per-feature groups and jobs, observable raw sources, the configs asset, the
    config and automation sensors, resources."""
    settings = _absolute(settings or PlatformSettings())
    orchestration = orchestration or OrchestrationSettings()
    catalogue = load_catalogue(settings.configs_dir)
    partitions_def = daily_partitions(orchestration.partitions_start)
    assets: list[dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset] = [configs_asset(str(settings.configs_dir))]
    assets += raw_source_assets(catalogue, partitions_def)
    checks: list[dg.AssetChecksDefinition] = []
    jobs: list[dg.UnresolvedAssetJobDefinition] = []
    for info in catalogue.features.values():
        feature_assets, feature_checks = with_stream(info, *feature_definitions(info, partitions_def))
        assets += feature_assets
        checks += feature_checks
        jobs += feature_jobs(info)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        sensors=[config_sensor(catalogue, orchestration), automation_sensor()],
        resources=build_resources(settings),
        executor=default_executor(),
        metadata={"configs_valid": catalogue.valid, "features": len(catalogue.features)},
    )


def _absolute(settings: PlatformSettings) -> PlatformSettings:
    """Pin relative local paths to the directory the code location was loaded from.

    Runs and sensors may execute in other working directories (a run worker, a code server); the
    resolved paths are also what the UI shows in the resource configuration.
    """
    updates: dict[str, object] = {
        "data_dir": settings.data_dir.resolve(), "configs_dir": settings.configs_dir.resolve(),
    }
    for name in ("artefact_store", "raw_data_root", "tables_root"):
        value = getattr(settings, name)
        if value is not None and "://" not in value:
            updates[name] = str(Path(value).resolve())
    return settings.model_copy(update=updates)
