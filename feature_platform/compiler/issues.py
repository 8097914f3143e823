"""Validation issues: collected, never raised one at a time, printed grouped by file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ValidationIssue:
    """One problem with one config object, and where to fix it."""

    file: str
    line: int
    kind: str
    name: str
    message: str
    hint: str = ""

    def render(self) -> str:
        """``file:line: kind 'name': message`` (just ``file:`` when no line is known: never a bogus ``:0``)."""
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        text = f"{where}: {self.kind} '{self.name}': {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


def render_issues(issues: Iterable[ValidationIssue]) -> str:
    """All issues, grouped by file and sorted by line, with a count at the end."""
    by_file: dict[str, list[ValidationIssue]] = defaultdict(list)
    for issue in issues:
        by_file[issue.file].append(issue)
    lines: list[str] = []
    total = 0
    for file in sorted(by_file):
        lines.append(f"{file}")
        for issue in sorted(by_file[file]):
            lines.append("  " + issue.render().replace("\n", "\n  "))
            total += 1
    lines.append(f"{total} error{'s' if total != 1 else ''} in {len(by_file)} file{'s' if len(by_file) != 1 else ''}")
    return "\n".join(lines)


def display_path(file: str) -> str:
    """A path relative to the working directory when it is below it (stable across machines)."""
    from pathlib import Path

    try:
        return str(Path(file).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return file
