"""The daemon's code paths in process: an asset backfill driven by ``execute_backfill_iteration``.

What ``dagster-daemon`` does for a backfill launched from the UI (or ``dagster job backfill``), minus
the processes: the code location is loaded in process from a small file naming ``defs`` (so it reads
the test's ``FP_*`` environment), runs are launched by Dagster's ``SyncInMemoryRunLauncher`` (each run
executes to completion inside the launch call) and the backfill loop is iterated until the backfill
reaches a terminal status. Nothing waits on time: each iteration does what the daemon's next tick
would do.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, PartitionBackfill
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration

SYNC_LAUNCHER = {
    "run_coordinator": {  # launch at once (no run queue daemon)
        "module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator",
    },
    "run_launcher": {
        "module": "dagster._core.launcher.sync_in_memory_run_launcher", "class": "SyncInMemoryRunLauncher",
    },
}
"""Instance overrides: runs execute synchronously in the test process (and, with the code location's
default in-process executor, so do their steps: monkeypatches reach them)."""

MAX_ITERATIONS = 40



@contextmanager
def daemon_workspace(instance: dg.DagsterInstance, root: Path) -> Iterator[WorkspaceProcessContext]:
    """The code location ``feature_platform`` loaded in process from a file of the test's own."""
    module = root / f"fp_defs_{uuid.uuid4().hex[:8]}.py"
    module.write_text("from feature_platform.orchestration import build_definitions\n\ndefs = build_definitions()\n")
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(module), attribute="defs", working_directory=str(root)),
        location_name="feature_platform",
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as context:
        yield context


def run_asset_backfill(
    context: WorkspaceProcessContext, assets: Sequence[dg.AssetKey], partitions: Sequence[str],
    *, run_config: dict[str, Any] | None = None,
) -> PartitionBackfill:
    """Submit an asset backfill like the UI's "Materialize → partitions" and iterate the daemon to its end."""
    instance = context.instance
    backfill_id = f"bf{uuid.uuid4().hex[:6]}"
    request = context.create_request_context()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=request.asset_graph, partition_names=list(partitions),
        asset_selection=list(assets), backfill_timestamp=time.time(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=None, description=None,
        run_config=run_config,
    )
    instance.add_backfill(backfill)
    return drive_backfill(context, backfill_id)


def drive_backfill(context: WorkspaceProcessContext, backfill_id: str) -> PartitionBackfill:
    """Iterate the daemon's backfill loop until ``backfill_id`` reaches a terminal status."""
    instance = context.instance
    logger = logging.getLogger("tests.backfill_daemon")
    for _ in range(MAX_ITERATIONS):
        list(execute_backfill_iteration(context, logger))
        current = instance.get_backfill(backfill_id)
        assert current is not None
        if current.status in BULK_ACTION_TERMINAL_STATUSES:
            return current
    raise AssertionError(f"backfill {backfill_id} not finished after {MAX_ITERATIONS} daemon iterations")


def backfill_runs(instance: dg.DagsterInstance, backfill_id: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})))
