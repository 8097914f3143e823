"""The impact table: its rows, its documentation and the pattern language."""

from __future__ import annotations

import pytest

from feature_platform.plan import IMPACT_RULES, Impact, classify, impact
from feature_platform.plan._paths import Path, PathPattern, Segment, item, key

M, S, B, X = Impact.METADATA_ONLY, Impact.SERVING_ONLY, Impact.BACKFILL, Impact.BREAKING


def _path(*parts: str) -> Path:
    """``"fields"`` is a key, ``"[x]"`` the named item ``x``."""
    return tuple(item(p[1:-1]) if p.startswith("[") else key(p) for p in parts)


def test_the_docstring_documents_exactly_the_table() -> None:
    assert impact.__doc__ is not None
    documented = []
    for line in impact.__doc__.splitlines():
        words = line.split()
        if len(words) == 3 and words[1] in {i.label for i in Impact}:
            documented.append((words[0], words[1], words[2]))
    table = [(r.pattern.text, r.impact.label, r.production_impact.label) for r in IMPACT_RULES]
    assert documented == table


def test_the_table_ends_with_a_catch_all_backfill() -> None:
    last = IMPACT_RULES[-1]
    assert (last.pattern.text, last.impact, last.production_impact) == ("**", B, B)
    assert classify(_path("something_new", "in", "[the]", "format"), production=True) == (B, "**")


def test_only_the_output_schema_escalates_in_production() -> None:
    escalating = sorted(r.pattern.text for r in IMPACT_RULES if r.impact != r.production_impact)
    assert escalating == ["feature.entity_key.**", "feature.fields.**"]
    assert all(r.production_impact == X for r in IMPACT_RULES if r.impact != r.production_impact)


def test_impact_is_ordered_by_severity() -> None:
    assert sorted([X, M, B, S]) == [M, S, B, X]
    assert [i.label for i in Impact] == ["metadata_only", "serving_only", "backfill", "breaking"]


CASES: list[tuple[tuple[str, ...], Impact, Impact]] = [
    (("feature", "description"), M, M),
    (("feature", "owners"), M, M),
    (("feature", "lifecycle"), M, M),
    (("feature", "tags"), M, M),
    (("feature", "tags", "consumer"), M, M),
    (("event_types", "click", "lifecycle"), M, M),
    (("enrichments", "item_embedding", "owners"), M, M),
    (("sources", "engagement_events", "description"), M, M),
    (("sources", "engagement_events", "columns", "[user_id]", "description"), M, M),
    (("event_types", "click", "output_fields", "[country]", "description"), M, M),
    (("enrichments", "request_context", "output_fields", "[region]", "description"), M, M),
    (("feature", "fields", "[item_id]", "description"), M, M),
    (("feature", "entity_key", "description"), M, M),
    (("feature", "serving_default_length"), S, S),
    (("feature", "freshness", "streaming_max_lag_seconds"), S, S),
    (("feature", "fields"), B, X),
    (("feature", "fields", "[item_id]"), B, X),
    (("feature", "fields", "[item_id]", "dtype"), B, X),
    (("feature", "fields", "[item_id]", "nullable"), B, X),
    (("feature", "entity_key", "dtype"), B, X),
    (("feature", "entity_key", "name"), B, X),
    (("feature", "event_types"), B, B),
    (("feature", "max_length"), B, B),
    (("feature", "retention_seconds"), B, B),
    (("feature", "dedup_by"), B, B),
    (("feature", "order"), B, B),
    (("feature", "freshness", "batch_max_lag_seconds"), B, B),
    (("feature", "freshness", "batch_deadline_cron"), B, B),
    (("event_types", "click"), B, B),
    (("event_types", "click", "filter"), B, B),
    (("event_types", "click", "fields", "[country]", "expr"), B, B),
    (("event_types", "click", "executor", "params", "boundaries_ms"), B, B),
    # a plugin parameter that happens to be called "description" still changes the index
    (("event_types", "click", "executor", "params", "description"), B, B),
    (("event_types", "click", "enrichments"), B, B),
    (("event_types", "click", "output_fields", "[country]", "dtype"), B, B),
    (("enrichments", "item_embedding", "lookup", "columns", "item_embedding"), B, B),
    (("sources", "engagement_events", "batch", "path"), B, B),
    (("sources", "engagement_events", "columns", "[user_id]"), B, B),
    (("sources", "engagement_events", "columns", "[user_id]", "dtype"), B, B),
]


@pytest.mark.parametrize(
    ("parts", "outside", "inside"), CASES, ids=lambda v: ".".join(v) if isinstance(v, tuple) else ""
)
def test_classification(parts: tuple[str, ...], outside: Impact, inside: Impact) -> None:
    path = _path(*parts)
    assert classify(path, production=False)[0] is outside
    assert classify(path, production=True)[0] is inside


@pytest.mark.parametrize("pattern", ["", "a..b", "a[", "a]b", "[x"])
def test_malformed_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(ValueError, match="malformed path pattern"):
        PathPattern.parse(pattern)


def test_pattern_wildcards() -> None:
    fields = PathPattern.parse("feature.fields.**")
    assert fields.matches(_path("feature", "fields"))
    assert fields.matches(_path("feature", "fields", "[x]", "dtype"))
    assert not fields.matches(_path("feature", "fields_x"))
    one = PathPattern.parse("a.*")
    assert one.matches(_path("a", "b")) and not one.matches(_path("a", "[b]")) and not one.matches(_path("a"))
    assert PathPattern.parse("a[*]").matches((Segment("key", "a"), Segment("item", "b")))
    assert PathPattern.parse("{a,b}.c").matches(_path("b", "c"))
