"""Certification is a function of check results, not of which steps happened to run before.

A blocking check only stops steps of the run it ran in. A backfill (or a person re-running one step)
can put a day's ``watermark`` in another run than the day's indexing, so the watermark step decides
from what the instance and the tables hold, whichever run it is in. Day ``D`` of feature ``F`` is
certified only when all of these hold:

1. the batch runtime's own verdict (:func:`feature_platform.runtimes.batch.certify_day`): ``D`` is
   indexed, its snapshot complete and current;
2. the latest result of *each* data-contract check of ``D`` (events, snapshots) passed and judged the
   latest materialisation of that partition (a check that judged an older version, never ran, or is
   still planned does not count);
3. the latest attempt to index ``D`` did not fail (a failed re-index keeps the previous tables live,
   but they no longer are what the raw data says);
4. the day before, when it is indexed, is certified: ``D``'s snapshot builds on it, so a day is never
   certified after an uncertified one.

And the other way round: when an indexing of ``D`` fails its contracts, the certifications of ``D``
and of every later day are revoked (their watermark rows deleted, latest first), since each later
snapshot was built on a day whose raw data has now been found bad. The ``watermark`` asset also depends
on its own previous day, so the backfill daemon launches a feature's certifications in order and
counts every later day of a failed one as failed (the backfill ends *Failed*).
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from feature_platform.orchestration.keys import DATA_CONTRACT, FeatureKeys
from feature_platform.runtimes.batch import (
    TableLocations,
    is_indexed,
    read_certification,
    revoke_certifications_from,
)


def contract_checks(keys: FeatureKeys) -> list[dg.AssetCheckKey]:
    """The checks a day must pass to be certified."""
    return [dg.AssetCheckKey(keys.events, DATA_CONTRACT), dg.AssetCheckKey(keys.snapshots, DATA_CONTRACT)]


def refusals(instance: dg.DagsterInstance, keys: FeatureKeys, day: date, locations: TableLocations) -> list[str]:
    """Why ``day`` may not be certified from what the instance records (empty: rules 2 to 4 hold)."""
    partition = day.isoformat()
    reasons: list[str] = []
    checks = contract_checks(keys)
    infos = {i.check_key: i for i in instance.event_log_storage.get_asset_check_partition_info(
        checks, partition_keys=[partition])}
    for check_key in checks:
        name = f"{check_key.asset_key.to_user_string()}:{check_key.name}"
        info = infos.get(check_key)
        if info is None:
            reasons.append(f"{name} has no result for {partition}")
        elif info.latest_execution_status is not AssetCheckExecutionRecordStatus.SUCCEEDED:
            reasons.append(f"{name} of {partition} is {info.latest_execution_status.value} "
                           f"(run {info.latest_planned_run_id[:8]})")
        elif not info.is_current:
            reasons.append(f"{name} of {partition} judged an earlier version of the day; run the check again")
    records = dg.AssetRecordsFilter(asset_key=keys.snapshots, asset_partitions=[partition])
    failed = instance.fetch_failed_materializations(records, limit=1).records
    done = instance.fetch_materializations(records, limit=1).records
    if failed and (not done or failed[0].storage_id > done[0].storage_id):
        reasons.append(f"the latest indexing of {partition} failed (run {failed[0].run_id[:8]}); the tables "
                       "live are an earlier version")
    previous = day - timedelta(days=1)
    if is_indexed(keys.feature_id, previous, locations) and read_certification(
        keys.feature_id, previous, locations
    ) is None:
        reasons.append(f"{previous.isoformat()}, which the snapshot of {partition} builds on, is indexed but "
                       "not certified")
    return reasons


def revoke_from(locations: TableLocations, feature_id: str, day: date) -> list[date]:
    """Revoke the certification of ``day`` and every later day (latest first); returns the days revoked."""
    return revoke_certifications_from(locations, feature_id, day)
