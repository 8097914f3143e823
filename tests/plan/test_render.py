"""Text and JSON renderings of a plan, and their independence from hash seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from feature_platform.artefact import DType, ExprNode, ExprOp
from feature_platform.artefact.format import Artefact
from feature_platform.plan import Impact, Plan, format_value, plan_changes, render_json, render_text
from tests.plan.variants import REPO_ROOT, drop_field, retype_field, with_event_type, with_feature

ENGAGEMENTS = "recent_engagements_v1"
CLOSEUPS = "recent_closeups_v1"
SEARCHES = "recent_searches_v1"


def _mixed_plan(artefacts: dict[str, Artefact]) -> Plan:
    """One feature added, one removed, one changed in several ways (one of them breaking)."""
    engagements = artefacts[ENGAGEMENTS]
    changed = retype_field(
        with_feature(engagements, max_length=600, description="Saves and clicks."),
        "item_embedding",
        DType.LIST_INT64,
    )
    compiled = {ENGAGEMENTS: changed, CLOSEUPS: artefacts[CLOSEUPS]}
    live = {ENGAGEMENTS: engagements, SEARCHES: artefacts[SEARCHES]}
    return plan_changes(compiled, live)


def test_text_is_grouped_with_one_line_per_change(artefacts: dict[str, Artefact]) -> None:
    old_description = artefacts[ENGAGEMENTS].feature.description
    expected = (
        "Plan: 1 to add, 1 to remove, 1 to change, 0 unchanged. Overall impact: breaking."
        " 1 breaking change(s) to production features: refused as they are.\n"
        "\n"
        "Added (1):\n"
        "  + recent_closeups_v1  [experimental]  impact: backfill (initial indexing)\n"
        "\n"
        "Removed (1):\n"
        "  - recent_searches_v1  [staging]  impact: backfill (index dropped)\n"
        "\n"
        "Changed (1):\n"
        "  ~ recent_engagements_v1  [production]  impact: breaking, 3 change(s)\n"
        f'      metadata_only  ~ feature.description: {format_value(old_description)} → "Saves and clicks."\n'
        '      breaking       ~ feature.fields[item_embedding].dtype: "list[float32]" → "list[int64]"\n'
        "      backfill       ~ feature.max_length: 500 → 600\n"
        "      ! breaking: bump `version=` on the SequenceFeature to publish it as `recent_engagements_v2`"
        " alongside the old one (keep the `version=1` definition until its consumers have moved)\n"
    )
    assert render_text(_mixed_plan(artefacts)) == expected


def test_long_values_are_shortened_and_expressions_compact(artefacts: dict[str, Artefact]) -> None:
    long_text = "x" * 500
    assert format_value(long_text) == '"' + "x" * 70 + "…"
    assert len(format_value(long_text, width=20)) == 20
    live = artefacts[ENGAGEMENTS]
    cond = ExprNode(op=ExprOp.IS_IN, args=(ExprNode(op=ExprOp.COL, name="action"),), values=("click", "tap"))
    compiled = {**artefacts, ENGAGEMENTS: with_event_type(live, "click", filter=cond)}
    text = render_text(plan_changes(compiled, artefacts))
    assert "col('action').is_in(['click', 'tap'])" in text
    assert '"op"' not in text  # no raw expression JSON in the text


def test_scalar_list_changes_show_what_was_added_and_removed(artefacts: dict[str, Artefact]) -> None:
    live = artefacts[ENGAGEMENTS]
    compiled = {
        **artefacts,
        ENGAGEMENTS: with_event_type(live, "save", enrichments=("item_embedding", "geo")),
    }
    text = render_text(plan_changes(compiled, artefacts))
    assert '~ event_types.save.enrichments: ["item_embedding", "item_category", "request_context"] → ' in text
    assert "(+geo, -item_category, -request_context)" in text


def test_json_is_canonical_and_parses_back(artefacts: dict[str, Artefact]) -> None:
    plan = _mixed_plan(artefacts)
    text = render_json(plan)
    document = json.loads(text)
    assert text == json.dumps(document, sort_keys=True, indent=2, separators=(",", ": ")) + "\n"
    assert document["impact"] == "breaking"
    assert document["has_changes"] is True
    assert document["breaking"] == [ENGAGEMENTS]
    assert document["summary"] == {"create": 1, "delete": 1, "update": 1, "unchanged": 0}
    changed = next(d for d in document["diffs"] if d["feature_id"] == ENGAGEMENTS)
    assert [(c["path"], c["impact"]) for c in changed["changes"]] == [
        ("feature.description", "metadata_only"),
        ("feature.fields[item_embedding].dtype", "breaking"),
        ("feature.max_length", "backfill"),
    ]
    assert Plan.model_validate({"diffs": document["diffs"]}) == plan
    assert Plan.model_validate({"diffs": document["diffs"]}).impact is Impact.BREAKING


SEED_SCRIPT = """
import sys
from feature_platform.artefact import ColumnSpec, DType
from feature_platform.plan import plan_changes, render_json, render_text
from tests.plan.variants import compile_examples, drop_field, insert_field, with_feature, with_event_type

arts = compile_examples()
eng, clo = arts["recent_engagements_v1"], arts["recent_closeups_v1"]
# Same values every run, but dicts filled by iterating sets, whose order follows the hash seed.
tags = {name: "x" for name in {"zeta", "alpha", "mid", "beta", "omega"}}
for index, name in enumerate(["f_q", "f_a", "f_m"]):
    clo = insert_field(clo, index, ColumnSpec(name=name, dtype=DType.INT64))
kept = set(clo.enrichments) - {"item_category"}
clo = clo.model_copy(update={"enrichments": {n: clo.enrichments[n] for n in kept}})
eng = with_event_type(with_feature(drop_field(eng, "surface"), tags=tags), "save",
                      enrichments=("item_embedding", "request_context"))
eng = eng.model_copy(update={"event_types": {n: eng.event_types[n] for n in set(eng.event_types)}})
compiled = {fid: a for fid, a in {"recent_engagements_v1": eng, "recent_closeups_v1": clo}.items()}
live = {fid: arts[fid] for fid in {"recent_searches_v1", "recent_engagements_v1", "recent_closeups_v1"}}
plan = plan_changes(compiled, live)
sys.stdout.write(render_text(plan) + render_json(plan))
"""


def test_rendering_is_identical_across_hash_seeds() -> None:
    outputs = {}
    processes = {
        seed: subprocess.Popen(
            [sys.executable, "-c", SEED_SCRIPT],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        )
        for seed in (0, 1, 12345)
    }
    for seed, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()
        outputs[seed] = stdout
    assert outputs[0] == outputs[1] == outputs[12345]
    text = outputs[0].decode()
    assert "feature.tags.alpha" in text and "- feature.fields[surface]" in text


def test_changed_and_unchanged_counts_in_the_headline(artefacts: dict[str, Artefact]) -> None:
    compiled = {**artefacts, CLOSEUPS: drop_field(artefacts[CLOSEUPS], "is_mobile")}
    text = render_text(plan_changes(compiled, artefacts))
    assert text.startswith(
        "Plan: 0 to add, 0 to remove, 1 to change, 2 unchanged. Overall impact: backfill.\n"
    )
    assert text.endswith("Unchanged (2): recent_engagements_v1, recent_searches_v1\n")
