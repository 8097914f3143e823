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

import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from feature_platform.errors import OutputWriteError, writing
from feature_platform.storage import open_storage, sweep_stale_staged


def check_output_file(final: Path, *, inputs: Sequence[Path] = (), what: str = "output") -> None:
    """Refuse, before any work, an output file that cannot be written or would destroy an input: ``final``
    is one of ``inputs`` (the same file by any name: a symbolic or hard link, ``./x`` for ``x``), is a
    directory, or lies under a file (``file.parquet/x.parquet``, which the operating system calls "File
    exists" or "Not a directory")."""
    for source in inputs:
        same = final.exists() and source.exists() and os.path.samefile(final, source)
        if same or final.resolve() == source.resolve():
            msg = f"{what} {final} is the input {source}: writing it would replace the input; choose another path"
            raise OutputWriteError(msg)
    if final.is_dir():
        msg = f"{what} {final} is a directory; name a file"
        raise OutputWriteError(msg)
    if final.exists() and not final.is_file() and not final.is_symlink():
        msg = (f"{what} {final} is not a regular file (a device, a pipe or a socket): writing would replace it "
               "with a file; name a regular file")
        raise OutputWriteError(msg)
    for parent in final.absolute().parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                msg = f"cannot write {what} {final}: {parent} is a file, not a directory"
                raise OutputWriteError(msg)
            break


def write_parquet_file(frame: pl.DataFrame, final: Path, *, what: str = "output") -> None:
    """Write ``frame`` to ``final`` through the storage layer's staged file (fsync, atomic replace, the
    staged file removed on failure), after sweeping what a killed run left (see the module docstring).
    Any I/O failure is an :class:`~feature_platform.errors.OutputWriteError` naming ``final``."""
    check_output_file(final, what=what)
    with writing(f"{what} {final}"):
        final.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_staged(final)
        with open_storage(str(final.parent), what="output directory").stage(final.name) as staged:
            frame.write_parquet(staged.local_path)
            staged.commit()
