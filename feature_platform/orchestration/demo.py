"""Run the whole graph for some days in process: what ``make demo`` calls.

For every feature: compile → validate → publish (one run, gates included), then for each day, in
order, events/rejects/snapshots → data contracts → watermark (one run per day, all features; days in
order because a day's snapshot builds on the previous day's). Runs are recorded in a real Dagster
instance — ``$DAGSTER_HOME`` when set, else ``<FP_DATA_DIR>/dagster_home`` — so ``dagster dev`` on the
same ``DAGSTER_HOME`` shows their history, lineage and check results afterwards::

    python -m feature_platform.orchestration.demo            # every day the raw data has
    python -m feature_platform.orchestration.demo --day 2026-11-03
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn

import click
import dagster as dg
from dagster._core.instance.ref import InstanceRef

from feature_platform.engine.partitions import partition_day
from feature_platform.orchestration.code_location import build_definitions
from feature_platform.orchestration.keys import feature_keys
from feature_platform.settings import PlatformSettings


@dataclass
class RunSummary:
    """One run of the demo: what it was for, whether it succeeded, what it produced and checked."""

    label: str
    run_id: str
    success: bool
    materialized: list[str] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class DemoSummary:
    """Everything ``make demo`` prints."""

    features: list[str]
    days: list[date]
    runs: list[RunSummary]
    seconds: float
    dagster_home: str

    @property
    def success(self) -> bool:
        return all(r.success and not r.checks_failed for r in self.runs)

    def render(self) -> str:
        lines = [f"Dagster demo graph: {len(self.features)} feature(s) x {len(self.days)} day(s) "
                 f"in {self.seconds:.1f}s — {'all runs and checks passed' if self.success else 'FAILURES'}"]
        for run in self.runs:
            status = "ok" if run.success and not run.checks_failed else "FAILED"
            lines.append(f"  [{status}] {run.label}: {len(run.materialized)} materialisation(s), "
                         f"{len(run.checks_passed)} check(s) passed, {len(run.checks_failed)} failed "
                         f"(run {run.run_id[:8]})")
            lines += [f"      failed check: {name}" for name in run.checks_failed]
            for key, rows in sorted(run.row_counts.items()):
                lines.append(f"      {key}: {rows:,} rows")
        lines.append(f"DAGSTER_HOME={self.dagster_home}")
        return "\n".join(lines)


def run_demo_graph(days: Sequence[date], *, instance: dg.DagsterInstance | None = None) -> DemoSummary:
    """Materialise, for every feature, the release assets and then the batch assets of each day."""
    started = time.perf_counter()
    defs = build_definitions()
    features = sorted(
        {k.path[0] for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[-1] == "compiled"}
    )
    own_instance = instance is None
    instance = instance or demo_instance()
    try:
        keys = [feature_keys(f) for f in features]
        runs = [_run(defs, instance, "compile → validate → publish",
                     dg.AssetSelection.assets(*(k for fk in keys for k in fk.release)))]
        for day in sorted(days):
            if not runs[-1].success:
                break
            batch = dg.AssetSelection.assets(*(k for fk in keys for k in fk.batch))
            runs.append(_run(defs, instance, f"index {day.isoformat()}", batch, partition_key=day.isoformat()))
        home = instance.root_directory
    finally:
        if own_instance:
            instance.dispose()
    return DemoSummary(features=features, days=sorted(days), runs=runs,
                       seconds=time.perf_counter() - started, dagster_home=home)


def demo_instance() -> dg.DagsterInstance:
    """``$DAGSTER_HOME``'s instance, else a persistent one under the data directory."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    home = (PlatformSettings().data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def raw_days(raw_root: str | Path) -> list[date]:
    """Days for which any raw events source has a partition (``<raw_root>/<source>/dt=YYYY-MM-DD``), named as
    :func:`~feature_platform.engine.partitions.partition_day` reads them (a mis-named folder is not a day here;
    the run that indexes the source refuses it, naming it)."""
    root = Path(raw_root)
    found = {
        day
        for source in (root.iterdir() if root.is_dir() else [])
        if source.is_dir()
        for part in source.iterdir()
        if (day := partition_day(part.name, "dt")) is not None
    }
    return sorted(found)


def _run(
    defs: dg.Definitions, instance: dg.DagsterInstance, label: str, selection: dg.AssetSelection,
    partition_key: str | None = None,
) -> RunSummary:
    result = dg.materialize(
        [*(defs.assets or []), *(defs.asset_checks or [])],  # type: ignore[list-item]
        selection=selection, instance=instance, resources=defs.resources, partition_key=partition_key,
        raise_on_error=False, tags={"feature_platform/trigger": "demo"},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},  # the summary says it all
    )
    summary = RunSummary(label=label, run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key.to_user_string()
        summary.materialized.append(key)
        rows = materialization.metadata.get("dagster/row_count")
        if rows is not None and isinstance(rows.value, int):
            summary.row_counts[key] = rows.value
    for evaluation in result.get_asset_check_evaluations():
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        (summary.checks_passed if evaluation.passed else summary.checks_failed).append(name)
    return summary


@click.command(name="demo")
@click.option("--day", "days", multiple=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="A day to index, YYYY-MM-DD (repeatable; default: every day the raw data has).")
def demo(days: tuple[datetime, ...]) -> None:
    """Run every feature's whole graph in process: release, then each day in order; exit 1 on a failure.

    Click, like the ``feature-platform`` CLI, so both parse and report usage errors the same way.
    """
    raw_root = PlatformSettings().raw_root
    chosen = [d.date() for d in days] or raw_days(raw_root)
    if not chosen:
        raise click.UsageError(f"no raw data under {raw_root}; run `feature-platform demo-data` first")
    summary = run_demo_graph(chosen)
    click.echo(summary.render())
    click.echo(f"\nOpen the UI on this history: DAGSTER_HOME={summary.dagster_home} "
               "dagster dev -w workspace.yaml   (or `make ui`)")
    if not summary.success:
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> NoReturn:
    """``python -m feature_platform.orchestration.demo [--day D ...]``; exits 0, 1 (a run or check
    failed) or 2 (usage)."""
    demo.main(args=argv, prog_name="python -m feature_platform.orchestration.demo")
    raise SystemExit(0)  # unreachable: click's standalone mode always exits


if __name__ == "__main__":
    main()
