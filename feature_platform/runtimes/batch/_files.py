"""Writing one local output file so a failure never leaves a half-written file under its final name.

The bytes go to the storage layer's hidden staged file beside the final one (``.<name>.<uuid>.tmp``), are
fsynced, then renamed over the final name in one atomic ``os.replace``; on any failure (no space
left, permission denied, an interrupt) the staging file is removed and the final name is untouched.

A run that is *killed* cannot remove its staging file. The next write of the same file removes the
staging files of that name left behind — but only those not modified for
:data:`STALE_STAGING_SECONDS`: the directory is shared (another process may be writing the same
output right now, and its staging file is in use), and a live writer modifies its staging file as it
writes. Staging files are hidden (a leading ``.``), so no ``*.parquet`` reader ever sees one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from feature_platform.storage import open_storage

STAGING_MARK = ".staging-"
"""The staging names of earlier versions (``.<name>.staging-<pid>-<random>``), still swept."""
STALE_STAGING_SECONDS = 3600.0
"""A staging file untouched this long belongs to a run that was killed or failed."""


def sweep_stale_staging(final: Path, *, older_than: float = STALE_STAGING_SECONDS) -> list[Path]:
    """Remove the staging files of ``final`` (and the legacy ``.<name>.tmp``) not modified for ``older_than``
    seconds; returns the ones removed. Files that vanish meanwhile are skipped."""
    prefix = f".{final.name}{STAGING_MARK}"
    staged = f".{final.name}."  # the storage layer's staged files: .<name>.<uuid>.tmp (and the legacy .<name>.tmp)
    return sweep_stale_files(
        final.parent,
        lambda name: name.startswith(prefix) or (name.startswith(staged) and name.endswith(".tmp")),
        older_than,
    )


def sweep_stale_files(
    directory: Path, matches: Callable[[str], bool], older_than: float = STALE_STAGING_SECONDS
) -> list[Path]:
    """Remove the files of ``directory`` whose name ``matches`` and that were not modified for
    ``older_than`` seconds; returns the ones removed (a missing directory has none)."""
    removed: list[Path] = []
    cutoff = time.time() - older_than
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if not matches(entry.name):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(Path(entry.path))
    return removed


def write_parquet_file(frame: pl.DataFrame, final: Path) -> None:
    """Write ``frame`` to ``final`` through the storage layer's staged file (fsync, atomic replace, the
    staged file removed on failure), after sweeping what a killed run left (see the module docstring)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_staging(final)
    with open_storage(str(final.parent), what="output directory").stage(final.name) as staged:
        frame.write_parquet(staged.local_path)
        staged.commit()
