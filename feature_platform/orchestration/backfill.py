"""A range of days of one feature, from the command line, run the way the UI runs it.

::

    python -m feature_platform.orchestration.backfill --feature recent_engagements_v1 \\
        --from 2026-11-01 --to 2026-11-03 [--allow-gaps] [--wait]

submits an **asset backfill** of the feature's daily assets (events, rejects, snapshots → data
contracts → watermark → online) for the range to the instance at ``$DAGSTER_HOME`` — the same request
the UI's *Materialize → partitions* sends. The daemon (``dagster dev`` or ``dagster-daemon``) then runs
it: one run per day, tagged ``dagster/partition`` (so every check result carries its day), each day
as soon as the day before succeeded (its snapshot and certification build on it), and every day after
a failed one counted as failed; the backfill ends *Failed* if any day did. Nothing is compiled or
published (the live artefact is used). The runs are launched from the code location the daemon
serves, so the UI can re-execute any of them.

Why not ``dagster asset materialize --partition-range`` or ``dagster job backfill``: the first needs a
single-run backfill policy, which would store check results without their day; the second submits
every day at once, in no order. Measured alternatives are in benchmarks/RESULTS.md.

``--wait`` polls the backfill until it ends and prints each day's outcome (exit 1 unless it
succeeded). The backfill also shows under *Overview → Backfills* in the UI.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, NoReturn

import click
import dagster as dg
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus, PartitionBackfill

from feature_platform.artefact import Artefact
from feature_platform.orchestration.keys import feature_keys
from feature_platform.orchestration.online import online_key
from feature_platform.runtimes.batch import TableLocations, raw_days_in_window

POLL_SECONDS = 5.0


def daily_assets(feature_id: str, asset_graph: Any) -> list[dg.AssetKey]:
    """The feature's daily-partitioned assets that exist in the graph, in graph order."""
    keys = feature_keys(feature_id)
    candidates = [*keys.batch, online_key(keys)]
    return [k for k in candidates if asset_graph.has(k)]


def submit_backfill(
    instance: dg.DagsterInstance, feature_id: str, first: date, last: date, *, allow_gaps: bool = False,
    asset_graph: Any = None, tags: dict[str, str] | None = None,
) -> str:
    """Add an asset backfill of ``feature_id``'s daily assets for ``first..last``; returns its id."""
    if last < first:
        raise click.UsageError(f"--to {last} is before --from {first}")
    if asset_graph is None:
        from feature_platform.orchestration.code_location import build_definitions  # (imports this module)

        asset_graph = build_definitions().resolve_asset_graph()
    graph = asset_graph
    keys = feature_keys(feature_id)
    if not graph.has(keys.events):
        raise click.UsageError(f"no feature {feature_id!r} in this code location")
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    run_config: dict[str, Any] = {}
    if allow_gaps:
        run_config = {"ops": {f"{keys.events.path[0]}__index": {"config": {"allow_gaps": True}}}}
    backfill_id = uuid.uuid4().hex[:8]
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=graph, partition_names=days,
        asset_selection=daily_assets(feature_id, graph), backfill_timestamp=time.time(),
        tags={"feature_platform/feature": feature_id, **(tags or {})}, dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"{feature_id} {first.isoformat()}..{last.isoformat()}",
        description="feature_platform.orchestration.backfill", run_config=run_config or None,
    )
    instance.add_backfill(backfill)
    return backfill_id


def reindex_window(
    artefact: Artefact, locations: TableLocations, partitions_def: dg.PartitionsDefinition
) -> tuple[date, date] | None:
    """The days a (re)published feature must be (re)indexed over: the days of its retention window (as of
    the latest complete day) from its first to its last day with raw data, or None if there is none.
    Later days are not there yet: the automation indexes each as its raw data arrives."""
    latest = partitions_def.get_last_partition_key()
    if latest is None:
        return None
    last = date.fromisoformat(latest)
    first_partition = partitions_def.get_first_partition_key()
    not_before = date.fromisoformat(first_partition) if first_partition is not None else None
    days = raw_days_in_window(artefact, locations, last, not_before)
    return (min(days), max(days)) if days else None


def backfill_outcome(instance: dg.DagsterInstance, backfill_id: str) -> tuple[BulkActionStatus, dict[str, str]]:
    """The backfill's status and, per day, the status of its run(s) (the last one of each day)."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise click.UsageError(f"no backfill {backfill_id}")
    by_day: dict[str, str] = {}
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    for run in sorted(runs, key=lambda r: r.run_id):
        day = run.tags.get("dagster/partition")
        if day is not None:
            by_day[day] = run.status.value
    return backfill.status, dict(sorted(by_day.items()))


@click.command(name="backfill")
@click.option("--feature", "feature_id", required=True, help="Feature id, e.g. recent_engagements_v1.")
@click.option("--from", "first", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--to", "last", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day, inclusive.")
@click.option("--allow-gaps", is_flag=True, help="Index over unindexed days of the window (never certified).")
@click.option("--wait", is_flag=True, help="Wait for the daemon to finish the backfill; exit 1 unless it succeeded.")
def command(feature_id: str, first: Any, last: Any, allow_gaps: bool, wait: bool) -> None:
    """Submit a backfill of one feature's days; the Dagster daemon runs it, one run per day, in order."""
    with dg.DagsterInstance.get() as instance:
        backfill_id = submit_backfill(instance, feature_id, first.date(), last.date(), allow_gaps=allow_gaps)
        click.echo(f"backfill {backfill_id} submitted ({feature_id} {first.date()}..{last.date()}); "
                   f"UI: /runs/b/{backfill_id}")
        if not wait:
            return
        status, by_day = backfill_outcome(instance, backfill_id)
        while status not in BULK_ACTION_TERMINAL_STATUSES:
            time.sleep(POLL_SECONDS)
            status, by_day = backfill_outcome(instance, backfill_id)
        for day, run_status in by_day.items():
            click.echo(f"  {day}: {run_status}")
        click.echo(f"backfill {backfill_id}: {status.value}")
        if status is not BulkActionStatus.COMPLETED_SUCCESS:
            raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    prog = "python -m feature_platform.orchestration.backfill"
    command.main(args=list(argv) if argv is not None else None, prog_name=prog)
    raise SystemExit(0)


if __name__ == "__main__":
    main()
