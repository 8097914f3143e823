"""stream, replay: the streaming indexer and its producer on the command line."""

from __future__ import annotations

from datetime import datetime

import click

from feature_platform.cli._common import HOST, PORT, FiniteFloatRange, env_option, handle_errors, settings
from feature_platform.errors import FeaturePlatformError

_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command(name="stream")
@env_option
@click.option("--feature", "features", multiple=True, help="Feature id or name to index (repeatable; default all).")
@click.option("--consumer", default="indexer-0", show_default=True,
              help="Consumer name in the group (stable per replica: a restart re-reads its own pending entries).")
@click.option("--metrics-port", type=PORT, default=None,
              help="Serve Prometheus metrics on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, type=HOST,
              help="Address the metrics endpoint binds (0.0.0.0 in a pod, so Prometheus can scrape it).")
@click.option("--batch-count", type=click.IntRange(min=1), default=2_000, show_default=True,
              help="Micro-batch size bound (entries; at least 1: a count of 0 would be an unbounded read).")
@click.option("--batch-growth", type=click.IntRange(min=1), default=8, show_default=True,
              help="Under lag a full read doubles the next micro-batch, up to batch-count x this (1 = fixed size).")
@click.option("--batch-ms", type=click.IntRange(min=1), default=20, show_default=True,
              help="Micro-batch time bound (ms): an idle read waits at most this long for the first entry.")
@click.option("--claim-idle-ms", type=click.IntRange(min=0), default=30_000, show_default=True,
              help="Claim entries another consumer left pending this long (a dead replica).")
@click.option("--reload-seconds", type=FiniteFloatRange(min=0), default=2.0, show_default=True,
              help="Pointer polling interval.")
@click.option("--log-keep-seconds", type=FiniteFloatRange(min=0), default=172_800.0, show_default=True,
              help="The event log is trimmed every minute of what every consumer group acknowledged, except the "
              "entries appended within this long (so a new feature version still finds them; 0 keeps none).")
@handle_errors
def stream(env: str | None, features: tuple[str, ...], consumer: str, metrics_port: int | None, metrics_host: str,
           batch_count: int, batch_growth: int, batch_ms: int, claim_idle_ms: int, reload_seconds: float,
           log_keep_seconds: float) -> None:
    """Index ENV's live features from the event log into the online store's tail, until SIGTERM."""
    from feature_platform.runtimes.stream import run_stream

    config = settings()
    config.check()  # a bad FP_* value: one line, before the indexer starts
    run_stream(config, env or config.env, features=features, consumer=consumer, metrics_port=metrics_port,
               metrics_host=metrics_host, batch_count=batch_count, batch_growth=batch_growth, batch_ms=batch_ms,
               claim_idle_ms=claim_idle_ms, reload_seconds=reload_seconds, log_keep_seconds=log_keep_seconds)


@click.command(name="replay")
@env_option
@click.option("--source", "source_name", required=True, help="Raw events source, e.g. engagement_events.")
@click.option("--date", "day", type=_DAY, required=True, help="Raw partition (arrival day) to replay.")
@click.option("--rate", type=FiniteFloatRange(min=0.001), default=None,
              help="Events per second (default: as fast as possible).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True,
              help="Skip this many rows of the partition.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Replay at most this many rows.")
@click.option("--arrival", type=click.Choice(["day", "now"]), default="day", show_default=True,
              help="Arrival time of the entries: within DATE (as the batch partition) or the wall clock.")
@handle_errors
def replay(env: str | None, source_name: str, day: datetime, rate: float | None, offset: int, limit: int | None,
           arrival: str) -> None:
    """Replay a raw Parquet partition of SOURCE into its stream, in arrival order (malformed rows too)."""
    from feature_platform.runtimes.batch import TableLocations
    from feature_platform.runtimes.stream import open_event_log_from_settings
    from feature_platform.runtimes.stream import replay as do_replay
    from feature_platform.store import open_store_from_settings

    config = settings()
    target = env or config.env
    store = open_store_from_settings(config)
    store.require_exists()  # a typo in FP_ARTEFACT_STORE, not "no live feature reads that source"
    source = None
    unreadable: list[str] = []
    for feature_id in store.list_features(target):
        try:  # one feature's damaged log or artefact is that feature's problem, not the replay's
            entry = store.current(target, feature_id)
            if entry is None:  # an empty log folder: nothing published
                continue
            artefact = store.artefact_of(entry)
        except FeaturePlatformError as exc:
            unreadable.append(f"{feature_id} ({exc})")
            continue
        if source_name in artefact.sources:
            source = artefact.sources[source_name]
            break
    if source is None:
        skipped = f"; the live version of {', '.join(unreadable)} could not be read" if unreadable else ""
        raise FeaturePlatformError(f"no live feature in {target!r} reads a source named {source_name!r}{skipped}")
    locations = TableLocations.from_settings(config)
    log = open_event_log_from_settings(config)
    try:
        count = do_replay(log, source, locations.raw_root, day.date(), rate=rate, offset=offset, limit=limit,
                          arrival=arrival, storage_options=locations.storage_options)
    finally:
        log.close()
    click.secho(f"replayed {count:,} rows of {source_name} {day.date()} into {log.describe()}", fg="green")
