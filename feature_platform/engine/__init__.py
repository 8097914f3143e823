"""The execution engine: one compiled artefact → one polars plan, for every runtime.

It reads only the compiled :class:`~feature_platform.artefact.Artefact` (never the authoring API,
the compiler or ``feature_configs``) and knows nothing of Dagster. The batch indexer runs
:func:`build_feature_frame` lazily over :func:`scan_source` frames; the streaming indexer runs the
same plan eagerly over micro-batches through :class:`MicroBatchPlan` (built once, bound to each
micro-batch) or :func:`run_micro_batch`; every runtime orders and truncates sequences with
:func:`dedup_and_rank`.
"""

from feature_platform.engine.dtypes import TIMESTAMP, empty_frame, polars_schema, to_polars_dtype
from feature_platform.engine.enrichments import PreparedLookups
from feature_platform.engine.executors import DeclarativeExecutor, EventTypeExecutor, executor_for
from feature_platform.engine.expressions import ExpressionError, infer_dtype, parse_iso_timestamp, to_polars
from feature_platform.engine.io import (
    SourceScan,
    contract_rejects,
    day_files,
    missing_day_message,
    partition_glob,
    scan_source,
    source_days,
    split_rows,
    table_root,
    wide_schema,
)
from feature_platform.engine.plan import (
    EventTypeFrames,
    FeatureFrames,
    build_event_type_frame,
    build_feature_frame,
    events_schema,
    rejects_schema,
)
from feature_platform.engine.requirements import check_columns, required_columns
from feature_platform.engine.run import MicroBatchPlan, run_micro_batch
from feature_platform.engine.sequences import ORDER_BY, POSITION, dedup_and_rank
from feature_platform.engine.validation import INGEST_DAY, MIN_EVENT_TIME, REASONS, REJECTS_SCHEMA

__all__ = [
    "INGEST_DAY",
    "MIN_EVENT_TIME",
    "ORDER_BY",
    "POSITION",
    "REASONS",
    "REJECTS_SCHEMA",
    "TIMESTAMP",
    "DeclarativeExecutor",
    "EventTypeExecutor",
    "EventTypeFrames",
    "ExpressionError",
    "FeatureFrames",
    "MicroBatchPlan",
    "PreparedLookups",
    "SourceScan",
    "build_event_type_frame",
    "build_feature_frame",
    "check_columns",
    "contract_rejects",
    "day_files",
    "dedup_and_rank",
    "empty_frame",
    "events_schema",
    "executor_for",
    "infer_dtype",
    "missing_day_message",
    "parse_iso_timestamp",
    "partition_glob",
    "polars_schema",
    "rejects_schema",
    "required_columns",
    "run_micro_batch",
    "scan_source",
    "source_days",
    "split_rows",
    "table_root",
    "to_polars",
    "to_polars_dtype",
    "wide_schema",
]
