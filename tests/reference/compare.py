"""Canonical forms of rows, so engine output and reference output compare as plain values."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any


def canonical(value: Any) -> Any:
    """Datetimes in UTC (whatever tzinfo object), lists as lists, NaN as the string 'NaN'."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    return value


def _sort_key(row: dict[str, Any]) -> str:
    def default(v: Any) -> str:
        if isinstance(v, datetime | date):
            return v.isoformat()
        return repr(v)

    return json.dumps(row, sort_keys=True, default=default)


def canonical_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in canonical form, sorted: a multiset comparison of two row collections."""
    normalised = [canonical(r) for r in rows]
    return sorted(normalised, key=_sort_key)
