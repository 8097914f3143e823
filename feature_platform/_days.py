"""The days the platform can index: one rule for every command that names or makes a day partition.

``batch-index`` refuses a day outside it, training-set examples outside it are refused, and ``demo-data``
refuses to write a partition outside it (it would make raw data no command can index).
"""

from __future__ import annotations

from datetime import date

FIRST_DAY = date(2000, 1, 1)
"""The first day with valid events: an event before 2000-01-01 is rejected (a client with a broken clock)."""
LAST_DAY = date(9999, 12, 30)
"""The last day: a day's end (the next midnight) must still be a date."""


def day_range_problem(day: date) -> str:
    """Why ``day`` cannot be a day partition, or "" when it can."""
    if FIRST_DAY <= day <= LAST_DAY:
        return ""
    return (
        f"days run from {FIRST_DAY.isoformat()} (events before it are invalid) to {LAST_DAY.isoformat()}, "
        f"not {day.isoformat()}"
    )


__all__ = ["FIRST_DAY", "LAST_DAY", "day_range_problem"]
