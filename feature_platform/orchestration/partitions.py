"""Daily partitions of the batch assets, and how a backfill over a range is split into runs.

One partition is one day of one feature: ``index_day`` reads that day's raw files (and the previous
day's snapshot when it is complete and current, else the events partitions of the retention window)
and replaces that day's files atomically, then writes the day's manifest. Any day can therefore run
alone, on any machine, and re-running it is idempotent.

A backfill of a range becomes one run per day (``BackfillPolicy.multi_run(1)``), the unit a run
launcher can put on its own pod or worker. Because a day's *snapshot* builds on the previous day's, the
snapshot asset declares a dependency on its own previous partition; Dagster's backfill daemon then
launches one feature's days in order (each as soon as the day before has succeeded) while different
features, and the release assets, proceed in parallel. Running days out of order by hand is still
correct for the day itself; a later day indexed before an earlier one is rebuilt by re-running it.
"""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg

BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
"""Each partition of a backfill is its own run: the unit a launcher can put on its own pod/worker."""


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """Days from ``start`` to yesterday (UTC): a day is indexed once it is over."""
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")


def partition_day(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    """The day a run (or check) is for, from its partition key."""
    return datetime.strptime(context.partition_key, "%Y-%m-%d").date()
