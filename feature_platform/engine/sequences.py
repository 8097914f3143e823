"""Sequence semantics: which events make up a user's sequence as of a moment, and in what order.

This docstring is THE definition, shared by batch snapshots, training sets and online serving; the
brute-force ``tests/reference`` implementation follows it line by line.

Given enriched events (in :func:`~feature_platform.engine.plan.events_schema`) and a feature with
``max_length`` N, ``retention_seconds`` R and ``dedup_by`` fields D, the sequence of one key (a user;
for training sets, a user *and* an example time) as of the instant ``as_of`` is:

1. **Window.** Keep events with ``as_of - R <= timestamp < as_of``: strictly before ``as_of`` (an
   event at exactly ``as_of`` is not yet visible — this is what makes training sets point-in-time
   correct) and no older than the retention (an event exactly R before ``as_of`` is kept).
2. **Order.** Sort by ``timestamp`` descending, then ``event_id`` descending, then ``event_type``
   descending (string order). Rows equal on all three are copies of one event; which copy is kept
   is unspecified (copies are expected to be identical).
3. **De-duplicate.** Among events of the same key with equal values of all D fields, keep only the
   first in that order (the most recent; on a timestamp tie the larger ``event_id``). Nulls in D
   compare equal to each other (like SQL ``DISTINCT``). De-duplication happens *after* the window:
   a duplicate outside the window never hides one inside it.
4. **Truncate.** Keep the first N (``max_length``, or a smaller ``n`` the caller asks for).
5. **Position.** ``position`` (int32) numbers the kept events 0, 1, … in that order: 0 is the most
   recent.

The output has the input's columns plus ``position``, sorted by key then position.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine.dtypes import TIMESTAMP
from feature_platform.engine.plan import EVENT_ID, EVENT_TYPE
from feature_platform.engine.plan import TIMESTAMP as TIMESTAMP_FIELD
from feature_platform.engine.validation import as_utc

POSITION = "position"
ORDER_BY = (TIMESTAMP_FIELD, EVENT_ID, EVENT_TYPE)
"""The sort key, every part descending."""


def dedup_and_rank(
    events: pl.LazyFrame,
    artefact: Artefact,
    *,
    as_of: datetime | str,
    keys: Sequence[str] | None = None,
    max_length: int | None = None,
) -> pl.LazyFrame:
    """Each key's sequence as of ``as_of``, one row per kept event (see the module docstring).

    ``as_of`` is either one instant for every row (a naive datetime is taken as UTC) or the name of
    a timestamp column holding each row's own instant (training sets: events joined to labelled
    examples). ``keys`` identify one sequence; by default the entity key, plus the ``as_of`` column
    when ``as_of`` is a column. ``max_length`` defaults to the feature's and may only shrink it.
    """
    feature = artefact.feature
    limit = feature.max_length if max_length is None else min(max_length, feature.max_length)
    if limit < 1:
        msg = f"max_length must be at least 1, got {max_length}"
        raise ValueError(msg)
    if isinstance(as_of, str):
        cutoff = pl.col(as_of).cast(TIMESTAMP)
        group = list(keys) if keys is not None else [feature.entity_key.name, as_of]
    else:
        cutoff = pl.lit(as_utc(as_of), dtype=TIMESTAMP)
        group = list(keys) if keys is not None else [feature.entity_key.name]
    retention = timedelta(seconds=feature.retention_seconds)
    ts = pl.col(TIMESTAMP_FIELD)
    in_window = (ts < cutoff) & (ts >= cutoff - retention)
    dedup = [*group, *(d for d in feature.dedup_by if d not in group)]
    return (
        events.filter(in_window)
        .sort([*group, *ORDER_BY], descending=[False] * len(group) + [True] * len(ORDER_BY), nulls_last=True)
        .unique(subset=dedup, keep="first", maintain_order=True)
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over(group).alias(POSITION))
        .filter(pl.col(POSITION) < limit)
    )
