"""Show a plan to people (:func:`render_text`) and to machines (:func:`render_json`).

Both are pure functions of the plan, whose diffs and changes are already sorted, so the output is
byte-identical for the same inputs on any machine and under any ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import JsonValue, ValidationError

from feature_platform.artefact.canonical import canonical_bytes
from feature_platform.artefact.expressions import ExprNode
from feature_platform.plan.diff import is_expression
from feature_platform.plan.models import ChangeKind, FeatureDiff, FieldChange, Impact, Plan, Transition

VALUE_WIDTH = 72
"""Longest rendering of one value before it is shortened with an ellipsis."""

_IMPACT_WIDTH = max(len(i.label) for i in Impact)
_ARROW = " → "


def render_json(plan: Plan) -> str:
    """The plan as canonical JSON (sorted keys, indent 2, one trailing newline), for review and CI."""
    impact = plan.impact
    document = {
        "has_changes": plan.has_changes,
        "impact": impact.label if impact is not None else None,
        "summary": plan.summary(),
        "breaking": [d.feature_id for d in plan.breaking],
        "diffs": [d.model_dump(mode="json") for d in plan.diffs],
    }
    return canonical_bytes(document).decode("ascii")


def render_text(plan: Plan) -> str:
    """A human-readable plan: added, removed and changed features, field by field, then the unchanged.

    Each changed feature lists one line per field change (``old → new``, long values shortened,
    expressions in their compact form) with its impact; each breaking feature ends with how to make the
    change safely.
    """
    created = plan.by_transition(Transition.CREATE)
    deleted = plan.by_transition(Transition.DELETE)
    updated = plan.by_transition(Transition.UPDATE)
    unchanged = plan.by_transition(Transition.UNCHANGED)
    lines = [_headline(plan, len(created), len(deleted), len(updated), len(unchanged))]
    for title, diffs, mark in (("Added", created, "+"), ("Removed", deleted, "-"), ("Changed", updated, "~")):
        if not diffs:
            continue
        lines += ["", f"{title} ({len(diffs)}):"]
        for diff in diffs:
            lines += _feature_lines(diff, mark)
    if unchanged:
        lines += ["", f"Unchanged ({len(unchanged)}): {', '.join(d.feature_id for d in unchanged)}"]
    return "\n".join(lines) + "\n"


def _headline(plan: Plan, created: int, deleted: int, updated: int, unchanged: int) -> str:
    if not plan.has_changes:
        return f"No changes: {unchanged} feature(s) up to date."
    impact = plan.impact
    text = (
        f"Plan: {created} to add, {deleted} to remove, {updated} to change, {unchanged} unchanged."
        f" Overall impact: {impact.label if impact is not None else 'none'}."
    )
    if plan.breaking:
        text += f" {len(plan.breaking)} breaking change(s) to production features: refused as they are."
    return text


def _feature_lines(diff: FeatureDiff, mark: str) -> list[str]:
    impact = diff.impact.label if diff.impact is not None else "none"
    header = f"  {mark} {diff.feature_id}  [{_lifecycle(diff)}]  impact: {impact}"
    if diff.transition is Transition.CREATE:
        header += " (initial indexing)"
    elif diff.transition is Transition.DELETE:
        header += " (index dropped)"
    else:
        header += f", {len(diff.changes)} change(s)"
    lines = [header]
    lines += [f"      {c.impact.label:<{_IMPACT_WIDTH}}  {_change_text(c)}" for c in diff.changes]
    if diff.advice is not None:
        lines.append(f"      ! breaking: {diff.advice}")
    return lines


def _lifecycle(diff: FeatureDiff) -> str:
    old, new = diff.old_lifecycle, diff.new_lifecycle
    if old is not None and new is not None and old != new:
        return f"{old}{_ARROW}{new}"
    return str(new or old)


def _change_text(change: FieldChange) -> str:
    if change.kind is ChangeKind.ADDED:
        return f"+ {change.path} = {format_value(change.new)}"
    if change.kind is ChangeKind.REMOVED:
        return f"- {change.path} (was {format_value(change.old)})"
    if change.kind is ChangeKind.REORDERED:
        return f"~ {change.path} order: {format_value(change.old)}{_ARROW}{format_value(change.new)}"
    text = f"~ {change.path}: {format_value(change.old)}{_ARROW}{format_value(change.new)}"
    delta = _list_delta(change.old, change.new)
    return f"{text}  ({delta})" if delta else text


def _list_delta(old: JsonValue, new: JsonValue) -> str:
    """``+a, -b`` for two lists of scalars (owners, event types, enrichments applied), else ``""``."""
    if not isinstance(old, list) or not isinstance(new, list):
        return ""
    if any(isinstance(v, dict | list) for v in [*old, *new]):
        return ""
    added = [f"+{_scalar(v)}" for v in new if v not in old]
    removed = [f"-{_scalar(v)}" for v in old if v not in new]
    return ", ".join(added + removed)


def _scalar(value: JsonValue) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def format_value(value: JsonValue, width: int = VALUE_WIDTH) -> str:
    """A value on one line: compact JSON with expressions in their short form, shortened past ``width``.

    >>> format_value({"op": "eq", "args": [{"op": "col", "name": "action"}, {"op": "lit", "value": "save"}]})
    "(col('action') == 'save')"
    >>> format_value(list(range(40)), width=20)
    '[0, 1, 2, 3, 4, 5, …'
    """
    text = _compact(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _compact(value: JsonValue) -> str:
    if is_expression(value):
        try:
            return ExprNode.model_validate(value).render()
        except ValidationError:
            pass  # not a well-formed expression after all: show it as plain JSON
    if isinstance(value, Mapping):
        inner = ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_compact(value[k])}" for k in sorted(value))
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
