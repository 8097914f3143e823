"""The eager entry point: streaming micro-batches through the very same plan as the batch path.

:class:`MicroBatchPlan` builds :func:`~feature_platform.engine.plan.build_feature_frame` **once** per
artefact, lookup tables, input schema and ``max_event_time``, with a placeholder input per events
source, and binds each micro-batch as that input when it runs: building the plan (a few ms of Python)
is not paid per micro-batch. Each lookup enrichment's join side is computed once
(:class:`~feature_platform.engine.enrichments.PreparedLookups`). The plan runs on polars' in-memory
engine, which has a much smaller fixed cost per query than the streaming engine on a few thousand rows;
the plan, and so the result, is the one the batch indexer runs lazily over days of files.

A :class:`MicroBatchPlan` belongs to one artefact and one version of the lookup tables: when either
changes, build a new one (the streaming indexer keys its plans by artefact hash and lookup version).

With ``check_sources=True`` the micro-batches are raw rows *as read* (integers possibly wider than
declared, e.g. decoded with :func:`~feature_platform.engine.io.wide_schema`, plus carried columns such
as an entry id) and each is first checked against its source's declared schema exactly as the batch
reader checks each file (:func:`~feature_platform.engine.io.split_rows`): rows that break it (a null in
a ``nullable=False`` column, an integer out of its declared range) are not events but rejects, with the
batch's reasons (:func:`~feature_platform.engine.io.contract_rejects`). Which rows break it is a
boolean test per row in the plan's query; the rejects of those rows are a second query over them, run
only for a micro-batch that has some.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine.dtypes import empty_frame
from feature_platform.engine.enrichments import PreparedLookups
from feature_platform.engine.io import breaks_rows, contract_rejects, reported_null_columns, split_rows
from feature_platform.engine.plan import build_feature_frame
from feature_platform.engine.validation import INGEST_DAY
from feature_platform.errors import SourceDataError

MAX_BOUND_PLANS = 8
"""Built plans kept per :class:`MicroBatchPlan` (one per input schema and ``max_event_time``: in the
streaming indexer, one per arrival day in flight)."""

EventsFinish = Callable[[pl.LazyFrame], pl.LazyFrame]


@dataclass
class _Bound:
    inputs: dict[str, pl.DataFrame]
    outputs: list[pl.LazyFrame]
    breaches: list[str] = field(default_factory=list)
    """Sources whose rows that break their declared schema are ``outputs[2:]``, in this order."""
    contract: tuple[dict[str, pl.DataFrame], pl.LazyFrame] | None = None
    """The rejects of those rows (bound like ``inputs``), run only for a micro-batch that has some."""


class MicroBatchPlan:
    """One artefact's plan over in-memory lookup tables, built once and run over many micro-batches.

    ``finish_events``, if given, is appended to the events plan (e.g. the streaming indexer's
    per-batch de-duplication and tail encoding) so it runs in the same query; ``run`` then returns its
    result in place of the events. ``check_sources``: the frames are rows as read, checked against their
    sources' declared schemas first (see the module docstring); any column that is neither declared nor
    ``_ingest_day`` is carried, and ends each reject's raw JSON. Running is serialised per instance (the
    inputs are bound in place).
    """

    def __init__(
        self,
        artefact: Artefact,
        lookups: Mapping[str, pl.DataFrame],
        *,
        finish_events: EventsFinish | None = None,
        check_sources: bool = False,
    ) -> None:
        unknown = sorted(set(lookups) - set(artefact.sources))
        if unknown:
            raise SourceDataError(_unknown_message(artefact, unknown))
        self.artefact = artefact
        self._lookups = PreparedLookups(lookups)
        self._finish = finish_events
        self._check = check_sources
        self._bound: OrderedDict[tuple[Any, ...], _Bound] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0
        """How many plans were built (one per input schema and ``max_event_time`` seen)."""

    def run(
        self,
        frames: Mapping[str, pl.DataFrame],
        *,
        max_event_time: datetime | None = None,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Enriched events (or ``finish_events`` of them) and rejects of raw rows, by events source name.

        An events source of the feature that has no rows in this batch may be left out of ``frames``; a
        name that is not a source of the artefact is an error.
        """
        unknown = sorted(set(frames) - set(self.artefact.sources))
        if unknown:
            raise SourceDataError(_unknown_message(self.artefact, unknown))
        key = (tuple(sorted((name, tuple(frame.schema.items())) for name, frame in frames.items())), max_event_time)
        with self._lock:
            bound = self._bound.get(key)
            if bound is None:
                bound = self._build(frames, max_event_time)
                self._bound[key] = bound
                if len(self._bound) > MAX_BOUND_PLANS:
                    self._bound.popitem(last=False)
            else:
                self._bound.move_to_end(key)
            bound.inputs.update(frames)
            try:
                events, rejects, *broken = pl.collect_all(bound.outputs, engine="in-memory")
            finally:
                for name in frames:
                    bound.inputs.pop(name, None)
            if bound.contract is not None and any(frame.height for frame in broken):
                contract_inputs, contract = bound.contract
                contract_inputs.update(zip(bound.breaches, broken, strict=True))
                try:
                    rejects = pl.concat([rejects, contract.collect(engine="in-memory")], how="vertical")
                finally:
                    contract_inputs.clear()
        return events, rejects

    def _build(self, frames: Mapping[str, pl.DataFrame], max_event_time: datetime | None) -> _Bound:
        inputs: dict[str, pl.DataFrame] = {}
        raw: dict[str, pl.LazyFrame] = {
            name: _placeholder(inputs, name, frame.schema) for name, frame in frames.items()
        }
        breaches: dict[str, pl.LazyFrame] = {}
        if self._check:
            for name, frame in frames.items():
                source = self.artefact.sources[name]
                reported = reported_null_columns(self.artefact, name)
                if not breaks_rows(frame.schema, source, reported_nulls=reported):
                    continue  # nothing to check: a null key column is the plan's own reject
                declared = {c.name for c in source.columns}
                carry = [c for c in frame.schema if c not in declared and c != INGEST_DAY]
                raw[name], breaches[name] = split_rows(
                    raw[name], frame.schema, source, carry=carry, reported_nulls=reported
                )
        for name in self.artefact.feature.event_types:
            source = self.artefact.sources[self.artefact.event_types[name].source]
            raw.setdefault(source.name, empty_frame(source.columns).lazy())
        plan = build_feature_frame(self.artefact, raw, self._lookups, max_event_time=max_event_time)
        events = plan.events if self._finish is None else self._finish(plan.events)
        self.builds += 1
        bound = _Bound(inputs=inputs, outputs=[events, plan.rejects, *breaches.values()], breaches=list(breaches))
        if breaches:
            # the rows that break their source's schema are few: their rejects are a second query, over the
            # collected rows, run only when there are some (its fixed cost is not paid by every micro-batch)
            contract_inputs: dict[str, pl.DataFrame] = {}
            held: dict[str, pl.LazyFrame] = {}
            for name, bad in breaches.items():
                rows = _placeholder(contract_inputs, name, bad.collect_schema())
                # contract_rejects carries the arrival day; a micro-batch without one gets a null day
                held[name] = rows if INGEST_DAY in frames[name].schema else rows.with_columns(
                    pl.lit(None, dtype=pl.Date).alias(INGEST_DAY)
                )
            contract = contract_rejects(self.artefact, held, max_event_time=max_event_time)
            if INGEST_DAY not in plan.rejects.collect_schema():
                contract = contract.drop(INGEST_DAY)
            bound.contract = (contract_inputs, contract)
        return bound


