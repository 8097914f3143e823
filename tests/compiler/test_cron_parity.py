"""The compiler's cron rule is Dagster's: a cron validation accepts is one the code location loads and can
schedule, read with the same meaning; one it refuses is one Dagster refuses or cannot schedule, or one that
croniter would read differently from how it is written (kept out on purpose, each with its own message).

Tests may import Dagster; the compile plane may not (import-linter), so ``cron.py`` re-implements the rule.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from dagster._utils.schedules import CroniterShim, is_valid_cron_string
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feature_platform.compiler.cron import cron_problem, parse_cron

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES: tuple[tuple[str, ...], ...] = (
    (), (), (),
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
)
# Forms croniter reads differently from how they are written: validation refuses them with these messages.
_DELIBERATELY_STRICTER = ("is a range of one value", "runs backwards", "is out of range", "is not a number")


def _dagster_schedules(cron: str) -> bool:
    """Dagster accepts the cron and can find its run times (what the code location and its sensor need)."""
    if not is_valid_cron_string(cron):
        return False
    try:
        CroniterShim(cron, datetime(2026, 1, 1)).get_next(datetime)
    except Exception:  # croniter's CroniterBadDateError: no date ever matches
        return False
    return True


def _croniter_values(cron: str) -> list[set[int]]:
    expanded = CroniterShim.expand(cron)[0]
    return [
        set(range(low, high + 1)) if "*" in values else {int(v) for v in values}
        for values, (low, high) in zip(expanded, _RANGES, strict=True)
    ]


@st.composite
def _value(draw: st.DrawFn, index: int, at_least: int | None = None) -> tuple[int, str]:
    low, high = _RANGES[index]
    number = draw(st.integers(low if at_least is None else at_least, high))
    names = _NAMES[index]
    use_name = bool(names) and draw(st.booleans())
    return number, (names[number - low] if use_name else str(number))


@st.composite
def _item(draw: st.DrawFn, index: int) -> str:
    kind = draw(st.sampled_from(["star", "value", "range"]))
    if kind == "star":
        text = "*"
    elif kind == "value":
        text = draw(_value(index))[1]
    else:
        first, first_text = draw(_value(index))
        text = f"{first_text}-{draw(_value(index, at_least=first))[1]}"
    if draw(st.integers(0, 3)) == 0:
        text += f"/{draw(st.integers(1, 40))}"
    return text


@st.composite
def _portable_cron(draw: st.DrawFn) -> str:
    """Cron strings in the portable syntax (numbers and names in range, ranges, steps, lists, *), weighted
    towards the day/month/weekday combinations where the rules differ."""
    fields = []
    for index in range(5):
        if index == 2 and draw(st.booleans()):
            fields.append(draw(st.sampled_from(["29", "30", "31", "30,31", "30-31", "31/5", "28-31/3"])))
            continue
        if index == 3 and draw(st.booleans()):
            fields.append(draw(st.sampled_from(["2", "feb", "4", "2,4", "4,6,9,11", "2-2/5", "feb-apr/2"])))
            continue
        items = draw(st.lists(_item(index), min_size=1, max_size=3))
        fields.append(",".join(items))
    return " ".join(fields)


_EXAMPLES = (
    "0 6 30 2 mon",  # the review's example: refused by Dagster, accepted by validation before the fix
    "0 6 30 2 *", "0 6 31 4 mon", "0 6 31 4 0-6", "0 6 31 2,4 *", "0 6 29 2 *", "0 6 * * *", "0 6 1 9-9 *",
    "59/2 * * * *", "0 6 * 12/2 *", "0 6 31-31 * *", "0 6 30 2 */2", "0 6 */30 2 *", "30 2 * * mon-fri",
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_portable_cron())
@example("0 6 30 2 mon")
def test_validation_accepts_a_cron_iff_dagster_can_schedule_it_with_the_same_meaning(cron: str) -> None:
    problem, values = parse_cron(cron)
    if problem == "":
        assert _dagster_schedules(cron), cron
        assert values == _croniter_values(cron), f"{cron}: croniter reads other values"
    else:
        assert not _dagster_schedules(cron) or any(reason in problem for reason in _DELIBERATELY_STRICTER), (
            f"{cron!r} is refused ({problem}) but Dagster schedules it"
        )


@pytest.mark.parametrize("cron", _EXAMPLES)
def test_cron_examples_match_dagster(cron: str) -> None:
    problem, values = parse_cron(cron)
    if problem == "":
        assert _dagster_schedules(cron)
        assert values == _croniter_values(cron)
    else:
        assert not _dagster_schedules(cron) or "is a range of one value" in problem


@given(st.text(alphabet="0123456789*/-,LW?#ab ", min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_any_string_validation_accepts_loads_in_dagster(cron: str) -> None:
    if cron_problem(cron) == "":
        assert _dagster_schedules(cron), cron


def test_a_restricted_weekday_does_not_make_an_impossible_day_valid() -> None:
    assert "never occurs" in cron_problem("0 6 30 2 mon")
    assert "never occurs" in cron_problem("0 6 31 4 mon-fri")
    assert "scheduler reads as every month" in cron_problem("0 6 1 9-9 *")
