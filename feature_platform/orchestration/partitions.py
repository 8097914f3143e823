"""Daily partitions of the batch assets, and how a backfill over a range is split into runs.

One partition is one day of one feature: ``index_day`` reads that day's raw files and the previous
day's snapshot and writes that day's files, atomically per file, so partitions are independent units
of work that any executor or run launcher can place anywhere. A backfill of a range therefore fans out
as one run per day (``BackfillPolicy.multi_run(1)``); the run queue's concurrency limits, not this
code, decide how many run at once. (Snapshots for day D read D-1's snapshot, so a backfill that must
rebuild a chain of days is ordered by Dagster's backfill daemon day after day only when asked to; the
runtime falls back to a full rebuild of the window when D-1 is missing.)
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
