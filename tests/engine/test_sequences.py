"""Sequence semantics: a hand-written example of every rule, and the engine against the reference."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feature_platform.artefact import Artefact
from feature_platform.engine import POSITION, dedup_and_rank, events_schema
from tests.reference import canonical_rows, reference_sequences

AS_OF = datetime(2024, 4, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
MICRO = timedelta(microseconds=1)


def shrink(artefact: Artefact, *, max_length: int, retention: timedelta) -> Artefact:
    feature = artefact.feature.model_copy(
        update={"max_length": max_length, "retention_seconds": int(retention.total_seconds())}
    )
    return artefact.model_copy(update={"feature": feature})


def events_frame(artefact: Artefact, rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    schema = events_schema(artefact)
    return pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema)


def ev(user: int, event_id: str, at: datetime, event_type: str = "click", item: int | None = None) -> dict[str, Any]:
    return {"user_id": user, "event_id": event_id, "timestamp": at, "event_type": event_type, "item_id": item}


def sequences(frame: pl.DataFrame) -> dict[int, list[tuple[str, str, int | None, int]]]:
    out: dict[int, list[tuple[str, str, int | None, int]]] = {}
    for row in frame.to_dicts():
        out.setdefault(row["user_id"], []).append((row["event_id"], row["event_type"], row["item_id"], row[POSITION]))
    return out


def test_hand_written_example(engagements: Artefact) -> None:
    artefact = shrink(engagements, max_length=3, retention=timedelta(days=90))
    cutoff = AS_OF - timedelta(days=90)
    rows = [
        # user 1: a timestamp tie, a duplicate event id, and more than N events
        ev(1, "a", AS_OF - HOUR, item=1),
        ev(1, "b", AS_OF - HOUR),  # same instant as "a": the larger event id ranks first
        ev(1, "a", AS_OF - HOUR / 2, item=2),  # a later copy of "a": the most recent copy is kept
        ev(1, "f", AS_OF - 2 * HOUR),
        ev(1, "c", cutoff),  # in the window, but beyond N = 3
        ev(1, "e", AS_OF),  # at as_of exactly: not yet visible
        # user 2: fewer than N events, the retention edge, an event id under two event types
        ev(2, "c2", cutoff),  # exactly at the retention cutoff: kept
        ev(2, "d2", cutoff - MICRO),  # one microsecond older: dropped
        ev(2, "g", AS_OF - 5 * HOUR, "click"),
        ev(2, "g", AS_OF - 5 * HOUR, "save"),  # same id and time: the larger event_type wins
        # user 3: nothing in the window
        ev(3, "z", AS_OF + HOUR),
        ev(3, "y", cutoff - HOUR),
    ]
    result = dedup_and_rank(events_frame(artefact, rows).lazy(), artefact, as_of=AS_OF).collect()
    assert sequences(result) == {
        1: [("a", "click", 2, 0), ("b", "click", None, 1), ("f", "click", None, 2)],
        2: [("g", "save", None, 0), ("c2", "click", None, 1)],
    }
    assert result.schema[POSITION] == pl.Int32
    assert result.columns == [*events_schema(artefact), POSITION]

    reference = reference_sequences(rows, artefact, AS_OF)
    assert {
        u: [(e["event_id"], e["event_type"], e["item_id"], e[POSITION]) for e in s] for u, s in reference.items()
    } == (sequences(result))


def test_a_smaller_n_and_naive_as_of(engagements: Artefact) -> None:
    artefact = shrink(engagements, max_length=3, retention=timedelta(days=1))
    rows = [ev(1, str(i), AS_OF - i * HOUR) for i in range(1, 6)]
    naive = AS_OF.replace(tzinfo=None)
    result = dedup_and_rank(events_frame(artefact, rows).lazy(), artefact, as_of=naive, max_length=2).collect()
    assert [r["event_id"] for r in result.to_dicts()] == ["1", "2"]


def test_dedup_on_a_field_treats_nulls_as_equal(searches: Artefact) -> None:
    artefact = shrink(searches, max_length=10, retention=timedelta(days=1))
    rows = [
        {**ev(1, "q1", AS_OF - 3 * HOUR, "search_query"), "query_norm": "red shoes"},
        {**ev(1, "q2", AS_OF - 2 * HOUR, "search_query"), "query_norm": "red shoes"},
        {**ev(1, "q3", AS_OF - 4 * HOUR, "search_query"), "query_norm": None},
        {**ev(1, "q4", AS_OF - 5 * HOUR, "search_query"), "query_norm": None},
        {**ev(1, "q5", AS_OF - 6 * HOUR, "search_query"), "query_norm": "cats"},
    ]
    result = dedup_and_rank(events_frame(artefact, rows).lazy(), artefact, as_of=AS_OF).collect()
    assert result["event_id"].to_list() == ["q2", "q3", "q5"]
    assert result[POSITION].to_list() == [0, 1, 2]


def test_per_row_as_of_gives_point_in_time_sequences(engagements: Artefact) -> None:
    """Training sets: each (user, example time) is its own sequence, of events strictly before it."""
    artefact = shrink(engagements, max_length=2, retention=timedelta(days=1))
    rows = [ev(1, "a", AS_OF - 3 * HOUR), ev(1, "b", AS_OF - 2 * HOUR), ev(1, "c", AS_OF - HOUR)]
    examples = pl.DataFrame(
        {"user_id": [1, 1], "label_time": [AS_OF - 2 * HOUR, AS_OF]},
        schema={"user_id": pl.Int64, "label_time": pl.Datetime("us", "UTC")},
    )
    joined = examples.lazy().join(events_frame(artefact, rows).lazy(), on="user_id")
    result = dedup_and_rank(joined, artefact, as_of="label_time").collect()
    got = [(r["label_time"], r["event_id"], r[POSITION]) for r in result.to_dicts()]
    assert got == [(AS_OF - 2 * HOUR, "a", 0), (AS_OF, "c", 0), (AS_OF, "b", 1)]


def test_max_length_must_be_positive(engagements: Artefact) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        dedup_and_rank(events_frame(engagements, []).lazy(), engagements, as_of=AS_OF, max_length=0)


# --------------------------------------------------------------------------------------- property

INSTANTS = st.sampled_from([AS_OF - k * HOUR for k in range(0, 9)] + [AS_OF - 6 * HOUR - MICRO, AS_OF + HOUR])
EVENT = st.fixed_dictionaries(
    {
        "user_id": st.integers(1, 3),
        "event_id": st.sampled_from(["a", "b", "c", "d", "e"]),
        "timestamp": INSTANTS,
        "event_type": st.sampled_from(["click", "save", "search_query"]),
        "item_id": st.one_of(st.none(), st.integers(1, 3)),
        "query_norm": st.one_of(st.none(), st.sampled_from(["red", "blue"])),
    }
)
# Rows equal on (user, timestamp, event_id, event_type) are copies of one event (see the spec).
EVENTS = st.lists(
    EVENT, max_size=30, unique_by=lambda e: (e["user_id"], e["timestamp"], e["event_id"], e["event_type"])
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=EVENTS, max_length=st.integers(1, 4), which=st.sampled_from(["engagements", "searches"]))
def test_engine_agrees_with_reference(
    request: pytest.FixtureRequest, rows: list[dict[str, Any]], max_length: int, which: str
) -> None:
    artefact = shrink(request.getfixturevalue(which), max_length=max_length, retention=6 * HOUR)
    frame = events_frame(artefact, rows)
    result = dedup_and_rank(frame.lazy(), artefact, as_of=AS_OF).collect()
    columns = list(frame.columns)
    by_user: dict[Any, list[dict[str, Any]]] = {}
    for row in result.to_dicts():
        by_user.setdefault(row["user_id"], []).append(row)
    reference = reference_sequences([{c: r.get(c) for c in columns} for r in rows], artefact, AS_OF)
    assert by_user.keys() == reference.keys()
    for user, expected in reference.items():
        assert canonical_rows(by_user[user]) == canonical_rows(expected)
        assert [r[POSITION] for r in by_user[user]] == list(range(len(expected)))
        assert [r["event_id"] for r in by_user[user]] == [r["event_id"] for r in expected]
