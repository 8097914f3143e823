"""Field-by-field diff of two JSON documents, driven by the data rather than by the artefact models.

Walking ``Artefact.model_dump(mode="json")`` instead of the pydantic models means a field added to the
format later is diffed (and classified, by the impact table's catch-all) without touching this module.
Only :data:`IGNORED_TOP_LEVEL` is skipped: compiler metadata and hashes that change without the
definition changing.

The walk, at each path:

- equal values (strictly: ``1``, ``1.0`` and ``true`` differ, as they do in JSON) produce nothing;
- an expression node (an object with an ``op``) is compared as one value, so a filter change reads as
  ``event_types.click.filter`` rather than ``...filter.args[0].args[1].value``;
- objects recurse per key; a key on one side only is one ``added``/``removed`` change;
- lists of objects with unique ``name`` keys (columns, fields, derived fields) recurse per name, so an
  inserted field is one added path; if the items both sides share changed relative order, one
  ``reordered`` change is reported at the list's own path;
- anything else (scalars, lists of scalars, type changes) is one ``changed`` value.

Every iteration is over sorted keys or names and the result is sorted by path, so the output does not
depend on dict insertion order or on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pydantic import JsonValue

from feature_platform.artefact.format import Artefact
from feature_platform.plan._paths import Path, format_path, item, key
from feature_platform.plan.models import ChangeKind

IGNORED_TOP_LEVEL: Final[tuple[str, ...]] = (
    "compiler_version", "config_hash", "content_hash", "format_version",
)
"""Top-level artefact keys that never count as a change: they follow the compiler, not the definition."""


@dataclass(frozen=True)
class TreeChange:
    """One raw difference, before the impact table classifies it."""

    path: Path
    kind: ChangeKind
    old: JsonValue
    new: JsonValue

    @property
    def path_text(self) -> str:
        return format_path(self.path)


def artefact_document(artefact: Artefact) -> dict[str, JsonValue]:
    """The part of an artefact's JSON that defines it: everything but :data:`IGNORED_TOP_LEVEL`."""
    document = artefact.model_dump(mode="json")
    return {k: v for k, v in document.items() if k not in IGNORED_TOP_LEVEL}


def diff_documents(old: JsonValue, new: JsonValue) -> list[TreeChange]:
    """Every difference between ``old`` and ``new``, sorted by formatted path.

    >>> [(c.path_text, c.kind.value) for c in diff_documents(
    ...     {"fields": [{"name": "a", "dtype": "int64"}]},
    ...     {"fields": [{"name": "b", "dtype": "int64"}, {"name": "a", "dtype": "string"}]})]
    [('fields[a].dtype', 'changed'), ('fields[b]', 'added')]
    """
    changes: list[TreeChange] = []
    _diff(old, new, (), changes)
    return sorted(changes, key=lambda c: (c.path_text, c.kind.value))


def diff_artefacts(old: Artefact, new: Artefact) -> list[TreeChange]:
    """Differences between two artefacts' defining documents (see :func:`artefact_document`)."""
    return diff_documents(artefact_document(old), artefact_document(new))


def _kind_of(value: object) -> str:
    # bool before int: bool is an int subclass in Python, but true and 1 are different JSON values.
    for name, types in (("null", type(None)), ("bool", bool), ("int", int), ("float", float), ("str", str),
                        ("object", Mapping), ("array", (list, tuple))):
        if isinstance(value, types):
            return name
    return type(value).__name__


def json_equal(a: object, b: object) -> bool:
    """Equality as JSON sees it: types must match too, and floats compare by their text (NaN == NaN)."""
    kind = _kind_of(a)
    if kind != _kind_of(b):
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if kind == "float":
        return repr(a) == repr(b)
    return a == b


def is_expression(value: object) -> bool:
    """Whether ``value`` is a serialised expression node (compared, and rendered, as one value)."""
    return isinstance(value, Mapping) and isinstance(value.get("op"), str)


def _names(items: Sequence[object]) -> list[str] | None:
    """The ``name`` of every item, if all items are objects with distinct string names."""
    names: list[str] = []
    for entry in items:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            return None
        names.append(entry["name"])
    return names if len(set(names)) == len(names) else None


def _diff(old: JsonValue, new: JsonValue, path: Path, out: list[TreeChange]) -> None:
    if json_equal(old, new):
        return
    if is_expression(old) or is_expression(new):
        out.append(TreeChange(path, ChangeKind.CHANGED, old, new))
    elif isinstance(old, dict) and isinstance(new, dict):
        for name in sorted(old.keys() | new.keys()):
            child = (*path, key(name))
            if name not in old:
                out.append(TreeChange(child, ChangeKind.ADDED, None, new[name]))
            elif name not in new:
                out.append(TreeChange(child, ChangeKind.REMOVED, old[name], None))
            else:
                _diff(old[name], new[name], child, out)
    elif isinstance(old, list) and isinstance(new, list):
        old_names, new_names = _names(old), _names(new)
        if old_names is None or new_names is None:
            out.append(TreeChange(path, ChangeKind.CHANGED, old, new))
        else:
            _diff_named(old, old_names, new, new_names, path, out)
    else:
        out.append(TreeChange(path, ChangeKind.CHANGED, old, new))


def _diff_named(
    old: list[JsonValue], old_names: list[str], new: list[JsonValue], new_names: list[str], path: Path,
    out: list[TreeChange],
) -> None:
    old_by_name = dict(zip(old_names, old, strict=True))
    new_by_name = dict(zip(new_names, new, strict=True))
    for name in sorted(old_by_name.keys() | new_by_name.keys()):
        child = (*path, item(name))
        if name not in old_by_name:
            out.append(TreeChange(child, ChangeKind.ADDED, None, new_by_name[name]))
        elif name not in new_by_name:
            out.append(TreeChange(child, ChangeKind.REMOVED, old_by_name[name], None))
        else:
            _diff(old_by_name[name], new_by_name[name], child, out)
    # Order is part of the document (the output schema is "in consumer order"), but insertions and
    # removals are already reported: only a change in the relative order of shared items counts.
    shared_old = [n for n in old_names if n in new_by_name]
    shared_new = [n for n in new_names if n in old_by_name]
    if shared_old != shared_new:
        old_order: list[JsonValue] = [*old_names]
        new_order: list[JsonValue] = [*new_names]
        out.append(TreeChange(path, ChangeKind.REORDERED, old_order, new_order))
