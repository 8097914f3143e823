"""Reference of the sequence semantics, by brute force (see ``feature_platform.engine.sequences``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from feature_platform.artefact import Artefact


def reference_sequences(
    events: Iterable[dict[str, Any]],
    artefact: Artefact,
    as_of: datetime,
    *,
    max_length: int | None = None,
) -> dict[Any, list[dict[str, Any]]]:
    """Each user's sequence as of ``as_of``: events with a ``position`` field, most recent first."""
    feature = artefact.feature
    limit = feature.max_length if max_length is None else min(max_length, feature.max_length)
    oldest = as_of - timedelta(seconds=feature.retention_seconds)
    by_user: dict[Any, list[dict[str, Any]]] = {}
    for event in events:
        if oldest <= event["timestamp"] < as_of:  # 1. window
            by_user.setdefault(event[feature.entity_key.name], []).append(event)
    sequences: dict[Any, list[dict[str, Any]]] = {}
    for user, candidates in by_user.items():
        candidates.sort(key=lambda e: (e["timestamp"], e["event_id"], e["event_type"]), reverse=True)  # 2.
        kept: list[dict[str, Any]] = []
        seen: set[tuple[Any, ...]] = set()
        for event in candidates:  # 3. first of each dedup value wins
            identity = tuple(_hashable(event[d]) for d in feature.dedup_by)
            if identity in seen:
                continue
            seen.add(identity)
            kept.append(event)
        sequences[user] = [{**e, "position": i} for i, e in enumerate(kept[:limit])]  # 4. and 5.
    return sequences


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
