"""Durability helpers shared by the local artefact store and the local table writer."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: str | Path) -> None:
    """Make new, renamed or removed directory entries durable.

    Best effort: some filesystems refuse to open a directory, and there is nothing more to do there.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
