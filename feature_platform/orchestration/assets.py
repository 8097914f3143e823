"""The asset graph, generated from the catalogue: one group per sequence feature, plus shared sources.

Per feature ``F`` (group ``F``)::

    F/compiled ─▶ F/validated ─▶ F/published ─▶ F/events, F/rejects, F/snapshots ─▶ F/watermark
                                                  ▲
    raw/<source> (group raw_sources, external) ───┘

Owners, description, lifecycle tag and ``code_version`` (the feature's ``config_hash``) come from the
config; the batch assets carry the feature's freshness policy and its daily partitions. Nothing here
does any work: the bodies live in :mod:`.release` and :mod:`.indexing`, the gates in :mod:`.checks`.
"""


from collections.abc import Iterator
from typing import Any

import dagster as dg

from feature_platform.compiler.owners import as_dagster_owner
from feature_platform.orchestration import metadata as md
from feature_platform.orchestration.automation import certify_condition, daily_condition
from feature_platform.orchestration.catalogue import FeatureInfo
from feature_platform.orchestration.checks import artefact_integrity_check, data_contract_checks
from feature_platform.orchestration.freshness import batch_freshness_policy
from feature_platform.orchestration.indexing import IndexConfig, certify_partition, index_partition
from feature_platform.orchestration.keys import (
    CONFIG_VALID,
    CONFIGS_GROUP,
    CONFIGS_KEY,
    CONFIGS_VALID,
    RELEASE_ALLOWED,
    FeatureKeys,
    feature_keys,
    raw_key,
)
from feature_platform.orchestration.online import online_assets
from feature_platform.orchestration.release import compile_feature, publish_feature, validate_feature
from feature_platform.orchestration.resources import (
    ArtefactStoreResource,
    DataLocationsResource,
    FeatureConfigsResource,
    ReleaseTargetResource,
)

RELEASE_KINDS = {"python", "json"}
BATCH_KINDS = {"python", "polars", "parquet"}


def owners_for_dagster(owners: tuple[str, ...]) -> list[str]:
    """Config owners are team names or emails; Dagster wants emails or ``team:<name>``."""
    return [as_dagster_owner(o) for o in owners]


def feature_tags(info: FeatureInfo) -> dict[str, str]:
    """Asset tags: the lifecycle, plus the config's own tags where Dagster can hold them."""
    tags = {"lifecycle": info.lifecycle}
    for key, value in info.tags.items():
        if _valid_tag(key) and _valid_tag(value, allow_empty=True):
            tags.setdefault(key, value)
    return tags


def configs_asset(configs_dir: str) -> dg.AssetsDefinition:
    """The config package as a whole: validates it and reports every issue (its check fails if any)."""

    @dg.asset(
        key=CONFIGS_KEY, group_name=CONFIGS_GROUP, kinds={"python"},
        description=f"The config package at {configs_dir}: discovered, validated and compiled as a whole. "
        "Its check lists every issue with file:line; the per-feature groups come from this compile.",
        check_specs=[dg.AssetCheckSpec(CONFIGS_VALID, asset=CONFIGS_KEY, blocking=True,
                                       description="Every config validates and compiles (blocking: the run "
                                       "that finds an issue fails).")],
    )
    def feature_configs(feature_configs: FeatureConfigsResource) -> dg.MaterializeResult:
        result = feature_configs.compile()
        meta: dict[str, Any] = {"features": len(result.artefacts), "issue_count": len(result.issues)}
        if result.manifest is not None:
            meta["features_table"] = md.counts_table(
                {fid: len(s.artefact.feature.fields) for fid, s in result.artefacts.items()},
                key="feature", value="fields",
            )
        check_meta: dict[str, Any] = {"issue_count": len(result.issues)}
        if result.issues:
            meta["issues"] = check_meta["issues"] = md.issues_markdown(result.issues)
            check_meta["first_issue"] = result.issues[0].render()
        return dg.MaterializeResult(
            metadata=meta,
            check_results=[dg.AssetCheckResult(check_name=CONFIGS_VALID, passed=result.ok,
                                               severity=dg.AssetCheckSeverity.ERROR, metadata=check_meta)],
        )

    return feature_configs


