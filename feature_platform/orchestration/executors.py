"""The default executor: every step of a run in the run's own process, multiprocess on request.

A run here is one day of one feature (or one feature's release): a chain of steps that depend on one
another (compile → validate → publish → index → checks → watermark → online), each doing well under a
second of work on a day of demo data. Starting a process per step cost more than the work — 4 to 30 s per
step on two busy cores to start a worker, import Dagster and build the code location, for ~0.2 s of
work (figures in benchmarks/RESULTS.md). Parallelism comes from *runs* instead: a backfill is one run
per day, which the run launcher places (a pod on Kubernetes, a process locally).

Run config can still choose: ``execution: {config: {multiprocess: {}}}`` forks each step from a
``forkserver`` with ``feature_platform.definitions`` preloaded (worth it for a run spanning many
features); deployments on Kubernetes or Celery set their own executor (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

PRELOAD = ["feature_platform.definitions"]
IN_PROCESS: Mapping[str, Any] = {"in_process": {}}


def _with_forkserver(config: Mapping[str, Any]) -> Mapping[str, Any]:
    if "multiprocess" not in config:
        return config
    multiprocess = dict(config["multiprocess"] or {})
    multiprocess.setdefault("start_method", {"forkserver": {"preload_modules": PRELOAD}})
    return {"multiprocess": multiprocess}


def default_executor() -> dg.ExecutorDefinition:
    base = dg.multi_or_in_process_executor
    schema = dg.Field(base.config_schema.as_field().config_type, is_required=False, default_value=dict(IN_PROCESS))
    return base.configured(
        _with_forkserver, name="feature_platform_executor", config_schema=schema,
        description="In process by default (a run is one feature's chain of sub-second steps); multiprocess "
        "(forkserver, definitions preloaded) on request.",
    )
