"""``F/online``: load each certified day's snapshot into the online store, and check what it serves.

Daily partitioned, downstream of ``F/watermark`` (an uncertified day is refused by the loader). The
store is ``FP_ONLINE_STORE`` (default the SQLite file under ``FP_DATA_DIR``). The ``online_parity``
check samples users and compares what the store serves with the snapshot table; above
``MISMATCH_THRESHOLD`` it fails with ERROR severity.
"""


import warnings
from typing import Any

import dagster as dg

from feature_platform.errors import FeaturePlatformError
from feature_platform.orchestration.catalogue import FeatureInfo
from feature_platform.orchestration.keys import FeatureKeys
from feature_platform.orchestration.partitions import BACKFILL_POLICY, partition_day
from feature_platform.orchestration.release import artefact_for
from feature_platform.orchestration.resources import (
    ArtefactStoreResource,
    DataLocationsResource,
    ReleaseTargetResource,
)
from feature_platform.runtimes.batch import read_snapshot
from feature_platform.runtimes.online import (
    load_day,
    open_online_store_from_settings,
    require_certified,
    sample_parity,
)
from feature_platform.settings import PlatformSettings

ONLINE_PARITY = "online_parity"
MISMATCH_THRESHOLD = 0.0
"""Any served sequence that differs from its snapshot is an error: the load is exact by construction."""
SAMPLE_USERS = 200


def online_key(keys: FeatureKeys) -> dg.AssetKey:
    return dg.AssetKey([*keys.watermark.path[:-1], "online"])


def online_assets(info: FeatureInfo, keys: FeatureKeys, partitions_def: dg.PartitionsDefinition,
                  common: dict[str, Any]) -> list[dg.AssetsDefinition]:
    key = online_key(keys)
    with warnings.catch_warnings():  # backfill_policy on a single asset is "beta" in 1.13; it works
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        return [_online_asset(info, keys, key, partitions_def, common)]


def _online_asset(info: FeatureInfo, keys: FeatureKeys, key: dg.AssetKey, partitions_def: dg.PartitionsDefinition,
                  common: dict[str, Any]) -> dg.AssetsDefinition:
    @dg.asset(
        key=key, deps=[keys.watermark], kinds={"redis", "sqlite"}, partitions_def=partitions_def,
        backfill_policy=BACKFILL_POLICY,
        description=f"The certified snapshot of the day of {info.feature_id}, loaded into the online store "
        "(per user atomic, never regressing; users gone from the snapshot removed).",
        check_specs=[dg.AssetCheckSpec(ONLINE_PARITY, asset=key, blocking=True, description="Sampled users: what "
                                       "the store serves equals the snapshot table.")],
        **common,
    )
    def online(
        context: dg.AssetExecutionContext, artefact_store: ArtefactStoreResource,
        release_target: ReleaseTargetResource, data_locations: DataLocationsResource,
    ) -> dg.MaterializeResult:
        day = partition_day(context)
        artefact = artefact_for(artefact_store, release_target.env, keys.feature_id)
        locations = data_locations.table_locations()
        try:
            require_certified(keys.feature_id, day, locations)  # not indexed, or indexed but not certified
        except FeaturePlatformError as exc:
            raise dg.Failure(description=f"online load of {keys.feature_id} {day} refused: {exc}") from exc
        store = open_online_store_from_settings(PlatformSettings())
        try:
            result = load_day(artefact, day, locations, store)
            report = sample_parity(artefact, day, read_snapshot(keys.feature_id, day, locations), store,
                                   sample=SAMPLE_USERS)
        except FeaturePlatformError as exc:
            raise dg.Failure(description=f"online load of {keys.feature_id} {day} failed: {exc}") from exc
        finally:
            store.close()
        return dg.MaterializeResult(
            metadata={"day": day.isoformat(), "store": store.describe(), "users": result.users,
                      "events": result.events, "written": result.written, "kept_newer": result.kept_newer,
                      "removed": result.removed, "seconds": round(result.seconds, 3)},
            check_results=[dg.AssetCheckResult(
                check_name=ONLINE_PARITY, passed=report.mismatch_rate <= MISMATCH_THRESHOLD,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"sampled": report.sampled, "mismatched": report.mismatched,
                          "mismatch_rate": report.mismatch_rate, "examples": ", ".join(report.examples) or "none"},
            )],
        )

    return online
