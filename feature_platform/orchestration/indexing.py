"""The batch steps of one feature: index a day (events, rejects, snapshot), then certify it.

``index_day`` of the batch runtime does the work and writes the three tables of the day atomically per
file; this module only loads the live artefact, calls it and turns its result into materialisations
with metadata (row counts, reject reasons, paths, a sample of sequences).

The watermark is the consumer-facing "this day is complete and passed its contracts" marker: a one-row
Parquet file per certified day under ``<tables_root>/<feature>/watermark/``. Whether a day may be
certified is decided from the instance's check results and the stored tables, not from the run the
step is in (:mod:`.certification`), so serving and training jobs that want a certified snapshot read
the latest day there rather than whatever the last indexing run wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from feature_platform.engine import POSITION
from feature_platform.errors import CertificationRefusedError, ContractViolationError, IncompleteHistoryError
from feature_platform.orchestration import metadata as md
from feature_platform.orchestration.certification import refusals, revoke_from
from feature_platform.orchestration.checks import ARTEFACT_HASH
from feature_platform.orchestration.keys import DATA_CONTRACT, FeatureKeys
from feature_platform.orchestration.partitions import partition_day
from feature_platform.orchestration.release import artefact_for
from feature_platform.orchestration.resources import (
    ArtefactStoreResource,
    DataLocationsResource,
    ReleaseTargetResource,
)
from feature_platform.runtimes.batch import TableLocations, certify_day, stale_snapshots, watermark_path
from feature_platform.runtimes.batch.contracts import INPUTS_CURRENT

SAMPLE_USERS = 3
SAMPLE_POSITIONS = 5


class IndexConfig(dg.Config):
    """Run configuration of a day's indexing step (the defaults are the safe ones)."""

    allow_gaps: bool = Field(
        default=False,
        description="Build over days of the retention window that have raw data but are not indexed; the "
        "snapshot is marked incomplete and the watermark will not certify it. Default: fail naming the days.",
    )
    allow_missing: bool = Field(
        default=False, description="A source with no raw partition for the day contributes no rows instead of failing."
    )


def index_partition(
    context: dg.AssetExecutionContext, keys: FeatureKeys, config: IndexConfig, artefact_store: ArtefactStoreResource,
    release_target: ReleaseTargetResource, data_locations: DataLocationsResource,
) -> Iterator[dg.MaterializeResult]:
    """Index one day of one feature with the artefact live in the target environment.

    The day's tables replace the live ones only once they pass their data contracts (in the runtime, so
    whichever run this is); a failure leaves the previous version of the day live and fails the step.
    """
    from feature_platform.runtimes.batch import index_day

    day = partition_day(context)
    artefact = artefact_for(artefact_store, release_target.env, keys.feature_id)
    locations = data_locations.table_locations()
    try:
        result = index_day(
            artefact, day, locations, allow_gaps=config.allow_gaps, allow_missing=config.allow_missing
        )
    except ContractViolationError as exc:  # the raw day is bad: neither it nor any later day stays certified
        revoked = revoke_from(locations, keys.feature_id, day)
        note = f"; certification revoked for {', '.join(d.isoformat() for d in revoked)}" if revoked else ""
        raise dg.Failure(description=f"{exc}{note}",
                         metadata={"revoked": ", ".join(d.isoformat() for d in revoked) or "none"}) from exc
    except IncompleteHistoryError as exc:
        raise dg.Failure(description=str(exc)) from exc
    report_stale_later_days(context, keys, day, locations)
    context.log.info(
        f"{keys.feature_id} {day}: {result.events_rows} events, {result.rejects_rows} rejects, "
        f"{result.snapshot_users} users in the snapshot ({'incremental' if result.incremental else 'full'})"
    )
    common: dict[str, Any] = {
        ARTEFACT_HASH: result.artefact_hash,
        "day": day.isoformat(),
        "incremental": result.incremental,
        "missing_sources": ", ".join(result.missing_sources) or "none",
        "complete": result.complete,
        "missing_days": ", ".join(d.isoformat() for d in result.missing_days) or "none",
    }
    # The data version of each table is its file's sha256: re-indexing the same input changes nothing
    # downstream, and a day whose content changed marks the next day's snapshot (built on it) unsynced.
    yield dg.MaterializeResult(
        asset_key=keys.events,
        metadata={**common, "dagster/row_count": result.events_rows, "path": dg.MetadataValue.path(result.events_path),
                  "sha256": result.events_sha256},
        data_version=dg.DataVersion(result.events_sha256),
    )
    yield dg.MaterializeResult(
        asset_key=keys.rejects,
        metadata={
            **common, "dagster/row_count": result.rejects_rows,
            "path": dg.MetadataValue.path(result.rejects_path),
            "reject_reasons": md.counts_table(result.reject_reasons, key="reason"),
            "sha256": result.rejects_sha256,
            **{f"rejects/{reason}": int(count) for reason, count in sorted(result.reject_reasons.items())},
        },
        data_version=dg.DataVersion(result.rejects_sha256),
    )
    snapshot = pl.scan_parquet(result.snapshot_path, storage_options=locations.storage_options)
    yield dg.MaterializeResult(
        asset_key=keys.snapshots,
        metadata={
            **common, "dagster/row_count": result.snapshot_rows, "users": result.snapshot_users,
            "path": dg.MetadataValue.path(result.snapshot_path),
            "sample_sequences": md.frame_table(sample_sequences(snapshot)),
            "sha256": result.snapshot_sha256,
            **length_distribution(snapshot, artefact.feature.entity_key.name),
        },
        data_version=dg.DataVersion(result.snapshot_sha256),
    )


