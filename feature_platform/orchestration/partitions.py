"""Daily partitions of the batch assets, and how a backfill over a range is split into runs.

One partition is one day of one feature: ``index_day`` reads that day's raw files (and the previous
day's snapshot when it is complete and current, else the events partitions of the retention window)
and replaces that day's files atomically, then writes the day's manifest. Any day can therefore run
alone, on any machine, and re-running it is idempotent.

A backfill of a range becomes one run per day, the unit a run launcher can put on its own pod or
worker. The batch assets have **no** ``BackfillPolicy`` on purpose: with one, even
``multi_run(max_partitions_per_run=1)``, the daemon tags each run with a partition *range*
(``dagster/asset_partition_range_start/end``) instead of ``dagster/partition``, and Dagster 1.13 then
stores the evaluations of partitioned asset checks without a partition (the check's Partitions tab
stays "planned" for every day, and nothing can tell which day passed). Without a policy the daemon
launches one run per partition tagged ``dagster/partition``, and every check result carries its day.

Because a day's *snapshot* builds on the previous day's, the snapshot asset declares a dependency on
its own previous partition, and so does the watermark; Dagster's backfill daemon then launches one
feature's days in order (each as soon as the day before has succeeded) and counts every later day of a
failed one as failed, while different features proceed in parallel. Running days out of order by hand
is still correct for the day itself; a later day indexed before an earlier one is rebuilt by re-running
it, and it is not certified before the day before it (:mod:`.certification`).
"""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg

BACKFILL_POLICY: dg.BackfillPolicy | None = None
"""No policy: a backfill is one run per partition, tagged ``dagster/partition`` (see above)."""


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """Days from ``start`` to yesterday (UTC): a day is indexed once it is over."""
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")


def partition_day(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    """The day a run (or check) is for, from its partition key."""
    return datetime.strptime(context.partition_key, "%Y-%m-%d").date()
