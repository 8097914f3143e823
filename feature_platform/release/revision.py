"""Which source revision an artefact came from, for the audit log."""

from __future__ import annotations

import subprocess
from pathlib import Path


def source_revision(path: Path) -> str | None:
    """The git commit holding ``path`` (with ``-dirty`` if it has uncommitted edits), or None outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--", "."],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head
