"""The per-event-type executor interface, and the default executor that runs a compiled event type.

The split of responsibilities (PRODUCT §5): the *framework* (:mod:`feature_platform.engine.plan`)
owns reading, validation, rejects, the ``event_type`` column and the final projection; an
*executor* owns what is specific to one event type: which raw rows it selects, how they map to
normalised fields, featurisation and enrichment. The framework calls the executor in this order::

    selection() → mapping() → [framework: event_type, validation, rejects] → featurise() → enrich()

:class:`DeclarativeExecutor` does all four from the compiled artefact: the filter and mapping are the
config's expressions, featurisation is the executor plugin named in config (if any) and enrichment
dispatch follows the event type's enrichment list. Everything an executor returns must be row-local
(each output row depends on its input row and lookup tables only), which is what lets the same
executor run lazily over days of files and eagerly over a streaming micro-batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import polars as pl

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.format import Artefact, CompiledEventType
from feature_platform.engine.dtypes import to_polars_dtype
from feature_platform.engine.enrichments import apply_enrichment
from feature_platform.engine.expressions import to_polars
from feature_platform.errors import ArtefactError
from feature_platform.plugins import get_plugin


class EventTypeExecutor(Protocol):
    """What the framework calls, per event type."""

    @property
    def event_type(self) -> CompiledEventType:
        """The compiled event type this executor runs."""
        ...

    def selection(self) -> pl.Expr | None:
        """Predicate over raw columns selecting this event type's rows (``None``: every row).

        A row where it is false *or null* is not an event of this type (and is not a reject).
        """
        ...

    def mapping(self) -> list[pl.Expr]:
        """One aliased expression over raw columns per normalised field."""
        ...

    def featurise(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """Add featurised fields to validated, normalised events. Row-local."""
        ...

    def enrich(self, frame: pl.LazyFrame, lookups: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
        """Add every enrichment's fields, in the configured order. Never changes the row count."""
        ...


class DeclarativeExecutor:
    """The default executor: runs the compiled event type's expressions, plugin and enrichments."""

    def __init__(self, artefact: Artefact, event_type_name: str) -> None:
        self._artefact = artefact
        self._event_type = event_type(artefact, event_type_name)
        source = artefact.sources[self._event_type.source]
        self._raw_schema: dict[str, DType] = {c.name: c.dtype for c in source.columns}
        self._schema: dict[str, DType] = {c.name: c.dtype for c in self._event_type.output_fields}

    @property
    def event_type(self) -> CompiledEventType:
        return self._event_type

    def selection(self) -> pl.Expr | None:
        node = self._event_type.filter
        return None if node is None else to_polars(node, self._raw_schema)

    def mapping(self) -> list[pl.Expr]:
        return [
            to_polars(f.expr, self._raw_schema).cast(to_polars_dtype(f.dtype), strict=False).alias(f.name)
            for f in self._event_type.fields
        ]

    def featurise(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        call = self._event_type.executor
        if call is None:
            return frame
        plugin = get_plugin(call.plugin)
        return plugin.apply(frame, plugin.parse_params(dict(call.params)))

    def enrich(self, frame: pl.LazyFrame, lookups: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
        for name in self._event_type.enrichments:
            enrichment = self._artefact.enrichments.get(name)
            if enrichment is None:
                msg = f"event type '{self._event_type.name}' uses unknown enrichment '{name}'"
                raise ArtefactError(msg)
            frame = apply_enrichment(frame, self._artefact, enrichment, lookups, self._schema)
        return frame


def executor_for(artefact: Artefact, event_type_name: str) -> EventTypeExecutor:
    """The executor the framework uses for an event type (today always the declarative one)."""
    return DeclarativeExecutor(artefact, event_type_name)


def event_type(artefact: Artefact, name: str) -> CompiledEventType:
    """The compiled event type ``name``, or an :class:`ArtefactError` naming the ones there are."""
    found = artefact.event_types.get(name)
    if found is None:
        known = ", ".join(sorted(artefact.event_types)) or "none"
        msg = f"artefact {artefact.feature.id} has no event type '{name}' (it has: {known})"
        raise ArtefactError(msg)
    return found