def report_stale_later_days(
    context: dg.AssetExecutionContext, keys: FeatureKeys, day: date, locations: TableLocations
) -> None:
    """A re-index of ``day`` with other content leaves the snapshots of later days built on the old one:
    record a failed ``inputs_current`` evaluation of the snapshot contract on each of those partitions,
    so the UI shows them failed (and why) without anyone re-running their checks."""
    for later, changed in stale_snapshots(keys.feature_id, locations, after=day).items():
        first = changed[0] + timedelta(days=1)
        # Logged by this run (a runless report may exist only once per partition in Dagster's storage).
        context.log_event(
            dg.AssetCheckEvaluation(  # log_event records check evaluations too
                asset_key=keys.snapshots, check_name=DATA_CONTRACT, passed=False, partition=later.isoformat(),
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"stale: the events of {changed[0].isoformat()} changed after this snapshot was built",
                metadata={
                    "failed_rules": INPUTS_CURRENT,
                    "message": f"re-index {first.isoformat()}..{later.isoformat()}",
                },
            )
        )


def sample_sequences(snapshot: pl.LazyFrame) -> pl.DataFrame:
    """The first elements of the first users' sequences (the file is sorted by user and position), scalar
    columns only: embeddings and other lists say nothing in a table cell."""
    scalar = [name for name, dtype in snapshot.collect_schema().items() if not dtype.is_nested()]
    return (snapshot.filter(pl.col(POSITION) < SAMPLE_POSITIONS).select(scalar)
            .head(SAMPLE_USERS * SAMPLE_POSITIONS).collect())


def length_distribution(snapshot: pl.LazyFrame, entity_key: str) -> dict[str, float | int]:
    """Per-day numbers Dagster plots across partitions: the distribution of sequence lengths."""
    lengths = snapshot.group_by(entity_key).len().select(
        pl.col("len").mean().alias("mean"), pl.col("len").quantile(0.5, "nearest").alias("p50"),
        pl.col("len").quantile(0.9, "nearest").alias("p90"), pl.col("len").max().alias("max"),
    ).collect()
    if lengths.height == 0 or lengths["max"][0] is None:
        return {"sequence_length/mean": 0.0, "sequence_length/p50": 0, "sequence_length/p90": 0,
                "sequence_length/max": 0}
    row = lengths.row(0, named=True)
    return {"sequence_length/mean": round(float(row["mean"]), 3), "sequence_length/p50": int(row["p50"]),
            "sequence_length/p90": int(row["p90"]), "sequence_length/max": int(row["max"])}


def certify_partition(
    context: dg.AssetExecutionContext, keys: FeatureKeys, data_locations: DataLocationsResource
) -> dg.MaterializeResult:
    """Certify the day, or fail the step saying why (a contract check not passed or not current, the
    last indexing failed, the day before uncertified, or not indexed, incomplete, stale): the verdict is
    computed from the instance's check results and what is stored, so it holds whichever run this step
    runs in (see :mod:`.certification`)."""
    day = partition_day(context)
    locations = data_locations.table_locations()
    reasons = refusals(context.instance, keys, day, locations)
    if reasons:
        raise dg.Failure(
            description=f"cannot certify {keys.feature_id} for {day.isoformat()}: " + "; ".join(reasons),
            metadata={"reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in reasons))},
        )
    try:
        certification = certify_day(locations, keys.feature_id, day, context.run.run_id)
    except CertificationRefusedError as exc:
        raise dg.Failure(description=str(exc)) from exc
    return dg.MaterializeResult(
        metadata={
            "day": day.isoformat(), ARTEFACT_HASH: certification.artefact_hash,
            "snapshot_users": certification.snapshot_users,
            "path": dg.MetadataValue.path(watermark_path(locations, keys.feature_id, day)),
        }
    )