def feature_definitions(
    info: FeatureInfo, partitions_def: dg.PartitionsDefinition
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """The assets and stand-alone checks of one feature's group."""
    keys = feature_keys(info.feature_id)
    assets = [*_release_assets(info, keys), *_batch_assets(info, keys, partitions_def),
              *online_assets(info, keys, partitions_def, _common(info))]
    checks = [artefact_integrity_check(keys), *data_contract_checks(keys, partitions_def)]
    return assets, checks


def _common(info: FeatureInfo) -> dict[str, Any]:
    return {
        "group_name": info.group,
        "owners": owners_for_dagster(info.owners),
        "tags": feature_tags(info),
        "code_version": info.config_hash,
    }


def _release_assets(info: FeatureInfo, keys: FeatureKeys) -> list[dg.AssetsDefinition]:
    fid = info.feature_id
    common = _common(info)

    @dg.asset(
        key=keys.compiled, kinds=RELEASE_KINDS, **common,
        description=f"{fid} compiled from the configs and stored as a candidate artefact (not live). "
        f"{info.description}",
        check_specs=[dg.AssetCheckSpec(CONFIG_VALID, asset=keys.compiled, blocking=True,
                                       description="The configs validate and define this feature.")],
    )
    def compiled(
        context: dg.AssetExecutionContext, feature_configs: FeatureConfigsResource,
        artefact_store: ArtefactStoreResource,
    ) -> dg.MaterializeResult:
        return compile_feature(context, keys, feature_configs, artefact_store)

    @dg.asset(
        key=keys.validated, deps=[keys.compiled], kinds=RELEASE_KINDS, **common,
        description=f"The candidate of {fid}, re-verified (hash, format, JSON Schema) and planned against "
        "the target environment.",
        check_specs=[dg.AssetCheckSpec(RELEASE_ALLOWED, asset=keys.validated, blocking=True,
                                       description="Valid against the JSON Schema and not a breaking "
                                       "change to a production feature.")],
    )
    def validated(
        context: dg.AssetExecutionContext, artefact_store: ArtefactStoreResource,
        release_target: ReleaseTargetResource,
    ) -> dg.MaterializeResult:
        return validate_feature(context, keys, artefact_store, release_target)

    @dg.asset(
        key=keys.published, deps=[keys.validated], kinds=RELEASE_KINDS, **common,
        description=f"{fid} live in the target environment: the pointer moved by compare-and-set, audited.",
    )
    def published(
        context: dg.AssetExecutionContext, feature_configs: FeatureConfigsResource,
        artefact_store: ArtefactStoreResource, release_target: ReleaseTargetResource,
        data_locations: DataLocationsResource,
    ) -> dg.MaterializeResult:
        return publish_feature(context, keys, feature_configs, artefact_store, release_target, data_locations)

    return [compiled, validated, published]


def _batch_assets(
    info: FeatureInfo, keys: FeatureKeys, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    common = _common(info)
    policy = batch_freshness_policy(info.freshness)
    raw = [raw_key(s) for s in info.sources]
    specs = [
        dg.AssetSpec(
            keys.events, deps=[keys.published, *raw], kinds=BATCH_KINDS, freshness_policy=policy,
            automation_condition=daily_condition(),  # the whole index step runs (it cannot be subset)
            description=f"Enriched, normalised events of {info.feature_id}, one Parquet partition per day.",
            metadata=_column_schema(info, position=False), **common,
        ),
        dg.AssetSpec(
            keys.rejects, deps=[keys.published, *raw], kinds=BATCH_KINDS,
            description="Raw rows the event types selected but could not use, with the reason.", **common,
        ),
        dg.AssetSpec(
            keys.snapshots, deps=[keys.events, previous_day(keys.snapshots)], kinds=BATCH_KINDS,
            freshness_policy=policy,
            description=f"Each user's last {info.max_length} events as of the end of the day (long form: "
            "user_id, position 0 = most recent, fields).", metadata=_column_schema(info, position=True), **common,
        ),
    ]

    @dg.multi_asset(
        specs=specs, name=f"{info.group}__index", partitions_def=partitions_def,
        can_subset=False,
        description=f"Index one day of {info.feature_id}: events, rejects and the day's snapshot.",
    )
    def index(
        context: dg.AssetExecutionContext, config: IndexConfig, artefact_store: ArtefactStoreResource,
        release_target: ReleaseTargetResource, data_locations: DataLocationsResource,
    ) -> Iterator[dg.MaterializeResult]:
        yield from index_partition(context, keys, config, artefact_store, release_target, data_locations)

    return [index, _watermark_asset(info, keys, partitions_def, policy, common)]


def _watermark_asset(
    info: FeatureInfo, keys: FeatureKeys, partitions_def: dg.PartitionsDefinition, policy: dg.FreshnessPolicy,
    common: dict[str, Any],
) -> dg.AssetsDefinition:
    @dg.asset(
        key=keys.watermark, deps=[keys.events, keys.snapshots, previous_day(keys.watermark)], kinds=BATCH_KINDS,
        partitions_def=partitions_def, freshness_policy=policy, automation_condition=certify_condition(),
        description="Days whose events and snapshot passed their data contracts (the latest check result of "
        "the day, whichever run it came from) and whose previous day is certified: serving and training "
        "read the latest certified day here.", **common,
    )
    def watermark(context: dg.AssetExecutionContext, data_locations: DataLocationsResource) -> dg.MaterializeResult:
        return certify_partition(context, keys, data_locations)

    return watermark


def previous_day(key: dg.AssetKey) -> dg.AssetDep:
    """Day D of ``key`` builds on day D-1: a backfill materialises the days of one feature in order."""
    return dg.AssetDep(key, partition_mapping=dg.TimeWindowPartitionMapping(
        start_offset=-1, end_offset=-1
    ))


def _column_schema(info: FeatureInfo, *, position: bool) -> dict[str, Any]:
    """The table's columns, shown on the asset page (known only when the configs compiled)."""
    if info.artefact is None:
        return {}
    key = info.artefact.feature.entity_key
    extra = [(key.name, str(key.dtype), "entity key")]
    if position:
        extra.append(("position", "int32", "0 = the most recent event"))
    return {"dagster/column_schema": md.column_schema(info.artefact.feature.fields, extra=extra)}


def _valid_tag(text: str, *, allow_empty: bool = False) -> bool:
    return (allow_empty or bool(text)) and len(text) <= 63 and all(c.isalnum() or c in "_.-" for c in text)
