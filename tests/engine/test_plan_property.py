"""Properties of the plan on generated raw events: it agrees with the reference, and the micro-batch
entry point gives exactly what the lazy plan gives."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feature_platform.artefact import Artefact
from feature_platform.engine import MicroBatchPlan, build_feature_frame, run_micro_batch
from tests.engine.rows import HOUR_MS, T0, T0_MS, frame, lookup_frames
from tests.engine.strategies import ISO_TEXT
from tests.reference import canonical_rows, reference_events

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

IDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
USERS = st.integers(1, 4)
CONTEXT = st.sampled_from([None, "", "HomeFeed", "ios", "Android", "web", "us", "GB", "de", "Mx", "ca"])
MILLIS = st.one_of(
    st.integers(-3, 3).map(lambda h: T0_MS + h * HOUR_MS),  # many exact ties
    st.integers(T0_MS - 10 * HOUR_MS, T0_MS + 30 * HOUR_MS),
    st.sampled_from([946_684_799_999, 946_684_800_000, 10**17, -(10**17), 0]),
)


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly values, sometimes null (so most rows are valid events and meet the lookups)."""
    return st.one_of(strategy, strategy, strategy, st.none())


def _engagement(valid: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Raw engagement rows; ``valid`` ones are selected by an event type and pass validation."""
    maybe = (lambda s: s) if valid else nullable
    return st.fixed_dictionaries(
        {
            "event_id": maybe(IDS),
            "user_id": maybe(USERS),
            "pin_id": maybe(st.integers(9, 12)),
            "action": st.sampled_from(
                ["save", "click"] if valid else ["save", "click", "closeup", "hide", None, "SAVE"]
            ),
            "event_ts_ms": MILLIS.filter(lambda ms: 946_684_800_000 <= ms <= T0_MS) if valid else nullable(MILLIS),
            "surface": CONTEXT,
            "device": CONTEXT,
            "country": CONTEXT,
            "dwell_ms": nullable(st.sampled_from([-1, 0, 999, 1_000, 4_999, 5_000, 60_000, 10**6])),
        }
    )


ENGAGEMENT = st.one_of(_engagement(valid=True), _engagement(valid=True), _engagement(valid=False))

QUERY_ALPHABET = "aAbZé!?-_.,' \t\u00a0\u3000İ1२"


def _search(valid: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Raw search rows; ``valid`` ones mostly pass the filter and validation."""
    maybe = (lambda s: s) if valid else nullable
    texts = st.one_of(st.text(QUERY_ALPHABET, max_size=12), st.sampled_from(["  Red SHOES!! ", "red shoes", "?!"]))
    times = st.one_of(
        ISO_TEXT,
        st.sampled_from(["1999-12-31T23:59:59.999999Z", "2000-01-01T00:00:00Z", "2024-01-02T03:04:05Z", "garbage", ""]),
    )
    return st.fixed_dictionaries(
        {
            "query_id": maybe(IDS),
            "user_id": maybe(USERS),
            "query_text": maybe(texts),
            "event_time": ISO_TEXT if valid else nullable(times),
            "surface": CONTEXT,
            "device": CONTEXT,
            "country": CONTEXT,
            "num_results": nullable(st.integers(0, 100)),
        }
    )


SEARCH = st.one_of(_search(valid=True), _search(valid=True), _search(valid=False))

FLOATS_F32 = st.sampled_from([0.5, -1.25, 0.1, 3.0, 1e-3])
LOOKUPS = st.fixed_dictionaries(
    {
        "item_embeddings": st.lists(
            st.fixed_dictionaries(
                {
                    "item_id": nullable(st.integers(9, 12)),
                    "embedding": nullable(st.lists(FLOATS_F32, min_size=1, max_size=3)),
                }
            ),
            min_size=2,
            max_size=6,
        ),
        "item_categories": st.lists(
            st.fixed_dictionaries(
                {
                    "item_id": nullable(st.integers(9, 12)),
                    "category": nullable(st.sampled_from(["art", "food"])),
                    "subcategory": nullable(st.sampled_from(["x", "y"])),
                }
            ),
            min_size=2,
            max_size=6,
        ),
    }
)
MAX_EVENT_TIME = st.one_of(st.none(), st.integers(-5, 30).map(lambda h: T0 + timedelta(hours=h)))


def _engine(
    artefact: Artefact, source: str, rows: list[dict[str, Any]], lookups: dict[str, Any], max_event_time: Any
) -> tuple[pl.DataFrame, pl.DataFrame]:
    plan = build_feature_frame(
        artefact,
        {source: frame(artefact, source, rows).lazy()},
        {name: f.lazy() for name, f in lookup_frames(artefact, lookups).items()},
        max_event_time=max_event_time,
    )
    events, rejects = pl.collect_all([plan.events, plan.rejects])
    return events, rejects


def _check_against_reference(
    artefact: Artefact, source: str, rows: list[dict[str, Any]], lookups: dict[str, Any], max_event_time: Any
) -> None:
    events, rejects = _engine(artefact, source, rows, lookups, max_event_time)
    ref_events, ref_rejects = reference_events(artefact, {source: rows}, lookups, max_event_time=max_event_time)
    assert canonical_rows(events.to_dicts()) == canonical_rows(ref_events)
    engine_rejects = [{**r, "raw": json.loads(r["raw"])} for r in rejects.to_dicts()]
    assert canonical_rows(engine_rejects) == canonical_rows(ref_rejects)


@SETTINGS
@given(rows=st.lists(ENGAGEMENT, min_size=3, max_size=30), lookups=LOOKUPS, max_event_time=MAX_EVENT_TIME)
def test_engagements_agree_with_reference(
    engagements: Artefact, rows: list[dict[str, Any]], lookups: dict[str, Any], max_event_time: datetime | None
) -> None:
    _check_against_reference(engagements, "engagement_events", rows, lookups, max_event_time)


@SETTINGS
@given(rows=st.lists(SEARCH, min_size=3, max_size=30), max_event_time=MAX_EVENT_TIME)
def test_searches_agree_with_reference(
    searches: Artefact, rows: list[dict[str, Any]], max_event_time: datetime | None
) -> None:
    _check_against_reference(searches, "search_events", rows, {}, max_event_time)


@SETTINGS
@given(rows=st.lists(ENGAGEMENT, min_size=3, max_size=30), lookups=LOOKUPS, max_event_time=MAX_EVENT_TIME)
def test_micro_batch_equals_lazy_plan(
    engagements: Artefact, rows: list[dict[str, Any]], lookups: dict[str, Any], max_event_time: datetime | None
) -> None:
    lazy_events, lazy_rejects = _engine(engagements, "engagement_events", rows, lookups, max_event_time)
    events, rejects = run_micro_batch(
        engagements,
        {"engagement_events": frame(engagements, "engagement_events", rows)},
        lookup_frames(engagements, lookups),
        max_event_time=max_event_time,
    )
    assert events.equals(lazy_events)
    assert rejects.equals(lazy_rejects)
    # and collected one at a time (no shared sub-plans), the same again
    plan = build_feature_frame(
        engagements,
        {"engagement_events": frame(engagements, "engagement_events", rows).lazy()},
        {name: f.lazy() for name, f in lookup_frames(engagements, lookups).items()},
        max_event_time=max_event_time,
    )
    assert plan.events.collect().equals(events)
    assert plan.rejects.collect().equals(rejects)


@SETTINGS
@given(
    rows=st.lists(ENGAGEMENT, min_size=3, max_size=30),
    lookups=LOOKUPS,
    max_event_time=MAX_EVENT_TIME,
    cuts=st.lists(st.integers(min_value=0, max_value=30), max_size=3),
)
def test_one_plan_over_many_micro_batches_equals_the_lazy_plan_of_each(
    engagements: Artefact,
    rows: list[dict[str, Any]],
    lookups: dict[str, Any],
    max_event_time: datetime | None,
    cuts: list[int],
) -> None:
    """The plan built once and bound to each micro-batch in turn gives each batch's own result (nothing of
    an earlier batch leaks into a later one), and is built once per input schema and ``max_event_time``."""
    plan = MicroBatchPlan(engagements, lookup_frames(engagements, lookups))
    bounds = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    for start, end in itertools.pairwise(bounds):
        part = rows[start:end]
        events, rejects = plan.run(
            {"engagement_events": frame(engagements, "engagement_events", part)}, max_event_time=max_event_time
        )
        lazy_events, lazy_rejects = _engine(engagements, "engagement_events", part, lookups, max_event_time)
        assert events.equals(lazy_events)
        assert rejects.equals(lazy_rejects)
    assert plan.builds == 1
