"""plan_changes over the example artefacts: transitions, paths, impacts and advice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feature_platform.artefact import ColumnSpec, DType, ExprNode, ExprOp
from feature_platform.artefact.format import Artefact
from feature_platform.plan import (
    ChangeKind,
    FeatureDiff,
    Impact,
    PlanError,
    Transition,
    diff_feature,
    plan_changes,
    render_text,
)
from tests.plan.variants import (
    CONFIGS,
    as_version,
    compile_examples,
    drop_field,
    insert_field,
    retype_field,
    with_event_type,
    with_feature,
)

ENGAGEMENTS = "recent_engagements_v1"  # production
CLOSEUPS = "recent_closeups_v1"  # experimental
SEARCHES = "recent_searches_v1"  # staging
BUMP_ADVICE = "bump `version=` on the SequenceFeature to publish it as `{}` alongside the old one"


def _update(artefacts: dict[str, Artefact], changed: Artefact) -> FeatureDiff:
    """Plan ``artefacts`` with one artefact replaced against ``artefacts``; return that feature's diff."""
    compiled = {**artefacts, changed.feature.id: changed}
    plan = plan_changes(compiled, artefacts)
    by_id = {d.feature_id: d for d in plan.diffs}
    others = [d.transition for fid, d in by_id.items() if fid != changed.feature.id]
    assert others == [Transition.UNCHANGED] * (len(artefacts) - 1)
    return by_id[changed.feature.id]


def _paths(diff: FeatureDiff) -> list[tuple[str, str, Impact]]:
    return [(c.path, c.kind.value, c.impact) for c in diff.changes]


def test_identical_sets_have_no_changes(artefacts: dict[str, Artefact]) -> None:
    plan = plan_changes(artefacts, dict(artefacts))
    assert not plan.has_changes
    assert plan.impact is None
    assert plan.breaking == []
    assert [d.feature_id for d in plan.diffs] == [CLOSEUPS, ENGAGEMENTS, SEARCHES]
    assert {d.transition for d in plan.diffs} == {Transition.UNCHANGED}
    assert all(d.changes == [] and d.impact is None and d.advice is None for d in plan.diffs)
    assert render_text(plan) == (
        "No changes: 3 feature(s) up to date.\n"
        "\n"
        "Unchanged (3): recent_closeups_v1, recent_engagements_v1, recent_searches_v1\n"
    )


def test_a_fresh_compile_of_the_same_configs_is_unchanged(artefacts: dict[str, Artefact]) -> None:
    assert not plan_changes(compile_examples(), artefacts).has_changes


