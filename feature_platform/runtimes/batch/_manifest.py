"""The per-day manifest: what a day's tables hold and what the snapshot was built from.

``<tables_root>/<f>/_manifests/dt=D.json`` is written after the day's three files, so its presence
means the day is complete. It is canonical JSON with no wall-clock time in it, so re-indexing a day
from the same input rewrites identical bytes. A re-run deletes it *before* replacing any file.

``snapshot.inputs`` maps every complete day of the snapshot's retention window to the sha256 of the
events file the snapshot reflects. A snapshot is *current* when those are still the events files of
those days (:func:`inputs_match`); a day re-indexed with different content after the snapshot was
built makes it stale, and the next day then recomputes instead of building on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from feature_platform.errors import SourceDataError

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class FileInfo:
    """One written partition file: its path relative to the feature root, rows and sha256."""

    path: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class DayManifest:
    feature_id: str
    day: date
    artefact_hash: str
    events: FileInfo
    rejects: FileInfo
    snapshot: FileInfo
    duplicate_replays: int
    reject_reasons: Mapping[str, int]
    snapshot_users: int
    incremental: bool
    inputs: Mapping[date, str] = field(default_factory=dict)
    missing_sources: tuple[str, ...] = ()
    window_from: date | None = None
    """The first day of the snapshot's retention window (``inputs`` covers the complete days from it)."""
    missing_days: tuple[date, ...] = ()
    """Days of the window with raw data but no indexed events when the snapshot was built (``--allow-gaps``)."""

    @property
    def complete(self) -> bool:
        """Whether the snapshot covers every day of its window that has raw data (see ``missing_days``)."""
        return not self.missing_days

    def file(self, table: str) -> FileInfo:
        return {"events": self.events, "rejects": self.rejects, "snapshots": self.snapshot}[table]

    def to_bytes(self) -> bytes:
        document: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "feature_id": self.feature_id,
            "day": self.day.isoformat(),
            "artefact_hash": self.artefact_hash,
            "events": {**_file(self.events), "duplicate_replays": self.duplicate_replays},
            "rejects": {**_file(self.rejects), "reasons": dict(sorted(self.reject_reasons.items()))},
            "snapshot": {
                **_file(self.snapshot),
                "users": self.snapshot_users,
                "incremental": self.incremental,
                "inputs": {d.isoformat(): sha for d, sha in sorted(self.inputs.items())},
                **({"window_from": self.window_from.isoformat()} if self.window_from is not None else {}),
                "missing_days": [d.isoformat() for d in self.missing_days],
                "complete": self.complete,
            },
            "missing_sources": sorted(self.missing_sources),
        }
        return (json.dumps(document, sort_keys=True, indent=2, separators=(",", ": ")) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, origin: str) -> DayManifest:
        try:
            doc = json.loads(data)
            if doc.get("format") != MANIFEST_FORMAT:
                msg = f"manifest format {doc.get('format')!r} is not {MANIFEST_FORMAT}"
                raise ValueError(msg)
            return cls(
                feature_id=doc["feature_id"],
                day=date.fromisoformat(doc["day"]),
                artefact_hash=doc["artefact_hash"],
                events=_info(doc["events"]),
                rejects=_info(doc["rejects"]),
                snapshot=_info(doc["snapshot"]),
                duplicate_replays=int(doc["events"]["duplicate_replays"]),
                reject_reasons={str(k): int(v) for k, v in doc["rejects"]["reasons"].items()},
                snapshot_users=int(doc["snapshot"]["users"]),
                incremental=bool(doc["snapshot"]["incremental"]),
                inputs={date.fromisoformat(d): str(s) for d, s in doc["snapshot"]["inputs"].items()},
                missing_sources=tuple(doc["missing_sources"]),
                window_from=_optional_day(doc["snapshot"].get("window_from")),
                missing_days=tuple(date.fromisoformat(d) for d in doc["snapshot"].get("missing_days", [])),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = f"cannot read the batch manifest {origin}: {exc}; re-index that day"
            raise SourceDataError(msg) from exc


def _optional_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def _file(info: FileInfo) -> dict[str, Any]:
    return {"path": info.path, "rows": info.rows, "sha256": info.sha256}


def _info(doc: Mapping[str, Any]) -> FileInfo:
    return FileInfo(path=str(doc["path"]), rows=int(doc["rows"]), sha256=str(doc["sha256"]))


def inputs_match(recorded: Mapping[date, str], current: Mapping[date, str], first: date, last: date) -> bool:
    """Whether the complete days in ``[first, last]`` and their events files are the recorded ones."""
    return not changed_inputs(recorded, current, first, last)


def changed_inputs(recorded: Mapping[date, str], current: Mapping[date, str], first: date, last: date) -> list[date]:
    """The days of ``[first, last]`` whose events file differs from the recorded one, or that were
    complete then and are not now (or the reverse), sorted."""
    days = {d for d in (*recorded, *current) if first <= d <= last}
    return sorted(d for d in days if recorded.get(d) != current.get(d))
