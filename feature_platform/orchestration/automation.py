"""The graph runs itself: observable raw sources and declarative automation of the daily assets.

Raw sources
    Every raw source is an **observable source asset**. An events source is daily-partitioned like the
    batch assets: observing it gives each day that has files a data version computed from the day's
    files (name, size and modification time of each; on S3 the names only), so a new day shows up as a
    new partition and a *corrected* day as a changed version, which marks that day of ``F/events``
    (and what is built on it) stale in the UI. A lookup table gets one version for all its files.
    They are observed every ``OBSERVE_CRON`` by Dagster's automation.

Daily assets (``daily_condition`` on ``F/events``, which requests the whole index step: its three
tables cannot be subset, and a condition on each would be evaluated per key and could request a subset;
``check_condition`` on the contract checks; ``certify_condition`` on the watermark)
    Dagster's ``AutomationCondition.eager()`` — the latest day, as soon as its raw partitions are
    observed (or change) and nothing upstream is missing or in progress — or'ed with an hourly
    catch-up: at each ``CATCH_UP_CRON`` tick the latest day is requested if it is still missing. Since
    ``F/snapshots`` and ``F/watermark`` depend on their own previous day, a day waits for the day
    before. With the default ``06:00 UTC`` deadline, a day whose raw data has landed by 05:00 is
    indexed and certified before the freshness deadline. Older days (a correction, a new feature)
    are backfills, requested by the ``published`` step (:mod:`.release`). Runs requested by automation
    hold assets only, so the contract checks of a day run right after it (``check_condition``) and the
    watermark waits until they passed (``all_deps_blocking_checks_passed``) — and then decides from
    their results anyway (:mod:`.certification`).

The sensor that evaluates the conditions, ``feature_platform_automation``, runs by default (Dagster's
own default automation sensor starts stopped).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from typing import Any

import dagster as dg

from feature_platform.engine.partitions import is_data_file, is_hidden, partition_day
from feature_platform.orchestration.catalogue import Catalogue, SourceInfo
from feature_platform.orchestration.keys import RAW_GROUP, raw_key
from feature_platform.orchestration.resources import DataLocationsResource
from feature_platform.storage import open_storage

OBSERVE_CRON = "*/15 * * * *"
CATCH_UP_CRON = "0 * * * *"
AUTOMATION_SENSOR = "feature_platform_automation"


def daily_condition() -> dg.AutomationCondition:
    """When a day of a feature's batch assets runs by itself (see the module docstring)."""
    tick: dg.AutomationCondition[Any] = dg.AutomationCondition.cron_tick_passed(CATCH_UP_CRON, "UTC")
    catch_up = (
        dg.AutomationCondition.in_latest_time_window()
        & dg.AutomationCondition.missing()
        & tick.since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("latest day still missing (hourly)")
    return (dg.AutomationCondition.eager() | catch_up).with_label("eager, or hourly catch-up")


def check_condition() -> dg.AutomationCondition:
    """A data-contract check of a day runs after each materialisation of that day (when the run that
    materialised it did not include it: automation runs request assets only), never on a day that is
    missing (``eager()`` would request it for a day never checked)."""
    return (
        dg.AutomationCondition.in_latest_time_window()
        & dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated())
        & ~dg.AutomationCondition.any_deps_in_progress()
    ).with_label("after each materialisation of the day")


def certify_condition() -> dg.AutomationCondition:
    """The watermark of the latest day, once its indexing is done and its blocking checks passed."""
    return (dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()).with_label(
        "eager, once the day's contract checks passed")


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    with warnings.catch_warnings():  # include_sources (the observable raw sources) is "beta" in 1.13
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        target = dg.AssetSelection.all(include_sources=True)
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR, target=target,
        default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
        emit_backfills=False,  # one run per request: a backfill cannot carry the raw sources' observations
        description="Evaluates the automation conditions: raw sources observed, each feature's latest day "
        "indexed, checked and certified as soon as its raw data arrives (hourly catch-up otherwise).",
    )


def raw_source_assets(catalogue: Catalogue, partitions_def: dg.PartitionsDefinition) -> list[dg.SourceAsset]:
    with warnings.catch_warnings():  # observable_source_asset is "beta" in 1.13
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        return [_observable(source, partitions_def) for source in catalogue.sources.values()]


def _observable(source: SourceInfo, partitions_def: dg.PartitionsDefinition) -> dg.SourceAsset:
    events = source.kind == "events"

    @dg.observable_source_asset(
        key=raw_key(source.name), group_name=RAW_GROUP,
        description=source.description or f"Raw {source.kind} source {source.name}.",
        partitions_def=partitions_def if events else None,
        automation_condition=dg.AutomationCondition.cron_tick_passed(OBSERVE_CRON, "UTC"),
        metadata={"path": source.path or "", "kind": source.kind}, tags={"source_kind": source.kind},
    )
    def observe(data_locations: DataLocationsResource) -> dg.DataVersion | dg.DataVersionsByPartition:
        files = source_files(source, data_locations)
        if not events:
            return dg.DataVersion(_digest(sorted(files.items())))
        by_day: dict[str, list[tuple[str, str]]] = {}
        for key, stamp in files.items():
            partition, _, name = key.partition("/")
            parsed = partition_day(partition, source.partition_key)  # the one rule of engine.partitions
            day = parsed.isoformat() if parsed is not None else ""
            if parsed is not None and is_data_file(name) and partitions_def.has_partition_key(day):
                by_day.setdefault(day, []).append((name, stamp))
        with warnings.catch_warnings():  # DataVersionsByPartition is "beta" in 1.13
            warnings.filterwarnings("ignore", category=dg.BetaWarning)
            return dg.DataVersionsByPartition({day: _digest(sorted(f)) for day, f in by_day.items()})

    return observe


def source_files(source: SourceInfo, data_locations: DataLocationsResource) -> dict[str, str]:
    """Every Parquet file of ``source`` (key relative to its root) with a stamp that changes with it."""
    locations = data_locations.table_locations()
    path = source.path or source.name
    absolute = "://" in path or os.path.isabs(path)
    root = path.rstrip("/") if absolute else f"{locations.raw_root.rstrip('/')}/{path.strip('/')}"
    storage = open_storage(root, locations.s3, client_factory=locations.s3_client_factory, what="raw source")
    files: dict[str, str] = {}
    for key in storage.list_keys(""):
        if not is_data_file(key.rsplit("/", 1)[-1]) or any(is_hidden(part) for part in key.split("/")):
            continue  # not data: a staging file, a marker, a folder set aside (engine.partitions)
        stamp = ""
        if "://" not in root:
            stat = os.stat(os.path.join(root, key))
            stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
        files[key] = stamp
    return files


def _digest(items: Any) -> str:
    return hashlib.sha256(repr(items).encode()).hexdigest()[:32]
