"""The gates that stand on their own: artefact integrity after publishing, data contracts per indexed day.

All are blocking with ERROR severity, so in a run a failure stops everything downstream (published →
batch index; events/snapshots → watermark). They are separate ``@asset_check``s rather than part of
the asset's own step so they can be re-run alone against what is stored now — "is the live artefact
still intact?", "does yesterday's partition still satisfy its contract?" — without rebuilding it.
(``config_valid`` and ``release_allowed`` are evaluated inside the compile/validate steps instead,
because they judge the step's own output; see :mod:`feature_platform.orchestration.release`.)

The data contract checks are partitioned like the assets they guard (a Dagster preview feature in
1.13, hence the silenced ``PreviewWarning``), so each day has its own check status.
"""


import warnings
from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from feature_platform.artefact import Artefact
from feature_platform.artefact.schema import json_schema_errors
from feature_platform.errors import (
    CorruptArtefactError,
    StaleSnapshotError,
    StoreError,
    UnsupportedFormatVersionError,
)
from feature_platform.orchestration import metadata as md
from feature_platform.orchestration.automation import check_condition
from feature_platform.orchestration.keys import ARTEFACT_INTEGRITY, DATA_CONTRACT, FeatureKeys
from feature_platform.orchestration.partitions import partition_day
from feature_platform.orchestration.resources import (
    ArtefactStoreResource,
    DataLocationsResource,
    ReleaseTargetResource,
)
from feature_platform.runtimes.batch import read_events, read_snapshot
from feature_platform.runtimes.batch.contracts import (
    ContractReport,
    check_frame,
    events_contract,
    snapshot_contract,
    stale_report,
)

ARTEFACT_HASH = "artefact_hash"


def artefact_integrity_check(keys: FeatureKeys) -> dg.AssetChecksDefinition:
    """Blocks batch indexing unless the live artefact loads, verifies and matches the JSON Schema."""

    @dg.asset_check(
        asset=keys.published, name=ARTEFACT_INTEGRITY, blocking=True,
        description="The artefact live in the target environment has a valid pointer, hashes to its key, "
        "uses a format version this runtime reads and validates against the exported JSON Schema.",
    )
    def _integrity(
        artefact_store: ArtefactStoreResource, release_target: ReleaseTargetResource
    ) -> dg.AssetCheckResult:
        return integrity_result(artefact_store, release_target.env, keys.feature_id)

    return _integrity


def integrity_result(artefact_store: ArtefactStoreResource, env: str, feature_id: str) -> dg.AssetCheckResult:
    store = artefact_store.get_store()
    meta: dict[str, Any] = {"env": env, "store": store.describe()}
    failures: dict[str, str] = {}
    try:
        entry = store.current(env, feature_id)
        if entry is None:
            failures["live_pointer"] = f"{feature_id} has no live version in {env!r}"
        else:
            meta.update(live_hash=entry.to_hash, generation=entry.generation)
            artefact = store.load_live(env, feature_id)
            meta["format_version"] = artefact.format_version
            errors = json_schema_errors(store.get_artefact_bytes(entry.to_hash))
            if errors:
                failures["json_schema"] = "; ".join(errors[:5])
    except UnsupportedFormatVersionError as exc:
        failures["format_version"] = str(exc)
    except CorruptArtefactError as exc:
        failures["content_hash"] = str(exc)
    except StoreError as exc:
        failures["live_pointer"] = str(exc)
    if failures:
        meta["failed_rules"] = ", ".join(sorted(failures))
        meta.update({f"rule:{rule}": text for rule, text in failures.items()})
    return dg.AssetCheckResult(passed=not failures, severity=dg.AssetCheckSeverity.ERROR, metadata=meta)


def data_contract_checks(
    keys: FeatureKeys, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetChecksDefinition]:
    """One partitioned, blocking contract check on ``events`` and one on ``snapshots``."""

    def build(asset: dg.AssetKey, kind: str) -> dg.AssetChecksDefinition:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=dg.PreviewWarning)

            @dg.asset_check(
                asset=asset, name=DATA_CONTRACT, blocking=True, partitions_def=partitions_def,
                automation_condition=check_condition(),
                description=f"The {kind} of the day satisfy the data contract derived from the artefact "
                "that indexed them (pandera on polars; see feature_platform.runtimes.batch.contracts).",
            )
            def _contract(
                context: dg.AssetCheckExecutionContext, artefact_store: ArtefactStoreResource,
                release_target: ReleaseTargetResource, data_locations: DataLocationsResource,
            ) -> dg.AssetCheckResult:
                day = partition_day(context)
                artefact = indexing_artefact(context, keys, artefact_store, release_target)
                report = check_partition(kind, artefact, day, data_locations)
                return contract_result(report, artefact)

        return _contract

    return [build(keys.events, "events"), build(keys.snapshots, "snapshots")]


def check_partition(kind: str, artefact: Artefact, day: date, data_locations: DataLocationsResource) -> ContractReport:
    """Read one stored day and check it against its contract."""
    locations = data_locations.table_locations()
    feature_id = artefact.feature.id
    if kind == "events":
        frame: pl.DataFrame = read_events(feature_id, locations, days=[day]).collect()
        return check_frame(events_contract(artefact, day), frame)
    try:
        snapshot = read_snapshot(feature_id, day, locations)
    except StaleSnapshotError as exc:  # a day of its window was re-indexed after it was built
        return stale_report(exc)
    return check_frame(snapshot_contract(artefact, day), snapshot)


def contract_result(report: ContractReport, artefact: Artefact) -> dg.AssetCheckResult:
    meta: dict[str, Any] = {"contract": report.contract, "rows": report.rows, ARTEFACT_HASH: artefact.content_hash}
    if not report.passed:
        meta["failed_rules"] = ", ".join(report.failed_rules)
        meta["failures_by_rule"] = md.counts_table(report.failures, key="rule", value="failing_rows")
        if report.sample is not None:
            meta["failure_sample"] = md.frame_table(report.sample)
        if report.message is not None:
            meta["message"] = report.message
    return dg.AssetCheckResult(passed=report.passed, severity=dg.AssetCheckSeverity.ERROR, metadata=meta)


def indexing_artefact(
    context: dg.AssetCheckExecutionContext, keys: FeatureKeys, artefact_store: ArtefactStoreResource,
    release_target: ReleaseTargetResource,
) -> Artefact:
    """The artefact that indexed this partition (from its materialisation), else the live one."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=keys.events, asset_partitions=[context.partition_key]), limit=1
    ).records
    store = artefact_store.get_store()
    if records and records[0].asset_materialization is not None:
        value = records[0].asset_materialization.metadata.get(ARTEFACT_HASH)
        if value is not None and isinstance(value.value, str):
            return store.get_artefact(value.value)
    return store.load_live(release_target.env, keys.feature_id)
