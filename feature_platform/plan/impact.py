"""The impact table: which path changes cost what. One table, first matching row wins.

A change is classified by its path into the artefact JSON (see :mod:`feature_platform.plan._paths` for
the pattern syntax: ``*`` one segment, ``{a,b}`` one of these names, ``**`` any depth, ``[*]`` a named
list item). Each row gives the impact for a feature that is not in production and the impact when the
feature is (or was, before this change) ``production``: only the output schema differs between the two,
because consumers of a production feature read a fixed schema and an in-place change breaks them.

Rows, in match order (pattern, impact, impact in production)::

    feature.{description,owners,lifecycle}                            metadata_only  metadata_only
    feature.tags.**                                                   metadata_only  metadata_only
    {event_types,enrichments,sources}.*.{description,owners,lifecycle}  metadata_only  metadata_only
    sources.*.columns[*].description                                  metadata_only  metadata_only
    {event_types,enrichments}.*.output_fields[*].description          metadata_only  metadata_only
    feature.fields[*].description                                     metadata_only  metadata_only
    feature.entity_key.description                                    metadata_only  metadata_only
    feature.serving_default_length                                    serving_only   serving_only
    feature.freshness.streaming_max_lag_seconds                       serving_only   serving_only
    feature.fields.**                                                 backfill       breaking
    feature.entity_key.**                                             backfill       breaking
    feature.{event_types,max_length,retention_seconds,dedup_by,order}  backfill       backfill
    feature.freshness.**                                              backfill       backfill
    event_types.**                                                    backfill       backfill
    enrichments.**                                                    backfill       backfill
    sources.**                                                        backfill       backfill
    **                                                                backfill       backfill

Why each group:

- *metadata_only*: descriptions, owners, tags and lifecycle are documentation; nothing recomputes.
- *serving_only*: the default response length and the streaming lag budget change what serving returns
  or how it is monitored, not what the batch index holds.
- ``feature.fields.**`` / ``feature.entity_key.**``: the output schema. An output field added, removed,
  renamed (removed + added: items are keyed by name), retyped, made nullable or reordered, or the entity
  key changed. The index must be rebuilt (backfill); for a production feature it is also a breaking
  change, refused in place: publish it as a new version instead.
- *backfill*: everything else changes what the batch index holds: the event-type set, filters, field
  expressions, executors and their parameters, enrichments, sources (paths, columns), ``max_length``,
  ``retention_seconds``, ``dedup_by``, ``order`` and batch freshness. The final ``**`` row makes an
  unknown path (a field added to the format later) cost a backfill rather than pass silently.

Whole features: a CREATE costs a backfill (the first indexing); a DELETE costs a backfill (the index is
dropped), or is breaking for a feature that was in production (its consumers lose it).
"""

from __future__ import annotations

from dataclasses import dataclass

from feature_platform.plan._paths import Path, PathPattern
from feature_platform.plan.models import Impact

_M, _S, _B, _X = Impact.METADATA_ONLY, Impact.SERVING_ONLY, Impact.BACKFILL, Impact.BREAKING


@dataclass(frozen=True)
class ImpactRule:
    """One row of the table: a path pattern and its impact outside and inside production."""

    pattern: PathPattern
    impact: Impact
    production_impact: Impact

    def impact_for(self, *, production: bool) -> Impact:
        return self.production_impact if production else self.impact


def _row(pattern: str, impact: Impact, production_impact: Impact | None = None) -> ImpactRule:
    in_production = impact if production_impact is None else production_impact
    return ImpactRule(PathPattern.parse(pattern), impact, in_production)


IMPACT_RULES: tuple[ImpactRule, ...] = (
    # metadata only
    _row("feature.{description,owners,lifecycle}", _M),
    _row("feature.tags.**", _M),
    _row("{event_types,enrichments,sources}.*.{description,owners,lifecycle}", _M),
    _row("sources.*.columns[*].description", _M),
    _row("{event_types,enrichments}.*.output_fields[*].description", _M),
    _row("feature.fields[*].description", _M),
    _row("feature.entity_key.description", _M),
    # serving only
    _row("feature.serving_default_length", _S),
    _row("feature.freshness.streaming_max_lag_seconds", _S),
    # the output schema: breaking in production
    _row("feature.fields.**", _B, _X),
    _row("feature.entity_key.**", _B, _X),
    # what the batch index holds
    _row("feature.{event_types,max_length,retention_seconds,dedup_by,order}", _B),
    _row("feature.freshness.**", _B),
    _row("event_types.**", _B),
    _row("enrichments.**", _B),
    _row("sources.**", _B),
    _row("**", _B),
)
"""The table the module docstring documents (a test keeps the two in step)."""

CREATE_IMPACT = Impact.BACKFILL
"""A new feature needs its first indexing."""


def classify(path: Path, *, production: bool) -> tuple[Impact, str]:
    """The impact of a change at ``path`` and the pattern that decided it.

    >>> from feature_platform.plan._paths import key, item
    >>> classify((key("feature"), key("max_length")), production=True)
    (<Impact.BACKFILL: 3>, 'feature.{event_types,max_length,retention_seconds,dedup_by,order}')
    >>> classify((key("feature"), key("fields"), item("item_id"), key("dtype")), production=True)[0].label
    'breaking'
    >>> classify((key("feature"), key("fields"), item("item_id"), key("dtype")), production=False)[0].label
    'backfill'
    """
    for rule in IMPACT_RULES:
        if rule.pattern.matches(path):
            return rule.impact_for(production=production), rule.pattern.text
    msg = "the impact table must end with a catch-all '**' row"  # unreachable: guarded by a test
    raise AssertionError(msg)


def delete_impact(*, production: bool) -> Impact:
    """Removing a feature drops its index; for a production feature it breaks its consumers."""
    return Impact.BREAKING if production else Impact.BACKFILL
