"""Removing what killed runs left behind: the one sweep of stale hidden staging files and folders.

Every local write stages its bytes in a hidden name beside the final one (the storage layer's
``.<name>.<uuid>.tmp``, see :mod:`feature_platform.storage.local`; the compiler's ``.staging-*`` build
folders and ``.<out>.tmp-<pid>`` links) and publishes them with one atomic rename. A run that fails removes
its staging file itself; a run that is *killed* cannot, so the next run sweeps — by one rule, here, for
every writer: remove only what no live process can still own. In a directory other runs share (a day's
table partitions, the directory of ``--out``, the compiler's build folder) that is a hidden staging entry
**not modified for** :data:`STALE_STAGING_SECONDS` (a live writer keeps modifying its own; for a folder,
the newest modification anywhere inside it counts), or, when its name carries the id of the process that
wrote it, one whose process is gone from this machine. Only hidden names (a leading ``.``) are ever
considered, so no matcher can sweep published data, and an entry that vanishes meanwhile (a concurrent
sweep) is skipped.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable
from pathlib import Path

STALE_STAGING_SECONDS = 3600.0
"""A staging entry untouched this long belongs to a run that was killed or failed."""

LEGACY_STAGING_MARK = ".staging-"
"""What earlier versions staged a file as (``.<name>.staging-<pid>-<random>``), still swept."""


def staged_name(final_name: str) -> str:
    """The hidden name :meth:`~feature_platform.storage.LocalObjectStorage.stage` writes ``final_name`` under
    (``.<name>.<uuid>.tmp``): unique per write, and what :func:`staged_names_of` matches."""
    return f".{final_name}.{uuid.uuid4().hex}.tmp"


def is_staged_name(name: str) -> bool:
    """Whether ``name`` is one of the storage layer's staged files (``.<name>.<uuid>.tmp``), of any name."""
    return name.startswith(".") and name.endswith(".tmp")


def staged_names_of(final_name: str) -> Callable[[str], bool]:
    """A matcher for the staged files of ``final_name``: the storage layer's ``.<name>.<uuid>.tmp`` and the
    names earlier versions used (``.<name>.tmp``, ``.<name>.staging-*``) — never another output's."""
    staged = f".{final_name}."
    legacy = f".{final_name}{LEGACY_STAGING_MARK}"
    return lambda name: name.startswith(legacy) or (name.startswith(staged) and name.endswith(".tmp"))


def sweep_stale(
    directory: Path,
    matches: Callable[[str], bool],
    *,
    older_than: float = STALE_STAGING_SECONDS,
    owner_pid: Callable[[str], int | None] | None = None,
) -> list[Path]:
    """Remove the hidden entries of ``directory`` (files, links or folders) whose name ``matches`` and that no
    live process can own: not modified for ``older_than`` seconds, or — when ``owner_pid`` reads the id of
    the process that wrote one from its name — whose process is no longer running here. Returns what was
    removed; a missing directory has nothing to remove."""
    removed: list[Path] = []
    cutoff = time.time() - older_than
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or not matches(entry.name):
            continue
        pid = owner_pid(entry.name) if owner_pid is not None else None
        try:
            if not (pid is not None and not _alive(pid)) and _last_modified(entry.path) > cutoff:
                continue
            _remove(entry.path)
        except FileNotFoundError:
            continue
        removed.append(Path(entry.path))
    return removed


def sweep_stale_staged(final: Path, *, older_than: float = STALE_STAGING_SECONDS) -> list[Path]:
    """Remove the stale staged files of the one output ``final`` (see :func:`staged_names_of`), and no
    other output's: the directory of ``final`` may be shared with other outputs and other runs."""
    return sweep_stale(final.parent, staged_names_of(final.name), older_than=older_than)


def _last_modified(path: str) -> float:
    """The entry's own modification time; for a folder, the newest one anywhere inside it (a live writer
    modifies the files it is writing, not necessarily the folder that holds them)."""
    info = os.lstat(path)
    newest = info.st_mtime
    if stat.S_ISDIR(info.st_mode):
        for dirpath, dirnames, filenames in os.walk(path):
            for name in (*dirnames, *filenames):
                try:
                    newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def _remove(path: str) -> None:
    if stat.S_ISDIR(os.lstat(path).st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (ours counts; one we may not signal is alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):  # not a pid this machine could have
        return False
    return True
