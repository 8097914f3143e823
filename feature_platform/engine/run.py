"""The eager entry point: one streaming micro-batch through the very same plan as the batch path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine.dtypes import empty_frame
from feature_platform.engine.plan import build_feature_frame
from feature_platform.errors import SourceDataError


def run_micro_batch(
    artefact: Artefact,
    frames: Mapping[str, pl.DataFrame],
    lookups: Mapping[str, pl.DataFrame],
    *,
    max_event_time: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Enriched events and rejects of a micro-batch of raw rows, by events source name.

    It is :func:`~feature_platform.engine.plan.build_feature_frame` over ``.lazy()`` frames, collected
    together (so shared sub-plans run once). An events source of the feature that has no rows in this
    batch may be left out of ``frames``; a name that is not a source of the artefact is an error.
    """
    unknown = sorted(set(frames) - set(artefact.sources)) + sorted(set(lookups) - set(artefact.sources))
    if unknown:
        msg = (
            f"micro-batch names source(s) {', '.join(unknown)} "
            f"that artefact {artefact.feature.id} does not read "
            f"(its sources: {', '.join(sorted(artefact.sources))})"
        )
        raise SourceDataError(msg)
    raw: dict[str, pl.LazyFrame] = {name: frame.lazy() for name, frame in frames.items()}
    for name in artefact.feature.event_types:
        source = artefact.sources[artefact.event_types[name].source]
        raw.setdefault(source.name, empty_frame(source.columns).lazy())
    plan = build_feature_frame(
        artefact, raw, {name: table.lazy() for name, table in lookups.items()}, max_event_time=max_event_time
    )
    events, rejects = pl.collect_all([plan.events, plan.rejects])
    return events, rejects
