"""Reference of the batch runtime's tables and training sets, by brute force over plain dicts.

Follows the docstring of ``feature_platform.runtimes.batch``:

* :func:`reference_partition` — events and rejects of one raw day partition (the engine reference with
  ``max_event_time = D+1 - 1µs``), replays dropped: one event per ``(event_id, event_type)``, the latest
  timestamp, then the first read, wins;
* :func:`reference_snapshot` — the snapshot rows of day D: every user's sequence as of D+1 over the
  events of all partitions ``<= D`` (no incremental anything);
* :func:`reference_training_set` — each example's sequence over *all* events, as of its own time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from feature_platform.artefact import Artefact
from tests.reference.events import events_columns, reference_events
from tests.reference.sequences import reference_sequences

ONE_MICROSECOND = timedelta(microseconds=1)


def day_end(day: date) -> datetime:
    """D+1 00:00 UTC: the end of ``day``, the instant its snapshot is taken."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def reference_partition(
    artefact: Artefact,
    day: date,
    raw_rows_by_source: Mapping[str, Sequence[dict[str, Any]]],
    lookups: Mapping[str, Sequence[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Events (replays dropped), rejects and the number of replays dropped, of raw partition ``day``."""
    events, rejects = reference_events(
        artefact, raw_rows_by_source, lookups, max_event_time=day_end(day) - ONE_MICROSECOND
    )
    kept: dict[tuple[Any, Any], dict[str, Any]] = {}
    for event in events:  # in read order: the first of equal timestamps stays
        identity = (event["event_id"], event["event_type"])
        if identity not in kept or event["timestamp"] > kept[identity]["timestamp"]:
            kept[identity] = event
    return list(kept.values()), rejects, len(events) - len(kept)


def reference_snapshot(
    artefact: Artefact, events_by_day: Mapping[date, Sequence[dict[str, Any]]], day: date
) -> list[dict[str, Any]]:
    """Rows of snapshot(day): ``user_id``, ``position`` and the events columns, over partitions <= day."""
    history = [e for d, events in events_by_day.items() if d <= day for e in events]
    user = artefact.feature.entity_key.name
    rows: list[dict[str, Any]] = []
    for key, sequence in reference_sequences(history, artefact, day_end(day)).items():
        rows.extend({**event, user: key} for event in sequence)
    return rows


def reference_training_set(
    artefact: Artefact,
    all_events: Iterable[dict[str, Any]],
    examples: Sequence[tuple[Any, datetime]],
) -> list[list[dict[str, Any]]]:
    """Each example's sequence (fields of the events columns but the user, most recent first)."""
    user = artefact.feature.entity_key.name
    fields = [name for name, _ in events_columns(artefact) if name != user]
    by_user: dict[Any, list[dict[str, Any]]] = {}
    for event in all_events:
        by_user.setdefault(event[user], []).append(event)
    out = []
    for key, as_of in examples:
        sequence = reference_sequences(by_user.get(key, []), artefact, as_of).get(key, [])
        out.append([{name: event[name] for name in fields} for event in sequence])
    return out
