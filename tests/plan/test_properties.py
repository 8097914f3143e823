"""Property tests: self-diffs are empty, diffs are symmetric, and a diff is a complete patch.

The patch check is the brute-force reference: applying every reported change to the old document
must give the new one, so the diff can neither miss a difference nor invent one.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from feature_platform.artefact import ColumnSpec, DType, ExprNode, ExprOp
from feature_platform.artefact.format import Artefact
from feature_platform.plan import ChangeKind, Transition, TreeChange, diff_documents, diff_feature
from feature_platform.plan.diff import json_equal
from tests.plan.variants import (
    compile_examples,
    drop_field,
    insert_field,
    retype_field,
    with_event_type,
    with_feature,
)

# --- arbitrary JSON, with small alphabets so that two draws share structure ------------------------

_names = st.sampled_from(["a", "b", "c", "x.y"])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.5, 1.0, -0.0])
    | st.sampled_from(["", "s"])
)


def _named_lists(children: st.SearchStrategy[JsonValue]) -> st.SearchStrategy[JsonValue]:
    item = st.fixed_dictionaries({"name": _names}, optional={"v": children, "w": children})
    return st.lists(item, max_size=4, unique_by=_name_of)


def _name_of(entry: Any) -> Any:
    return entry["name"]


def _expressions() -> st.SearchStrategy[JsonValue]:
    return st.builds(
        lambda n, v: {"op": "eq", "args": [{"op": "col", "name": n}, {"op": "lit", "value": v}]},
        _names,
        _scalars,
    )


json_values: st.SearchStrategy[JsonValue] = st.deferred(
    lambda: (
        _scalars
        | _expressions()
        | st.lists(json_values, max_size=3)
        | st.dictionaries(_names, json_values, max_size=3)
        | _named_lists(json_values)
    )
)


_NAMED = "\x00named"


def _normalise(value: Any) -> Any:
    """Named lists become dicts keyed by name, so a document can be patched path by path."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        if all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in value) and len(
            {v["name"] for v in value}
        ) == len(value):
            return {_NAMED: {v["name"]: _normalise(v) for v in value}}
        return [_normalise(v) for v in value]
    return value


def _patch(old: JsonValue, changes: list[TreeChange]) -> Any:
    root: dict[str, Any] = {"": _normalise(old)}
    for change in changes:
        if change.kind is ChangeKind.REORDERED:
            continue
        parent: Any = root
        slot = ""
        for segment in change.path:
            parent = parent[slot]
            if segment.kind == "item":
                parent = parent[_NAMED]
            slot = segment.name
        if change.kind is ChangeKind.REMOVED:
            del parent[slot]
        else:
            parent[slot] = _normalise(change.new)
    return root[""]


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@given(json_values)
def test_a_document_diffed_with_itself_has_no_changes(doc: JsonValue) -> None:
    assert diff_documents(doc, doc) == []


@given(json_values, json_values)
def test_diff_is_symmetric_and_a_complete_patch(a: JsonValue, b: JsonValue) -> None:
    _check_symmetric_and_complete(a, b)


_field_lists = st.fixed_dictionaries({"fields": _named_lists(_scalars | st.lists(_scalars, max_size=2))})


@given(_field_lists, _field_lists)
def test_named_list_diffs_are_symmetric_and_complete_patches(a: JsonValue, b: JsonValue) -> None:
    """Two lists drawn from the same few names: insertions, removals, reorders and edits by name."""
    _check_symmetric_and_complete(a, b)


def _check_symmetric_and_complete(a: JsonValue, b: JsonValue) -> None:
    forward, backward = diff_documents(a, b), diff_documents(b, a)
    assert [c.path_text for c in forward] == [c.path_text for c in backward]
    swap = {ChangeKind.ADDED: ChangeKind.REMOVED, ChangeKind.REMOVED: ChangeKind.ADDED}
    assert [(swap.get(c.kind, c.kind), c.new, c.old) for c in forward] == [
        (c.kind, c.old, c.new) for c in backward
    ]
    assert (forward == []) == json_equal(a, b)
    assert _canon(_patch(a, forward)) == _canon(_normalise(b))
    assert _canon(_patch(b, backward)) == _canon(_normalise(a))


# --- variants of the example artefacts ------------------------------------------------------------


