"""Paths into an artefact's JSON document, and the patterns the impact table matches them with.

A path is a tuple of segments, each either a dict key (``.max_length``) or a named list item
(``[item_embedding]``: lists of objects with unique ``name`` keys are addressed by name, not index, so
inserting one field does not shift every later one). Paths are kept structured, not as strings, so a
key that contains a dot or a bracket can neither break matching nor collide with another path; they are
formatted to strings only for people and for the JSON plan.

Patterns use the same syntax plus three wildcards, one meaning per token:

- ``*`` matches any one segment (``event_types.*.filter``, ``feature.fields[*]``);
- ``{a,b}`` matches one segment that is one of the listed names (``feature.{description,owners}``);
- ``**`` matches any number of segments, zero included (``sources.**``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

SegmentKind = Literal["key", "item"]

_SIMPLE_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
_PATTERN_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[([^\[\]]+)\]")


@dataclass(frozen=True)
class Segment:
    """One step into a document: a dict ``key``, or the list ``item`` whose ``name`` is ``name``."""

    kind: SegmentKind
    name: str


Path = tuple[Segment, ...]


def key(name: str) -> Segment:
    """A dict-key segment."""
    return Segment("key", name)


def item(name: str) -> Segment:
    """A named-list-item segment."""
    return Segment("item", name)


def _quote(name: str) -> str:
    # Names that are not plain identifiers are JSON-quoted so the formatted path stays unambiguous.
    return name if _SIMPLE_NAME.match(name) else json.dumps(name, ensure_ascii=True)


def format_path(path: Path) -> str:
    """Render a path for people: ``feature.fields[item_embedding].dtype``.

    >>> format_path((key("event_types"), key("click"), key("filter")))
    'event_types.click.filter'
    >>> format_path((key("feature"), key("fields"), item("item_embedding"), key("dtype")))
    'feature.fields[item_embedding].dtype'
    >>> format_path((key("feature"), key("tags"), key("team.name")))
    'feature.tags."team.name"'
    """
    parts: list[str] = []
    for segment in path:
        if segment.kind == "item":
            parts.append(f"[{_quote(segment.name)}]")
        elif parts:
            parts.append(f".{_quote(segment.name)}")
        else:
            parts.append(_quote(segment.name))
    return "".join(parts)


@dataclass(frozen=True)
class _PatternSegment:
    kind: SegmentKind | Literal["any_depth"]
    names: frozenset[str] | None  # None: any name

    def matches(self, segment: Segment) -> bool:
        return segment.kind == self.kind and (self.names is None or segment.name in self.names)


@dataclass(frozen=True)
class PathPattern:
    """A compiled path pattern (see the module docstring for the syntax)."""

    text: str
    segments: tuple[_PatternSegment, ...]

    @classmethod
    def parse(cls, text: str) -> PathPattern:
        """Compile ``text``; raises ``ValueError`` on a malformed pattern (a bug in the table, not input).

        >>> PathPattern.parse("feature.fields[*].dtype").matches(
        ...     (key("feature"), key("fields"), item("event_id"), key("dtype")))
        True
        >>> PathPattern.parse("{event_types,sources}.**").matches((key("enrichments"), key("x")))
        False
        """
        segments: list[_PatternSegment] = []
        position = 0
        for match in _PATTERN_TOKEN.finditer(text):
            if match.start() != position:
                break
            position = match.end()
            bare, bracketed = match.group(1), match.group(2)
            kind: SegmentKind = "key" if bare is not None else "item"
            token = bare if bare is not None else bracketed
            if token == "**" and kind == "key":
                segments.append(_PatternSegment("any_depth", None))
            elif token == "*":
                segments.append(_PatternSegment(kind, None))
            elif token.startswith("{") and token.endswith("}"):
                segments.append(_PatternSegment(kind, frozenset(token[1:-1].split(","))))
            else:
                segments.append(_PatternSegment(kind, frozenset({token})))
        if position != len(text) or not segments:
            msg = f"malformed path pattern {text!r}"
            raise ValueError(msg)
        return cls(text, tuple(segments))

    def matches(self, path: Path) -> bool:
        """Whether ``path`` matches this pattern as a whole (not just a prefix)."""
        return _match(self.segments, path)


def _match(pattern: tuple[_PatternSegment, ...], path: Path) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head.kind == "any_depth":
        # Try every split point: ``**`` swallows 0..len(path) segments.
        return any(_match(rest, path[skip:]) for skip in range(len(path) + 1))
    return bool(path) and head.matches(path[0]) and _match(rest, path[1:])
