"""The data-driven tree diff, on plain JSON documents."""

from __future__ import annotations

from pydantic import JsonValue

from feature_platform.plan import ChangeKind, diff_documents
from feature_platform.plan.diff import json_equal


def _summary(old: JsonValue, new: JsonValue) -> list[tuple[str, str, JsonValue, JsonValue]]:
    return [(c.path_text, c.kind.value, c.old, c.new) for c in diff_documents(old, new)]


def test_equal_documents_have_no_changes() -> None:
    doc: JsonValue = {"a": [1, {"name": "x", "v": [1.5, None]}], "b": {"c": True}}
    assert diff_documents(doc, doc) == []


def test_json_types_are_compared_strictly() -> None:
    assert _summary({"a": 1}, {"a": 1.0}) == [("a", "changed", 1, 1.0)]
    assert _summary({"a": 1}, {"a": True}) == [("a", "changed", 1, True)]
    assert _summary({"a": 0}, {"a": None}) == [("a", "changed", 0, None)]
    assert json_equal(float("nan"), float("nan"))
    assert not json_equal(0.0, -0.0)


def test_keys_added_and_removed_are_one_change_each() -> None:
    assert _summary({"a": 1, "gone": {"deep": [1]}}, {"a": 1, "new": {"x": 1}}) == [
        ("gone", "removed", {"deep": [1]}, None),
        ("new", "added", None, {"x": 1}),
    ]


def test_nested_objects_recurse_to_the_leaf() -> None:
    old: JsonValue = {"feature": {"freshness": {"lag": 1, "cron": "x"}}}
    new: JsonValue = {"feature": {"freshness": {"lag": 2, "cron": "x"}}}
    assert _summary(old, new) == [("feature.freshness.lag", "changed", 1, 2)]


def test_null_to_object_and_type_changes_are_one_change() -> None:
    assert _summary({"batch": None}, {"batch": {"path": "p"}}) == [("batch", "changed", None, {"path": "p"})]
    assert _summary({"a": {"x": 1}}, {"a": [1]}) == [("a", "changed", {"x": 1}, [1])]


def test_scalar_lists_are_compared_whole() -> None:
    assert _summary({"e": ["a", "b", "c"]}, {"e": ["a", "c"]}) == [
        ("e", "changed", ["a", "b", "c"], ["a", "c"])
    ]


def test_named_lists_are_keyed_by_name() -> None:
    old: JsonValue = {"fields": [{"name": "a", "t": 1}, {"name": "b", "t": 2}]}
    new: JsonValue = {"fields": [{"name": "z", "t": 0}, {"name": "a", "t": 1}, {"name": "b", "t": 3}]}
    assert _summary(old, new) == [
        ("fields[b].t", "changed", 2, 3),
        ("fields[z]", "added", None, {"name": "z", "t": 0}),
    ]


def test_reordering_shared_items_is_reported_once_at_the_list() -> None:
    old: JsonValue = {"f": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}
    new: JsonValue = {"f": [{"name": "c"}, {"name": "a"}]}
    assert _summary(old, new) == [
        ("f", "reordered", ["a", "b", "c"], ["c", "a"]),
        ("f[b]", "removed", {"name": "b"}, None),
    ]


def test_lists_with_duplicate_or_missing_names_are_compared_whole() -> None:
    dup_old: JsonValue = [{"name": "a", "v": 1}, {"name": "a", "v": 2}]
    dup_new: JsonValue = [{"name": "a", "v": 1}, {"name": "a", "v": 3}]
    assert _summary(dup_old, dup_new) == [("", "changed", dup_old, dup_new)]
    assert [c.kind for c in diff_documents([{"v": 1}], [{"v": 2}])] == [ChangeKind.CHANGED]


def test_expressions_are_compared_as_one_value() -> None:
    def eq(value: str) -> JsonValue:
        return {"op": "eq", "args": [{"op": "col", "name": "action"}, {"op": "lit", "value": value}]}

    assert _summary({"filter": eq("a")}, {"filter": eq("b")}) == [("filter", "changed", eq("a"), eq("b"))]


def test_odd_keys_and_names_are_quoted_in_paths() -> None:
    changes = diff_documents(
        {"tags": {"a.b": 1}, "f": [{"name": "x]y", "t": 1}]},
        {"tags": {"a.b": 2}, "f": [{"name": "x]y", "t": 2}]},
    )
    assert [c.path_text for c in changes] == ['f["x]y"].t', 'tags."a.b"']
