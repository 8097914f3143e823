"""The default executor: Dagster's multiprocess-or-in-process executor, with step processes forked.

A step process that starts from scratch imports Dagster and this code location (compiling the configs)
again — seconds per step on a small machine. With the ``forkserver`` start method and the definitions
module preloaded, each run starts one server process that imports them once and forks every step from
it. Run config can still choose anything: ``execution: {config: {in_process: {}}}`` for one process,
or another ``multiprocess.start_method``; deployments on Kubernetes or Celery set their own executor
(see docs/ARCHITECTURE.md, "Orchestration plane").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

PRELOAD = ["feature_platform.definitions"]


def _with_forkserver(config: Mapping[str, Any]) -> Mapping[str, Any]:
    if "multiprocess" not in config:
        return config
    multiprocess = dict(config["multiprocess"] or {})
    multiprocess.setdefault("start_method", {"forkserver": {"preload_modules": PRELOAD}})
    return {"multiprocess": multiprocess}


def default_executor() -> dg.ExecutorDefinition:
    base = dg.multi_or_in_process_executor
    return base.configured(
        _with_forkserver, name="feature_platform_executor", config_schema=base.config_schema.as_field(),
        description="Multiprocess (forkserver, definitions preloaded) by default; in_process on request.",
    )
