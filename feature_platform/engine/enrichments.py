"""Apply one compiled enrichment to a frame of normalised events.

* ``lookup``: LEFT join the lookup table on ``event_field == source.key_column`` and take
  ``columns`` renamed to their output names. The table is first reduced to one row per key (rows
  with a null key are dropped; of duplicate keys the first row in table order wins), so the join
  never loses or duplicates an event; an event whose key has no match gets nulls.
* ``derived``: each field is an expression over the frame as it is *before* this enrichment (the
  fields of one derived enrichment do not see each other).
* ``plugin``: the registered executor plugin's ``apply``.

Every output field is cast (non-strict) to its declared type and replaces any column of that name.

:class:`PreparedLookups` holds lookup tables whose join sides (the reduced, typed table above) are
computed once and reused by every plan built over them: the streaming indexer's micro-batches join
against the same in-memory tables thousands of times, so the reduction is done once per table version
instead of once per micro-batch. The join side is the same expression either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.format import Artefact, CompiledEnrichment, LookupSpec
from feature_platform.engine.dtypes import to_polars_dtype
from feature_platform.engine.expressions import to_polars
from feature_platform.engine.requirements import check_columns, required_columns
from feature_platform.errors import ArtefactError, SourceDataError
from feature_platform.plugins import get_plugin

_KEY = "__lookup_key"


class PreparedLookups(Mapping[str, pl.LazyFrame]):
    """Lookup tables (by source name) whose join sides are computed on first use and then reused.

    One instance serves one artefact and one version of its tables: a join side is keyed by the
    enrichment's name and the event field's type, which is all it depends on within one artefact.
    """

    def __init__(self, tables: Mapping[str, pl.DataFrame]) -> None:
        self._tables = {name: table.lazy() for name, table in tables.items()}
        self._sides: dict[tuple[Any, ...], pl.DataFrame] = {}

    def __getitem__(self, name: str) -> pl.LazyFrame:
        return self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def join_side(self, key: tuple[Any, ...], side: pl.LazyFrame) -> pl.LazyFrame:
        """``side`` collected the first time ``key`` is asked for; the collected table thereafter."""
        collected = self._sides.get(key)
        if collected is None:
            collected = self._sides[key] = side.collect()
        return collected.lazy()


def apply_enrichment(
    frame: pl.LazyFrame,
    artefact: Artefact,
    enrichment: CompiledEnrichment,
    lookups: Mapping[str, pl.LazyFrame],
    schema: Mapping[str, DType],
) -> pl.LazyFrame:
    """``frame`` with ``enrichment``'s output fields added; ``schema`` types the frame's fields."""
    if enrichment.kind == "lookup" and enrichment.lookup is not None:
        return _lookup(frame, artefact, enrichment, enrichment.lookup, lookups, schema)
    if enrichment.kind == "derived" and enrichment.derived is not None:
        return frame.with_columns(
            to_polars(f.expr, schema).cast(to_polars_dtype(f.dtype), strict=False).alias(f.name)
            for f in enrichment.derived
        )
    if enrichment.kind == "plugin" and enrichment.plugin is not None:
        plugin = get_plugin(enrichment.plugin.plugin)
        return plugin.apply(frame, plugin.parse_params(dict(enrichment.plugin.params)))
    msg = f"enrichment '{enrichment.name}' of kind '{enrichment.kind}' has no '{enrichment.kind}' section"
    raise ArtefactError(msg)


def _lookup(
    frame: pl.LazyFrame,
    artefact: Artefact,
    enrichment: CompiledEnrichment,
    spec: LookupSpec,
    lookups: Mapping[str, pl.LazyFrame],
    schema: Mapping[str, DType],
) -> pl.LazyFrame:
    source = artefact.sources.get(spec.source)
    if source is None or source.key_column is None:
        msg = f"enrichment '{enrichment.name}' joins '{spec.source}', which is not a lookup source in the artefact"
        raise ArtefactError(msg)
    table = lookups.get(spec.source)
    if table is None:
        msg = (
            f"no lookup table was given for source '{spec.source}', needed by enrichment '{enrichment.name}' "
            f"(lookup tables given: {', '.join(sorted(lookups)) or 'none'})"
        )
        raise SourceDataError(msg)
    needs = required_columns(artefact, spec.source)
    check_columns(table.collect_schema().names(), needs, source=spec.source)

    output_types = {c.name: c.dtype for c in enrichment.output_fields}
    key_type = schema.get(spec.event_field)
    key = pl.col(source.key_column)
    if key_type is not None:
        key = key.cast(to_polars_dtype(key_type), strict=False)
    taken = [
        pl.col(column).cast(to_polars_dtype(output_types[output]), strict=False).alias(output)
        if output in output_types
        else pl.col(column).alias(output)
        for output, column in spec.columns.items()
    ]
    right = (
        table.select(key.alias(_KEY), *taken)
        .filter(pl.col(_KEY).is_not_null())
        .unique(subset=[_KEY], keep="first", maintain_order=True)
    )
    if isinstance(lookups, PreparedLookups):
        right = lookups.join_side((enrichment.name, key_type), right)
    left = frame.drop(list(spec.columns), strict=False)
    return left.join(right, left_on=spec.event_field, right_on=_KEY, how="left", maintain_order="left")