def test_compiler_metadata_and_hashes_are_ignored(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    rebuilt = live.model_copy(
        update={
            "compiler_version": "9.9.9",
            "format_version": "1.7",
            "content_hash": "0" * 64,
            "config_hash": "1" * 64,
        }
    )
    diff = diff_feature(rebuilt, live)
    assert diff.transition is Transition.UNCHANGED
    assert diff.old_content_hash == live.content_hash
    assert diff.new_content_hash == "0" * 64


def test_added_feature_is_a_backfill(artefacts: dict[str, Artefact]) -> None:
    live = {k: v for k, v in artefacts.items() if k != CLOSEUPS}
    plan = plan_changes(artefacts, live)
    diff = next(d for d in plan.diffs if d.feature_id == CLOSEUPS)
    assert (diff.transition, diff.impact, diff.changes, diff.advice) == (
        Transition.CREATE,
        Impact.BACKFILL,
        [],
        None,
    )
    assert (diff.old_lifecycle, diff.new_lifecycle) == (None, "experimental")
    assert diff.old_content_hash is None
    assert plan.summary() == {"create": 1, "delete": 0, "update": 0, "unchanged": 2}
    assert plan.breaking == []


def test_removing_a_production_feature_is_breaking(artefacts: dict[str, Artefact]) -> None:
    compiled = {k: v for k, v in artefacts.items() if k != ENGAGEMENTS}
    plan = plan_changes(compiled, artefacts)
    diff = next(d for d in plan.diffs if d.feature_id == ENGAGEMENTS)
    assert (diff.transition, diff.impact) == (Transition.DELETE, Impact.BREAKING)
    assert [d.feature_id for d in plan.breaking] == [ENGAGEMENTS]
    assert diff.advice is not None and "deprecated" in diff.advice
    assert diff.new_content_hash is None


def test_removing_an_experimental_feature_is_a_backfill(artefacts: dict[str, Artefact]) -> None:
    compiled = {k: v for k, v in artefacts.items() if k != CLOSEUPS}
    diff = next(d for d in plan_changes(compiled, artefacts).diffs if d.feature_id == CLOSEUPS)
    assert (diff.transition, diff.impact, diff.advice) == (Transition.DELETE, Impact.BACKFILL, None)


def test_description_change_is_metadata_only(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    diff = _update(artefacts, with_feature(live, description="Saves and clicks."))
    assert diff.transition is Transition.UPDATE
    assert diff.impact is Impact.METADATA_ONLY
    [change] = diff.changes
    assert (change.path, change.kind, change.old, change.new) == (
        "feature.description",
        ChangeKind.CHANGED,
        live.feature.description,
        "Saves and clicks.",
    )
    assert change.rule == "feature.{description,owners,lifecycle}"
    assert diff.advice is None


def test_metadata_of_event_types_sources_and_columns(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    source = live.sources["engagement_events"]
    columns = tuple(
        c.model_copy(update={"description": "who"}) if c.name == "user_id" else c for c in source.columns
    )
    changed = with_event_type(live, "click", owners=("someone-else",), lifecycle="deprecated")
    changed = changed.model_copy(
        update={
            "sources": {
                **changed.sources,
                "engagement_events": source.model_copy(update={"columns": columns}),
            }
        }
    )
    diff = _update(artefacts, with_feature(changed, tags={"consumer": "homefeed-ranker", "tier": "1"}))
    assert _paths(diff) == [
        ("event_types.click.lifecycle", "changed", Impact.METADATA_ONLY),
        ("event_types.click.owners", "changed", Impact.METADATA_ONLY),
        ("feature.tags.tier", "added", Impact.METADATA_ONLY),
        ("sources.engagement_events.columns[user_id].description", "changed", Impact.METADATA_ONLY),
    ]
    assert diff.impact is Impact.METADATA_ONLY


def test_serving_default_length_is_serving_only(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    diff = _update(artefacts, with_feature(live, serving_default_length=50))
    assert _paths(diff) == [("feature.serving_default_length", "changed", Impact.SERVING_ONLY)]
    assert (diff.changes[0].old, diff.changes[0].new) == (100, 50)
    assert diff.impact is Impact.SERVING_ONLY


def test_streaming_lag_is_serving_only_but_batch_lag_is_a_backfill(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[SEARCHES]
    freshness = live.feature.freshness.model_copy(update={"streaming_max_lag_seconds": 60})
    diff = _update(artefacts, with_feature(live, freshness=freshness))
    assert _paths(diff) == [("feature.freshness.streaming_max_lag_seconds", "changed", Impact.SERVING_ONLY)]
    freshness = freshness.model_copy(update={"batch_max_lag_seconds": 3600})
    diff = _update(artefacts, with_feature(live, freshness=freshness))
    assert _paths(diff) == [
        ("feature.freshness.batch_max_lag_seconds", "changed", Impact.BACKFILL),
        ("feature.freshness.streaming_max_lag_seconds", "changed", Impact.SERVING_ONLY),
    ]
    assert diff.impact is Impact.BACKFILL


def test_max_length_is_a_backfill_even_in_production(artefacts: dict[str, Artefact]) -> None:
    diff = _update(artefacts, with_feature(artefacts[ENGAGEMENTS], max_length=600))
    assert _paths(diff) == [("feature.max_length", "changed", Impact.BACKFILL)]
    assert (diff.changes[0].old, diff.changes[0].new) == (500, 600)
    assert (diff.impact, diff.advice) == (Impact.BACKFILL, None)


def test_filter_change_is_one_backfill_at_the_filter(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    new_filter = ExprNode(
        op=ExprOp.EQ, args=(ExprNode(op=ExprOp.COL, name="action"), ExprNode(op=ExprOp.LIT, value="tap"))
    )
    diff = _update(artefacts, with_event_type(live, "click", filter=new_filter))
    [change] = diff.changes
    assert (change.path, change.kind, change.impact) == (
        "event_types.click.filter",
        ChangeKind.CHANGED,
        Impact.BACKFILL,
    )
    assert change.new == new_filter.model_dump(mode="json")
    assert change.old == live.event_types["click"].filter.model_dump(mode="json")  # type: ignore[union-attr]
    assert (
        "~ event_types.click.filter: ((col('action') == 'click') & is_not_null(col('pin_id')))"
        in render_text(
            plan_changes(
                {**artefacts, ENGAGEMENTS: with_event_type(live, "click", filter=new_filter)}, artefacts
            )
        )
    )


def test_executor_params_are_a_backfill(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    executor = live.event_types["click"].executor
    assert executor is not None
    changed = executor.model_copy(update={"params": {**executor.params, "boundaries_ms": [1000, 5000]}})
    diff = _update(artefacts, with_event_type(live, "click", executor=changed))
    assert _paths(diff) == [("event_types.click.executor.params.boundaries_ms", "changed", Impact.BACKFILL)]


def test_enrichment_removed_from_an_event_type_is_a_backfill(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    click = live.event_types["click"]
    # What the compiler would produce: the enrichment leaves the list and its two fields leave the
    # event type's schema; `save` still applies it, so the closure and the feature's fields stay.
    changed = with_event_type(
        live,
        "click",
        enrichments=("item_embedding", "request_context"),
        output_fields=tuple(
            c for c in click.output_fields if c.name not in {"item_category", "item_subcategory"}
        ),
    )
    diff = _update(artefacts, changed)
    assert _paths(diff) == [
        ("event_types.click.enrichments", "changed", Impact.BACKFILL),
        ("event_types.click.output_fields[item_category]", "removed", Impact.BACKFILL),
        ("event_types.click.output_fields[item_subcategory]", "removed", Impact.BACKFILL),
    ]
    assert diff.changes[0].old == ["item_embedding", "item_category", "request_context"]
    assert diff.changes[0].new == ["item_embedding", "request_context"]
    assert (diff.impact, diff.advice) == (Impact.BACKFILL, None)


def test_enrichment_dropped_from_the_closure_is_one_removed_path(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[CLOSEUPS]
    enrichments = {k: v for k, v in live.enrichments.items() if k != "item_category"}
    diff = _update(artefacts, live.model_copy(update={"enrichments": enrichments}))
    assert _paths(diff) == [("enrichments.item_category", "removed", Impact.BACKFILL)]
    assert diff.changes[0].old == live.enrichments["item_category"].model_dump(mode="json")


def test_retyping_a_production_output_field_is_breaking(artefacts: dict[str, Artefact]) -> None:
    diff = _update(artefacts, retype_field(artefacts[ENGAGEMENTS], "item_embedding", DType.LIST_INT64))
    assert _paths(diff) == [("feature.fields[item_embedding].dtype", "changed", Impact.BREAKING)]
    assert (diff.changes[0].old, diff.changes[0].new) == ("list[float32]", "list[int64]")
    assert diff.impact is Impact.BREAKING
    assert diff.advice is not None
    assert BUMP_ADVICE.format("recent_engagements_v2") in diff.advice


def test_removing_a_production_output_field_is_breaking(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    compiled = {**artefacts, ENGAGEMENTS: drop_field(live, "hour_of_day")}
    plan = plan_changes(compiled, artefacts)
    [diff] = plan.breaking
    assert diff.feature_id == ENGAGEMENTS
    assert _paths(diff) == [("feature.fields[hour_of_day]", "removed", Impact.BREAKING)]
    text = render_text(plan)
    assert "- feature.fields[hour_of_day] (was {" in text
    assert BUMP_ADVICE.format("recent_engagements_v2") in text
    assert "1 breaking change(s) to production features" in text


def test_renaming_a_production_output_field_is_a_removal_and_an_addition(
    artefacts: dict[str, Artefact],
) -> None:
    live = artefacts[ENGAGEMENTS]
    fields = tuple(
        c.model_copy(update={"name": "hour"}) if c.name == "hour_of_day" else c for c in live.feature.fields
    )
    diff = _update(artefacts, with_feature(live, fields=fields))
    assert _paths(diff) == [
        ("feature.fields[hour]", "added", Impact.BREAKING),
        ("feature.fields[hour_of_day]", "removed", Impact.BREAKING),
    ]


def test_entity_key_change_is_breaking_in_production(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    key = live.feature.entity_key.model_copy(update={"dtype": DType.STRING})
    diff = _update(artefacts, with_feature(live, entity_key=key))
    assert _paths(diff) == [("feature.entity_key.dtype", "changed", Impact.BREAKING)]


@pytest.mark.parametrize("feature_id", [CLOSEUPS, SEARCHES])
def test_schema_changes_outside_production_are_backfills(
    artefacts: dict[str, Artefact], feature_id: str
) -> None:
    live = artefacts[feature_id]
    retyped = _update(artefacts, retype_field(live, "surface", DType.INT64))
    assert _paths(retyped) == [("feature.fields[surface].dtype", "changed", Impact.BACKFILL)]
    removed = _update(artefacts, drop_field(live, "surface"))
    assert _paths(removed) == [("feature.fields[surface]", "removed", Impact.BACKFILL)]
    for diff in (retyped, removed):
        assert (diff.impact, diff.advice) == (Impact.BACKFILL, None)


def test_closeups_retype_is_not_refused(artefacts: dict[str, Artefact]) -> None:
    compiled = {**artefacts, CLOSEUPS: retype_field(artefacts[CLOSEUPS], "item_embedding", DType.LIST_INT64)}
    plan = plan_changes(compiled, artefacts)
    assert plan.breaking == []
    assert plan.impact is Impact.BACKFILL
    assert "bump `version=`" not in render_text(plan)


def test_promotion_to_production_with_a_schema_change_is_breaking(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[CLOSEUPS]
    promoted = with_feature(drop_field(live, "is_mobile"), lifecycle="production")
    diff = _update(artefacts, promoted)
    assert _paths(diff) == [
        ("feature.fields[is_mobile]", "removed", Impact.BREAKING),
        ("feature.lifecycle", "changed", Impact.METADATA_ONLY),
    ]
    assert (diff.old_lifecycle, diff.new_lifecycle, diff.production) == ("experimental", "production", True)
    assert diff.advice is not None and "`recent_closeups_v2`" in diff.advice


def test_an_inserted_field_is_one_added_path(artefacts: dict[str, Artefact]) -> None:
    column = ColumnSpec(name="board_id", dtype=DType.INT64)
    diff = _update(artefacts, insert_field(artefacts[CLOSEUPS], 3, column))
    assert _paths(diff) == [("feature.fields[board_id]", "added", Impact.BACKFILL)]
    assert diff.changes[0].new == column.model_dump(mode="json")
    assert diff.changes[0].old is None
    breaking = _update(artefacts, insert_field(artefacts[ENGAGEMENTS], 0, column))
    assert _paths(breaking) == [("feature.fields[board_id]", "added", Impact.BREAKING)]


def test_reordered_fields_are_one_reorder_at_the_list(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    diff = _update(artefacts, with_feature(live, fields=tuple(reversed(live.feature.fields))))
    assert _paths(diff) == [("feature.fields", "reordered", Impact.BREAKING)]
    names = [c.name for c in live.feature.fields]
    assert (diff.changes[0].old, diff.changes[0].new) == (names, names[::-1])


def test_advice_names_a_version_that_is_free(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    v2 = as_version(live, 2)
    compiled = {**artefacts, ENGAGEMENTS: drop_field(live, "surface"), v2.feature.id: v2}
    plan = plan_changes(compiled, {**artefacts, v2.feature.id: v2})
    [diff] = plan.breaking
    assert diff.advice is not None
    assert BUMP_ADVICE.format("recent_engagements_v3") in diff.advice


def test_mislabelled_artefact_is_refused(artefacts: dict[str, Artefact]) -> None:
    with pytest.raises(
        PlanError, match="filed under 'recent_closeups_v1' is feature 'recent_engagements_v1'"
    ):
        plan_changes({CLOSEUPS: artefacts[ENGAGEMENTS]}, {})
    with pytest.raises(PlanError, match="cannot diff"):
        diff_feature(artefacts[CLOSEUPS], artefacts[ENGAGEMENTS])
    with pytest.raises(PlanError, match="at least one"):
        diff_feature(None, None)


def test_plan_of_an_edited_config_package(artefacts: dict[str, Artefact], tmp_path: Path) -> None:
    """End to end: edit the example configs, compile them for real, plan against the originals."""
    configs = tmp_path / "feature_configs"
    shutil.copytree(CONFIGS, configs, ignore=shutil.ignore_patterns("__pycache__"))
    edits = {
        "event_types.py": ('filter=col("action") == "save",', 'filter=col("action") == "saved",'),
        "sequences.py": ("    max_length=500,", "    max_length=600,"),
    }
    for name, (old, new) in edits.items():
        text = (configs / name).read_text()
        assert text.count(old) == 1
        (configs / name).write_text(text.replace(old, new))
    try:
        compiled = compile_examples(configs)
    finally:
        compile_examples()  # re-import the real package for whoever runs next in this process
    plan = plan_changes(compiled, artefacts)
    by_id = {d.feature_id: d for d in plan.diffs}
    assert [by_id[f].transition for f in (CLOSEUPS, SEARCHES)] == [Transition.UNCHANGED] * 2
    assert _paths(by_id[ENGAGEMENTS]) == [
        ("event_types.save.filter", "changed", Impact.BACKFILL),
        ("feature.max_length", "changed", Impact.BACKFILL),
    ]
    assert "~ event_types.save.filter: (col('action') == 'save') → (col('action') == 'saved')" in render_text(
        plan
    )
