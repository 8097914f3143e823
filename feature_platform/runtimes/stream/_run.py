"""Run the streaming indexer from the platform settings (the CLI command and ``python -m`` call this)."""

from __future__ import annotations

import gc
import logging

from feature_platform.runtimes.batch import TableLocations
from feature_platform.runtimes.online import open_online_store_from_settings
from feature_platform.runtimes.stream._indexer import IndexerConfig, StreamIndexer
from feature_platform.runtimes.stream._log import EventLog, open_event_log
from feature_platform.runtimes.stream._metrics import StreamMetrics
from feature_platform.settings import PlatformSettings
from feature_platform.store import open_store_from_settings

GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """The indexer process's garbage collector: everything loaded so far (modules, settings) frozen out of
    collection, and a young generation of 50,000 container allocations instead of 700.

    Reading a micro-batch allocates a few containers per entry (the reply's lists, one ``LogEntry``): with
    the default thresholds a 16,000-entry read ran dozens of collections, some of them full ones over every
    object of the process, which cost more than parsing the reply. The indexer makes few reference
    cycles, so collecting less often costs little memory. Process-wide: only the indexer's entry point
    (and the benchmark measuring it) calls this, never library code."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def open_event_log_from_settings(settings: PlatformSettings) -> EventLog:
    """``FP_EVENT_LOG`` (default ``<data_dir>/event_log.sqlite``) with ``FP_EVENT_LOG_PREFIX``."""
    return open_event_log(settings.event_log_url, prefix=settings.event_log_prefix)


def run_stream(
    settings: PlatformSettings,
    env: str,
    *,
    features: tuple[str, ...] = (),
    consumer: str = "indexer-0",
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    batch_count: int = 2_000,
    batch_growth: int = 8,
    batch_ms: int = 20,
    claim_idle_ms: int = 30_000,
    reload_seconds: float = 2.0,
    log_keep_seconds: float = 172_800.0,
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tune_gc()
    locations = TableLocations.from_settings(settings)
    config = IndexerConfig(
        env=env,
        consumer=consumer,
        features=features,
        batch_count=batch_count,
        batch_growth=batch_growth,
        batch_ms=batch_ms,
        claim_idle_ms=claim_idle_ms,
        reload_seconds=reload_seconds,
        log_keep_seconds=log_keep_seconds,
        raw_root=locations.raw_root,
        storage_options=locations.storage_options,
    )
    metrics = StreamMetrics()
    if metrics_port is not None:
        metrics.serve(metrics_port, metrics_host)
    log = open_event_log_from_settings(settings)
    online = open_online_store_from_settings(settings)
    indexer = StreamIndexer(config, open_store_from_settings(settings), log, online, metrics=metrics)
    indexer.install_signal_handlers()
    try:
        indexer.run()
    finally:
        log.close()
        online.close()
