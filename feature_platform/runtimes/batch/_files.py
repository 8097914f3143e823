"""Writing one local output file so a failure never leaves a half-written file under its final name.

The bytes go to the storage layer's hidden staged file beside the final one (``.<name>.<uuid>.tmp``), are
fsynced, then renamed over the final name in one atomic ``os.replace``; on any failure (no space
left, permission denied, an interrupt) the staging file is removed and the final name is untouched.

A run that is *killed* cannot remove its staging file. The next write of the same file removes the
staging files of that name left behind, by the storage layer's one rule
(:func:`feature_platform.storage.sweep_stale_staged`): only those not modified for an hour, because the
directory is shared (another process may be writing the same output right now, and a live writer
modifies its staging file as it writes). Staging files are hidden (a leading ``.``), so no ``*.parquet``
reader ever sees one.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from feature_platform.storage import open_storage, sweep_stale_staged


def write_parquet_file(frame: pl.DataFrame, final: Path) -> None:
    """Write ``frame`` to ``final`` through the storage layer's staged file (fsync, atomic replace, the
    staged file removed on failure), after sweeping what a killed run left (see the module docstring)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_staged(final)
    with open_storage(str(final.parent), what="output directory").stage(final.name) as staged:
        frame.write_parquet(staged.local_path)
        staged.commit()
