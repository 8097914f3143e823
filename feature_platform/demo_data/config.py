"""Parameters of a demo data set: sizes, seed, dates, chunking and defect rates."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from feature_platform._days import day_range_problem
from feature_platform.errors import FeaturePlatformError


class DemoDataError(FeaturePlatformError, ValueError):
    """Invalid demo data parameters, or an output directory the generator will not overwrite."""


LAST_START_DATE = date(2200, 1, 1)
"""The latest first day of a demo data set (the first is the indexer's: :mod:`feature_platform._days`)."""

MAX_CHUNK_ROWS = 4_000_000
"""Upper bound on ``chunk_rows``: event ids reserve 24 bits for the row within a chunk."""


@dataclass(frozen=True)
class DefectRates:
    """Rates of injected defects, as fractions of the rows of each event table.

    Every defective row carries exactly one kind of defect, so the counts in ``_demo_data.json`` add up.

    - ``late``: whole sessions whose events happened on day *d* but are written into day *d + 1*'s
      partition (arriving early in that day). The first day has none (its previous day is outside the
      window), so the overall rate is ``late * (days - 1) / days``.
    - ``null_user_id``: ``user_id`` is null.
    - ``null_event_id``: the id (``event_id`` / ``query_id``) is null although the column is declared
      non-nullable.
    - ``bad_timestamp``: engagement ``event_ts_ms`` out of range (0, seconds instead of milliseconds, or
      the year 2300); search ``event_time`` an unparseable string ("not-a-date", "2026-13-45T99:00:00Z",
      "", a bare epoch number...). Parquet is typed, so a wrong *type* can only appear as such a string.
    - ``duplicate``: an exact replay of another event of the same file (same id, same payload), logged a
      few seconds later (a client retry).
    - ``null_pin_id``: engagement ``pin_id`` is null (engagement events only).
    """

    late: float = 0.006
    null_user_id: float = 0.002
    null_event_id: float = 0.001
    bad_timestamp: float = 0.002
    duplicate: float = 0.004
    null_pin_id: float = 0.001

    @classmethod
    def none(cls) -> DefectRates:
        return cls(late=0.0, null_user_id=0.0, null_event_id=0.0, bad_timestamp=0.0, duplicate=0.0,
                   null_pin_id=0.0)

    @property
    def row_level_total(self) -> float:
        return self.null_user_id + self.null_event_id + self.bad_timestamp + self.duplicate + self.null_pin_id

    def validate(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if not 0.0 <= value <= 0.2:
                msg = f"defect rate {name}={value} must be between 0 and 0.2"
                raise DemoDataError(msg)
        if self.row_level_total > 0.5:
            msg = f"row-level defect rates add up to {self.row_level_total:.3f}; at most 0.5 is allowed"
            raise DemoDataError(msg)


@dataclass(frozen=True)
class DemoDataConfig:
    """What to generate. The defaults make a demo data set in a couple of seconds.

    ``events`` is the number of raw event rows written over all days and both event tables (duplicates
    and late events included): ``round(events * (1 - search_share))`` engagement rows, the rest search
    rows, spread over the days with a weekly pattern (weekends are busier).
    """

    users: int = 2_000
    items: int = 5_000
    days: int = 7
    events: int = 200_000
    seed: int = 7
    start_date: date = date(2026, 11, 1)
    chunk_rows: int = 1_000_000
    search_share: float = 0.15
    missing_item_rate: float = 0.005
    defects: DefectRates = field(default_factory=DefectRates)

    def validate(self) -> None:
        checks: list[tuple[bool, str]] = [
            (1 <= self.users <= 100_000_000, f"users must be between 1 and 100,000,000 (got {self.users})"),
            (1 <= self.items <= 50_000_000, f"items must be between 1 and 50,000,000 (got {self.items})"),
            (1 <= self.days <= 3_660, f"days must be between 1 and 3660 (got {self.days})"),
            (0 <= self.events <= 10_000_000_000, f"events must be between 0 and 1e10 (got {self.events})"),
            (0 <= self.seed < 2**63, f"seed must be between 0 and 2**63 - 1 (got {self.seed})"),
            (1_000 <= self.chunk_rows <= MAX_CHUNK_ROWS,
             f"chunk_rows must be between 1,000 and {MAX_CHUNK_ROWS:,} (got {self.chunk_rows})"),
            (0.0 <= self.search_share <= 1.0,
             f"search_share must be between 0 and 1 (got {self.search_share})"),
            (0.0 <= self.missing_item_rate <= 0.5,
             f"missing_item_rate must be between 0 and 0.5 (got {self.missing_item_rate})"),
            (self.start_date <= LAST_START_DATE,
             f"start_date must be {LAST_START_DATE.isoformat()} or earlier (got {self.start_date})"),
        ]
        for ok, message in checks:
            if not ok:
                raise DemoDataError(message)
        # every day written must be a day batch-index can index: the indexer's rule, not one of its own
        last = self.start_date + timedelta(days=self.days - 1)
        for what, day in (("start_date", self.start_date), ("the last day", last)):
            if problem := day_range_problem(day):
                msg = f"{what} {day.isoformat()} would be a partition batch-index refuses: {problem}"
                raise DemoDataError(msg)
        self.defects.validate()

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["start_date"] = self.start_date.isoformat()
        return data
