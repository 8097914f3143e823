"""The watermark: which days of a feature are certified (complete and past their data contracts).

A certified day is what consumers trust — the online load, training sets, anyone picking "the latest
good snapshot" — so the marker and its reader live here, next to the tables, where those consumers can
reach them without importing the orchestrator that decides *when* a day is certified.

Layout: one single-row Parquet file per certified day, ``<tables_root>/<f>/watermark/dt=D/part-00000.parquet``
(columns ``day, feature_id, artefact_hash, snapshot_users, certified_at, run_id``), readable as a table
by polars and DuckDB like the others.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from feature_platform.errors import CertificationRefusedError, SourceDataError
from feature_platform.runtimes.batch._locations import PART_FILE, PARTITION_KEY, TableLocations, partition_name
from feature_platform.runtimes.batch._tables import FeatureTables, parquet_bytes

WATERMARK = "watermark"


@dataclass(frozen=True)
class Certification:
    """One certified day: which artefact built it and how many users its snapshot holds."""

    feature_id: str
    day: date
    artefact_hash: str
    snapshot_users: int
    run_id: str
    certified_at: datetime | None = None


def watermark_key(feature_id: str, day: date) -> str:
    return f"{feature_id}/{WATERMARK}/{partition_name(day)}/{PART_FILE}"


def certify_day(locations: TableLocations, feature_id: str, day: date, run_id: str) -> Certification:
    """Certify ``day``: refused unless it is indexed (its tables passed their contracts: the indexer
    promotes nothing else), its snapshot complete and still current. Writes the watermark row atomically.

    Whoever calls it — a Dagster run, a separate run the daemon launched, the CLI — gets the same
    verdict, because it is computed here from what is stored, not from which steps ran before.
    """
    tables = FeatureTables(feature_id, locations)
    manifest = tables.manifest(day)
    where = f"{feature_id} for {day.isoformat()}"
    if manifest is None:
        msg = f"cannot certify {where}: the day is not indexed (or its last indexing failed its contracts)"
        raise CertificationRefusedError(msg)
    if not manifest.complete:
        listed = ", ".join(d.isoformat() for d in manifest.missing_days[:10])
        msg = (
            f"cannot certify {where}: its snapshot is incomplete — {len(manifest.missing_days)} day(s) of its "
            f"window were not indexed when it was built ({listed}); index them and re-index up to {day.isoformat()}"
        )
        raise CertificationRefusedError(msg)
    changed = tables.changed_inputs(day)
    if changed:
        msg = (
            f"cannot certify {where}: its snapshot is stale (the events of {changed[0].isoformat()} changed after "
            f"it was built); re-index {changed[0].isoformat()}..{day.isoformat()}"
        )
        raise CertificationRefusedError(msg)
    certification = Certification(
        feature_id=feature_id, day=day, artefact_hash=manifest.artefact_hash, snapshot_users=manifest.snapshot_users,
        run_id=run_id, certified_at=datetime.now(UTC),
    )
    frame = pl.DataFrame(
        [
            {
                "day": certification.day,
                "feature_id": certification.feature_id,
                "artefact_hash": certification.artefact_hash,
                "snapshot_users": certification.snapshot_users,
                "certified_at": certification.certified_at,
                "run_id": certification.run_id,
            }
        ]
    )
    tables.storage.put(watermark_key(feature_id, day), parquet_bytes(frame))
    return certification


def read_certification(feature_id: str, day: date, locations: TableLocations) -> Certification | None:
    """The watermark row of ``day`` (None if the day is not certified)."""
    data = locations.storage().get(watermark_key(feature_id, day))
    if data is None:
        return None
    try:
        row = pl.read_parquet(io.BytesIO(data)).row(0, named=True)
        return Certification(
            feature_id=str(row["feature_id"]), day=row["day"], artefact_hash=str(row["artefact_hash"]),
            snapshot_users=int(row["snapshot_users"]), run_id=str(row["run_id"]), certified_at=row["certified_at"],
        )
    except (pl.exceptions.PolarsError, KeyError, IndexError, TypeError, ValueError) as exc:
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        where = watermark_path(locations, feature_id, day)
        msg = (f"the certification of {feature_id} for {day.isoformat()} at {where} is damaged ({reason}): "
               "delete that file to revoke the certification, then certify the day again")
        raise SourceDataError(msg) from exc


def watermark_path(locations: TableLocations, feature_id: str, day: date) -> str:
    return locations.storage().url(watermark_key(feature_id, day))


def certified_days(feature_id: str, locations: TableLocations) -> list[date]:
    """Every certified day of ``feature_id``, sorted (from the listing: no file is read)."""
    prefix = f"{feature_id}/{WATERMARK}/{PARTITION_KEY}="
    days = set()
    for key in locations.storage().list_keys(prefix):
        name, _, file = key[len(prefix) :].partition("/")
        if file != PART_FILE:
            continue
        with contextlib.suppress(ValueError):
            days.add(date.fromisoformat(name))
    return sorted(days)


def latest_certified_day(feature_id: str, locations: TableLocations) -> date | None:
    """The most recent certified day of ``feature_id``, or None if no day is certified."""
    days = certified_days(feature_id, locations)
    return days[-1] if days else None


def is_indexed(feature_id: str, day: date, locations: TableLocations) -> bool:
    """Whether ``day`` has been indexed (its manifest, the commit point of its tables, exists)."""
    return FeatureTables(feature_id, locations).manifest(day) is not None


def revoke_certifications_from(locations: TableLocations, feature_id: str, day: date) -> list[date]:
    """Revoke the certification of ``day`` and of every later day, latest first, so a reader never sees
    a certified day above an uncertified one it builds on. Returns the days revoked."""
    revoked = [d for d in certified_days(feature_id, locations) if d >= day]
    storage = locations.storage()
    for certified in reversed(revoked):
        storage.delete(watermark_key(feature_id, certified))
    return revoked
