"""Which raw columns an artefact reads from each source, and who reads them.

The framework checks a source's schema against these requirements *before* building a plan, so a
file or micro-batch that lacks a column fails with an error naming the column, the source and the
config object that needs it, instead of a polars error deep inside the query.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from feature_platform.artefact.format import Artefact
from feature_platform.errors import SourceDataError

Requirements = Mapping[str, tuple[str, ...]]
"""Raw column name → the config objects that read it (sorted, e.g. ``"event type 'click'"``)."""


def required_columns(
    artefact: Artefact, source_name: str, *, event_types: Collection[str] | None = None
) -> dict[str, tuple[str, ...]]:
    """The columns of source ``source_name`` the artefact reads, each with the config objects reading it.

    Events sources are read by event types (their filter and field mappings); lookup tables by the
    lookup enrichments that join them (the key column and the taken columns). ``event_types``
    restricts the answer to some of the artefact's event types.
    """
    needs: dict[str, set[str]] = {}

    def need(column: str, who: str) -> None:
        needs.setdefault(column, set()).add(who)

    names = artefact.feature.event_types if event_types is None else sorted(event_types)
    for name in names:
        event_type = artefact.event_types[name]
        if event_type.source == source_name:
            who = f"event type '{name}'"
            if event_type.filter is not None:
                for column in event_type.filter.columns():
                    need(column, f"{who} (filter)")
            for field in event_type.fields:
                for column in field.expr.columns():
                    need(column, f"{who} (field '{field.name}')")
        for enrichment_name in event_type.enrichments:
            lookup = artefact.enrichments[enrichment_name].lookup
            if lookup is None or lookup.source != source_name:
                continue
            who = f"enrichment '{enrichment_name}'"
            key = artefact.sources[source_name].key_column
            if key is not None:
                need(key, f"{who} (key)")
            for output, column in lookup.columns.items():
                need(column, f"{who} (field '{output}')")
    return {column: tuple(sorted(who)) for column, who in sorted(needs.items())}


def check_columns(available: Collection[str], required: Requirements, *, source: str, where: str = "") -> None:
    """Raise :class:`SourceDataError` listing every required column missing from ``available``."""
    missing = [column for column in required if column not in available]
    if not missing:
        return
    lines = [f"column '{c}' is needed by {', '.join(required[c])}" for c in missing]
    location = f" ({where})" if where else ""
    msg = (
        f"source '{source}'{location} is missing {len(missing)} column(s) the artefact reads: "
        + "; ".join(lines)
        + f". Columns present: {', '.join(sorted(available)) or 'none'}"
    )
    raise SourceDataError(msg)
