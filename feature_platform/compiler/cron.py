"""Cron expressions validated the way the runtimes parse them (Dagster's croniter), or stricter.

Dagster turns ``batch_deadline_cron`` into a freshness policy when the code location loads; a cron it
refuses there would break the whole code location. This accepts only the portable 5-field syntax:
numbers in range, ``*``, ``a-b``, ``/step``, lists, and month / weekday names; nothing that croniter
might read differently (``?``, ``L``, ``W``, ``#``, seconds fields, backwards or one-value ranges, which
croniter reads as wrapping or as the whole cycle), and no day of the month that never occurs in the chosen
months, whatever the weekday field says (Dagster refuses or cannot schedule those).
"""

from __future__ import annotations

import re

_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, {m: i for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}),
    ("day-of-week", 0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)
_ITEM = re.compile(r"\A(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?\Z")
_DAYS_IN_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def cron_problem(expression: str) -> str:
    """Why ``expression`` is not a valid 5-field cron, or "" when it is."""
    return parse_cron(expression)[0]


def parse_cron(expression: str) -> tuple[str, list[set[int]]]:
    """``(problem, [minutes, hours, days, months, weekdays])``: the values each field selects, or a problem."""
    parts = expression.split(" ")
    if len(parts) != 5 or any(not p for p in parts) or expression != expression.strip():
        return "it needs exactly 5 fields separated by single spaces", []
    values: list[set[int]] = []
    for part, (label, low, high, names) in zip(parts, _FIELDS, strict=True):
        chosen: set[int] = set()
        for item in part.split(","):
            match = _ITEM.match(item.lower())
            if match is None:
                return f"{label} field {part!r} is not a number, range, list, step or *", []
            star, first, last, step = match.groups()
            if step is not None and int(step) < 1:
                return f"{label} field {part!r} has a step of 0", []
            if star:
                start, end = low, high
            else:
                bounds = []
                for token in (first, last):
                    if token is None:
                        continue
                    number = names.get(token, int(token) if token.isdigit() else None)
                    if number is None or not low <= number <= high:
                        return f"{label} {token!r} is out of range ({low}-{high})", []
                    bounds.append(number)
                start, end = bounds[0], bounds[-1]
                if end < start:
                    return f"{label} range {item!r} runs backwards", []
                if step is not None and last is None:
                    end = high
                if (last is not None or step is not None) and start == end:
                    # croniter (Dagster's parser) reads "5-5", "5-5/2" and "<max>/2" as the whole cycle
                    return (f"{label} {item!r} is a range of one value, which the scheduler reads as every "
                            f"{label}; write {str(start)!r} instead"), []
            chosen.update(range(start, end + 1, int(step) if step else 1))
        values.append(chosen)
    days, months = values[2], values[3]
    # Whatever the weekday field says: the scheduler needs the day of the month to exist (Dagster refuses
    # "30 2 mon" outright and cannot find a run time for "31 4 mon").
    if all(min(days) > _DAYS_IN_MONTH[m] for m in months):
        return "that day of the month never occurs in the chosen month(s)", []
    return "", values
