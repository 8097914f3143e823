"""The freshness and completeness profile of one served sequence (every response carries it).

Fields are documented in docs/ARCHITECTURE.md ("Online store and serving", Profile). The completeness
flags, each against the feature's own compiled ``freshness``:

* ``batch_missing``: no batch day is loaded for the feature (nor in the user's part);
* ``batch_stale``: ``now - batch_as_of > batch_max_lag_seconds`` (``batch_as_of`` = end of the loaded day;
  exactly at the limit is not stale);
* ``stream_missing``: no streaming indexer has reported a heartbeat for the feature;
* ``stream_stale``: the stream is missing, or its heartbeat is older than ``streaming_max_lag_seconds``
  (the indexer stopped), or the lag the indexer last reported (``StreamStatus.lag_seconds``: arrival time
  of the log head minus that of the newest entry it committed) is above it: a live indexer far behind the
  log serves old "now" as surely as a dead one. The same rule as Dagster's ``stream_freshness`` check on
  ``stream/F``, so the two never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feature_platform.runtimes.online import SequenceRequest, ServedSequence, StreamStatus, batch_end, from_micros
from feature_platform.runtimes.serve._registry import LoadedFeature


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stream_stale(heartbeat: datetime | None, status: StreamStatus | None, limit_seconds: float,
                 now: datetime) -> bool:
    """Whether the "now" part is missing, silent for longer than the limit, or reported behind by more."""
    if heartbeat is None:
        return True
    if (now - heartbeat).total_seconds() > limit_seconds:
        return True
    return status is not None and (status.lag_seconds or 0.0) > limit_seconds


def profile(loaded: LoadedFeature, served: ServedSequence, req: SequenceRequest, now: datetime) -> dict[str, Any]:
    """The profile of ``served`` (one user's answer) as of ``now``."""
    feature = loaded.artefact.feature
    state = loaded.state
    loaded_day = state.batch_day if state is not None else None
    day = served.batch_day or loaded_day
    as_of_batch = batch_end(day) if day is not None else None
    as_of = max(now, as_of_batch) if as_of_batch is not None else now
    heartbeat = state.stream_heartbeat_at if state is not None else None
    newest = from_micros(served.newest_stream_event_us) if served.newest_stream_event_us is not None else None
    freshness = feature.freshness
    return {
        "feature_id": feature.id,
        "artefact_hash": loaded.content_hash,
        "batch_artefact_hash": served.batch_artefact_hash or (state.batch_artefact_hash if state else None),
        "batch_day": day.isoformat() if day is not None else None,
        "batch_as_of": iso(as_of_batch),
        "as_of": iso(as_of),
        "stream_newest_event_at": iso(newest),
        "stream_lag_seconds": (now - newest).total_seconds() if newest is not None else None,
        "count": served.count,
        "limit": min(req.limit or feature.max_length, feature.max_length),
        "truncated": served.truncated,
        "tail_events_merged": served.merged_tail,
        "completeness": {
            "batch_missing": day is None,
            "batch_stale": as_of_batch is None
            or (now - as_of_batch).total_seconds() > freshness.batch_max_lag_seconds,
            "stream_missing": heartbeat is None,
            "stream_stale": stream_stale(heartbeat, loaded.stream, freshness.streaming_max_lag_seconds, now),
        },
    }