def run_micro_batch(
    artefact: Artefact,
    frames: Mapping[str, pl.DataFrame],
    lookups: Mapping[str, pl.DataFrame],
    *,
    max_event_time: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Enriched events and rejects of one micro-batch of raw rows, by events source name.

    It is :func:`~feature_platform.engine.plan.build_feature_frame` over the frames, collected together
    (so shared sub-plans run once): a one-off :class:`MicroBatchPlan`. A runtime that runs many
    micro-batches keeps its :class:`MicroBatchPlan` instead, so the plan is built once.
    """
    return MicroBatchPlan(artefact, lookups).run(frames, max_event_time=max_event_time)


def _placeholder(inputs: dict[str, pl.DataFrame], name: str, schema: pl.Schema) -> pl.LazyFrame:
    """A lazy input of ``schema`` whose rows are whatever frame is bound to ``inputs[name]`` when it runs."""

    def bound(_: pl.DataFrame) -> pl.DataFrame:
        return inputs[name]

    return pl.LazyFrame(schema=schema).map_batches(bound, schema=schema)


def _unknown_message(artefact: Artefact, unknown: list[str]) -> str:
    return (
        f"micro-batch names source(s) {', '.join(unknown)} "
        f"that artefact {artefact.feature.id} does not read "
        f"(its sources: {', '.join(sorted(artefact.sources))})"
    )
