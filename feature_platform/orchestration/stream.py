"""``stream/F`` (the streaming tail, observed, never materialised) and ``served/F`` (what serving answers).

Lineage: ``raw/<source>`` -> ``stream/F`` -> ``served/F`` <- ``F/online`` (group ``streaming``). The streaming indexer
(``feature-platform stream``, a long-running Deployment next to Dagster, not a Dagster run) writes the
tail and, every second, a :class:`~feature_platform.runtimes.online.StreamStatus` to the online store;
observing ``stream/F`` reads that status (data version = the newest servable event time) and evaluates:

* ``stream_freshness`` (ERROR): the indexer's heartbeat and its lag behind the log head are both within
  the config's ``freshness.streaming_max_lag_seconds`` — a dead or falling-behind indexer fails it;
* ``dead_letter_rate`` (WARN): dead letters / (dead letters + events written) at most
  :data:`MAX_DEAD_LETTER_RATE`.

Schedule the observation with an automation condition or run it from the UI (*Observe sources*).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from feature_platform.artefact.format import FreshnessSpec
from feature_platform.errors import FeaturePlatformError
from feature_platform.orchestration.catalogue import FeatureInfo
from feature_platform.orchestration.keys import dagster_name, raw_key
from feature_platform.runtimes.online import StreamStatus, open_online_store_from_settings
from feature_platform.settings import PlatformSettings

STREAM_FRESHNESS = "stream_freshness"
DEAD_LETTER_RATE = "dead_letter_rate"
MAX_DEAD_LETTER_RATE = 0.05
"""More than 5% malformed events is an upstream problem worth a warning (the demo data has ~3%)."""


STREAM_GROUP = "streaming"
"""Their own group and key prefixes (``stream/F``, ``served/F``): selecting a feature's group or ``F/*`` to
materialise must not pick up an observed asset or the served view, which are not materialisable."""


def stream_key(feature_id: str) -> dg.AssetKey:
    return dg.AssetKey(["stream", dagster_name(feature_id)])


def served_key(feature_id: str) -> dg.AssetKey:
    return dg.AssetKey(["served", dagster_name(feature_id)])


def freshness_result(status: StreamStatus | None, profile: FreshnessSpec, now: datetime) -> dg.AssetCheckResult:
    limit = profile.streaming_max_lag_seconds
    if status is None:
        return dg.AssetCheckResult(check_name=STREAM_FRESHNESS, passed=False, severity=dg.AssetCheckSeverity.ERROR,
                                   metadata={"reason": "no streaming indexer has reported for this feature"})
    silence = (now - status.heartbeat_at).total_seconds()
    lag = status.lag_seconds or 0.0
    passed = silence <= limit and lag <= limit
    return dg.AssetCheckResult(
        check_name=STREAM_FRESHNESS, passed=passed, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"heartbeat_age_seconds": round(silence, 3), "lag_seconds": lag, "lag_entries": status.lag_entries,
                  "streaming_max_lag_seconds": limit,
                  "newest_event_at": status.newest_event_at.isoformat() if status.newest_event_at else "none"},
    )


def dead_letter_result(status: StreamStatus | None) -> dg.AssetCheckResult:
    dead = status.dead_letters if status else 0
    written = status.events_written if status else 0
    rate = dead / max(1, dead + written)
    return dg.AssetCheckResult(
        check_name=DEAD_LETTER_RATE, passed=rate <= MAX_DEAD_LETTER_RATE, severity=dg.AssetCheckSeverity.WARN,
        metadata={"dead_letters": dead, "events_written": written, "rate": round(rate, 5),
                  "max_rate": MAX_DEAD_LETTER_RATE},
    )


def observation(feature_id: str, status: StreamStatus | None, profile: FreshnessSpec,
                now: datetime) -> dg.ObserveResult:
    newest = status.newest_event_at.isoformat() if status and status.newest_event_at else "none"
    metadata: dict[str, Any] = {"newest_event_at": newest}
    if status is not None:
        metadata |= {"artefact_hash": status.artefact_hash, "heartbeat_at": status.heartbeat_at.isoformat(),
                     "lag_seconds": status.lag_seconds or 0.0, "lag_entries": status.lag_entries,
                     "events_written": status.events_written, "dead_letters": status.dead_letters}
    return dg.ObserveResult(asset_key=stream_key(feature_id), data_version=dg.DataVersion(newest), metadata=metadata,
                            check_results=[freshness_result(status, profile, now), dead_letter_result(status)])


def stream_definitions(info: FeatureInfo, online: dg.AssetKey | None = None) -> list[Any]:
    """``stream/F`` (observable, with its two checks) and ``served/F``, for a feature that reads a stream."""
    artefact = info.artefact
    if artefact is None or not any(s.stream is not None for s in artefact.sources.values()):
        return []
    streamed = sorted(n for n, s in artefact.sources.items() if s.stream is not None)
    key = stream_key(info.feature_id)
    spec = dg.AssetSpec(
        key, deps=[raw_key(n) for n in streamed], group_name=STREAM_GROUP, kinds={"redis"},
        description=f"The streaming tail of {info.feature_id}: events of "
        f"{', '.join(s for s in streamed)} indexed by `feature-platform stream` within a fraction of a second "
        "(observed: the indexer is a long-running Deployment, not a Dagster run).",
        metadata={"streams": ", ".join(artefact.sources[n].stream.stream for n in streamed)},  # type: ignore[union-attr]
    )
    profile = artefact.feature.freshness
    feature_id = info.feature_id

    with warnings.catch_warnings():  # multi_observable_source_asset is "beta" in 1.13; it works
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        observe_stream = _observable(feature_id, key, spec, info, profile)
    served = dg.AssetSpec(
        served_key(feature_id), deps=[key, *([online] if online is not None else [])], group_name=STREAM_GROUP,
        description=f"What serving answers for {feature_id}: the batch part merged with the streaming tail "
        "(dedup_and_rank, as of the request).", kinds={"fastapi"},
    )
    return [observe_stream, served]


def with_stream(info: FeatureInfo, assets: list[Any], checks: list[Any]) -> tuple[list[Any], list[Any]]:
    """``feature_definitions`` plus the streaming assets (the one hook ``code_location`` calls)."""
    online = next((a.key for a in assets if isinstance(a, dg.AssetsDefinition) and len(a.keys) == 1
                   and a.key.path[-1] == "online"), None)
    return [*assets, *stream_definitions(info, online)], checks


def _observable(feature_id: str, key: dg.AssetKey, spec: dg.AssetSpec, info: FeatureInfo,
                profile: FreshnessSpec) -> Any:
    @dg.multi_observable_source_asset(
        specs=[spec], name=f"{dagster_name(feature_id)}__observe_stream", group_name=STREAM_GROUP,
        check_specs=[
            dg.AssetCheckSpec(STREAM_FRESHNESS, asset=key, description="The indexer's heartbeat and lag are within "
                              f"{profile.streaming_max_lag_seconds}s (freshness.streaming_max_lag)."),
            dg.AssetCheckSpec(DEAD_LETTER_RATE, asset=key, description="Malformed events are at most "
                              f"{MAX_DEAD_LETTER_RATE:.0%} of what the stream indexed."),
        ],
    )
    def observe_stream() -> Any:
        store = open_online_store_from_settings(PlatformSettings())
        try:
            status = store.get_stream_status(feature_id)
        except FeaturePlatformError as exc:
            raise dg.Failure(description=f"cannot read the stream status of {feature_id}: {exc}") from exc
        finally:
            store.close()
        yield observation(feature_id, status, profile, datetime.now(UTC))

    return observe_stream
