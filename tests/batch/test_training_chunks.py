"""``build_training_set`` processes the examples in chunks (per example day, large days by user range).

A chunked run must equal an unchunked one exactly, whatever the chunk size: same rows, same order,
same sequences (embeddings included).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from feature_platform.runtimes.batch import build_training_set
from tests.batch.conftest import DAYS, FEATURES, DemoTables, Published


def _examples(demo_tables: DemoTables, feature_id: str) -> pl.DataFrame:
    """Examples over every day (and before/after the data), in a shuffled order, with repeats."""
    from feature_platform.runtimes.batch import read_events

    events = read_events(feature_id, demo_tables.locations).select("user_id", "timestamp").collect()
    users = events.get_column("user_id").unique().sort().to_list()
    start = datetime(DAYS[0].year, DAYS[0].month, DAYS[0].day, tzinfo=UTC) - timedelta(days=1)
    rows = []
    for i in range(600):
        user = users[(i * 7919) % len(users)] if i % 13 else 10**9  # some users without events
        when = start + timedelta(seconds=(i * 104_729) % ((len(DAYS) + 2) * 86_400))
        rows.append((user, when))
    on_events = events.sample(n=100, seed=3)  # on an event's exact timestamp
    rows += list(zip(on_events.get_column("user_id").to_list(), on_events.get_column("timestamp").to_list(),
                     strict=True))
    rows += rows[:50]  # repeated (user, time) keys
    return pl.DataFrame(
        {"user_id": [u for u, _ in rows], "timestamp": [t for _, t in rows], "label": list(range(len(rows)))},
        schema={"user_id": pl.Int64, "timestamp": pl.Datetime("us", "UTC"), "label": pl.Int64},
    ).sample(fraction=1.0, shuffle=True, seed=5)


@pytest.mark.parametrize("feature_id", FEATURES)
def test_chunked_training_set_equals_unchunked(
    feature_id: str, demo_tables: DemoTables, published: Published
) -> None:
    artefact = published.artefacts[feature_id]
    examples = _examples(demo_tables, feature_id)
    whole = build_training_set(artefact, examples, demo_tables.locations, max_examples_per_chunk=10**9)
    assert whole.get_column("sequence_length").sum() > 0
    for size in (1, 7, 120):
        chunked = build_training_set(artefact, examples, demo_tables.locations, max_examples_per_chunk=size)
        assert chunked.equals(whole), (feature_id, size)
    assert whole.select(examples.columns).equals(examples)


def test_chunk_size_must_be_positive(demo_tables: DemoTables, published: Published) -> None:
    examples = pl.DataFrame({"user_id": [1], "timestamp": [datetime(2026, 11, 2, tzinfo=UTC)]})
    with pytest.raises(ValueError, match="at least 1"):
        build_training_set(published.artefacts[FEATURES[0]], examples, demo_tables.locations,
                           max_examples_per_chunk=0)