@cache
def _examples() -> dict[str, Artefact]:
    return compile_examples()


_FILTERS = [
    None,
    ExprNode(op=ExprOp.EQ, args=(ExprNode(op=ExprOp.COL, name="action"), ExprNode(op=ExprOp.LIT, value="x"))),
    ExprNode(op=ExprOp.IS_NOT_NULL, args=(ExprNode(op=ExprOp.COL, name="pin_id"),)),
]


@st.composite
def _mutation(draw: st.DrawFn, artefact: Artefact) -> Artefact:
    names = [c.name for c in artefact.feature.fields]
    kind = draw(
        st.sampled_from(
            [
                "description",
                "max_length",
                "serving",
                "lifecycle",
                "drop",
                "insert",
                "retype",
                "shuffle",
                "tags",
                "enrichments",
                "filter",
                "closure",
            ]
        )
    )
    if kind == "description":
        return with_feature(artefact, description=draw(st.text(max_size=5)))
    if kind == "max_length":
        return with_feature(artefact, max_length=draw(st.integers(1, 1000)))
    if kind == "serving":
        return with_feature(artefact, serving_default_length=draw(st.none() | st.integers(1, 100)))
    if kind == "lifecycle":
        stage = draw(st.sampled_from(["experimental", "staging", "production", "deprecated"]))
        return with_feature(artefact, lifecycle=stage)
    if kind == "drop" and names:
        return drop_field(artefact, draw(st.sampled_from(names)))
    if kind == "insert":
        name = draw(st.sampled_from(["new_a", "new_b"]))
        if name not in names:
            column = ColumnSpec(name=name, dtype=draw(st.sampled_from(list(DType))))
            return insert_field(artefact, draw(st.integers(0, len(names))), column)
    if kind == "retype" and names:
        return retype_field(artefact, draw(st.sampled_from(names)), draw(st.sampled_from(list(DType))))
    if kind == "shuffle":
        return with_feature(artefact, fields=tuple(draw(st.permutations(artefact.feature.fields))))
    if kind == "tags":
        return with_feature(
            artefact, tags=draw(st.dictionaries(st.sampled_from(["consumer", "t"]), st.text(max_size=3)))
        )
    event_type = draw(st.sampled_from(sorted(artefact.event_types)))
    if kind == "enrichments":
        current = artefact.event_types[event_type].enrichments
        kept = draw(st.lists(st.sampled_from(current), unique=True)) if current else []
        return with_event_type(artefact, event_type, enrichments=tuple(kept))
    if kind == "filter":
        return with_event_type(artefact, event_type, filter=draw(st.sampled_from(_FILTERS)))
    if kind == "closure" and artefact.enrichments:
        gone = draw(st.sampled_from(sorted(artefact.enrichments)))
        return artefact.model_copy(
            update={"enrichments": {k: v for k, v in artefact.enrichments.items() if k != gone}}
        )
    return artefact


@st.composite
def artefact_variants(draw: st.DrawFn, feature_id: str) -> Artefact:
    artefact = _examples()[feature_id]
    for _ in range(draw(st.integers(0, 4))):
        artefact = draw(_mutation(artefact))
    return artefact


@st.composite
def variant_pairs(draw: st.DrawFn) -> tuple[Artefact, Artefact]:
    feature_id = draw(st.sampled_from(sorted(_examples())))
    return draw(artefact_variants(feature_id)), draw(artefact_variants(feature_id))


@settings(max_examples=60, deadline=None)
@given(variant_pairs())
def test_an_artefact_diffed_with_itself_is_unchanged(pair: tuple[Artefact, Artefact]) -> None:
    for artefact in pair:
        diff = diff_feature(artefact, artefact)
        assert (diff.transition, diff.changes, diff.impact) == (Transition.UNCHANGED, [], None)


@settings(max_examples=60, deadline=None)
@given(variant_pairs())
def test_artefact_diffs_report_the_same_paths_both_ways(pair: tuple[Artefact, Artefact]) -> None:
    a, b = pair
    forward, backward = diff_feature(a, b), diff_feature(b, a)
    assert [(c.path, c.impact) for c in forward.changes] == [(c.path, c.impact) for c in backward.changes]
    assert forward.impact == backward.impact
    assert (forward.transition is Transition.UNCHANGED) == (backward.transition is Transition.UNCHANGED)
