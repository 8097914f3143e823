"""Which days may be loaded online: certified ones only, and a refusal that says which case it is.

A day without a watermark is refused, but "never indexed" and "indexed, not certified" call for different
fixes (index it, or find out why its certification was refused or revoked), so the CLI and the Dagster
asset check this before :func:`~feature_platform.runtimes.online.load_day` (which refuses an uncertified
day too, as the last line of defence).
"""

from __future__ import annotations

from datetime import date

from feature_platform.runtimes.batch import Certification, TableLocations, is_indexed, read_certification
from feature_platform.runtimes.online._load import UncertifiedDayError


def uncertified_reason(feature_id: str, day: date, locations: TableLocations) -> str:
    """Why ``day`` of ``feature_id`` has no watermark, as the one-line refusal of an online load."""
    where = f"{feature_id} day {day.isoformat()}"
    if is_indexed(feature_id, day, locations):
        return (
            f"{where} is indexed but not certified (no watermark): refusing to load it online. Its snapshot "
            f"exists but is not trusted: certification was refused or revoked (a failed data contract, an "
            f"incomplete or stale snapshot, an uncertified day before it), or has not run; see the checks of "
            f"{feature_id}/watermark for that day and certify it first"
        )
    return (
        f"{where} is not indexed (no snapshot of that day exists, so no watermark): refusing to load it "
        f"online. Index the day and certify it first (Dagster assets {feature_id}/events, /snapshots, "
        f"/watermark)"
    )


def require_certified(feature_id: str, day: date, locations: TableLocations) -> Certification:
    """The watermark of ``day``, or :class:`UncertifiedDayError` saying which of the two cases it is."""
    certification = read_certification(feature_id, day, locations)
    if certification is None:
        raise UncertifiedDayError(uncertified_reason(feature_id, day, locations))
    return certification
