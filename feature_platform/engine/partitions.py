"""What a raw events source's folder may hold: one rule for every reader of day partitions.

Every command that lists or reads the days of an events source (``batch-index`` and its completeness
check, ``replay``, the Dagster backfill, the demo graph) goes through this module, so they all see the
same days and refuse the same damage::

    <table root>/<key>=YYYY-MM-DD/<name>.parquet      a day partition and its data files

* A name that starts with ``.`` or ``_`` is *hidden*: never data, never an error (a writer's staging
  files, ``_SUCCESS`` and ``_temporary/`` markers, ``.DS_Store``, a folder set aside on purpose).
* Beside the day folders, anything else — ``dt=2026-11-1``, ``dt=garbage``, a day outside the days the
  platform can index, a ``README`` file, a folder of another layout — is **refused**, naming the path and
  what to do (rename it, move it out, or hide it with a leading ``_``). Ignoring it would give a silently
  wrong list of days: ``dt=2026-11-1`` is very likely the data of 2026-11-01.
* Inside a day folder, anything but a regular file named ``*.parquet`` (a folder named
  ``part-x.parquet``, a ``part-0.csv``, a ``README``) is refused the same way: its rows would otherwise be
  silently left out of the day.
* A day folder with no data file is not a day with raw data (it is reported as missing, as an absent one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from feature_platform._days import day_range_problem
from feature_platform.errors import SourceDataError, StoreError
from feature_platform.storage import ObjectStorage

_DAY_TEXT = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
_LOOSE_DAY = re.compile(r"\A(\d{4})[-_/.]?(\d{1,2})[-_/.]?(\d{1,2})\Z")

HIDE_HINT = "or hide it by starting its name with '_'"
FOLDER, FILE, OTHER = "folder", "file", "other"
"""Kinds of entry in a day folder: a folder, a regular file, anything else (never opened: a pipe would block)."""


def is_hidden(name: str) -> bool:
    """A name that is never data nor an error: a writer's staging file, a marker, a folder set aside."""
    return name.startswith((".", "_"))


def is_data_file(name: str) -> bool:
    """A file name a day partition (or a lookup table) reads: ``*.parquet``, not hidden."""
    return name.endswith(".parquet") and not is_hidden(name)


def partition_day(name: str, key: str) -> date | None:
    """The day of a day-partition folder named exactly ``<key>=YYYY-MM-DD`` (a real, indexable day), else None."""
    prefix = f"{key}="
    if not name.startswith(prefix) or not _DAY_TEXT.match(text := name[len(prefix) :]):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return None if day_range_problem(day) else day


def entry_problem(path: str, name: str, key: str) -> str:
    """Why ``name`` (at ``path``, directly in a source's folder) is not a day partition, and what to do."""
    prefix = f"{key}="
    if not name.startswith(prefix):
        return (f"{path} is not a day partition of this source (a source's folder holds only {key}=YYYY-MM-DD "
                f"folders): move it out {HIDE_HINT}")
    text = name[len(prefix) :]
    day = _loose_day(text)
    if day is not None and (problem := day_range_problem(day)):
        return f"{path} is not a day the platform can index ({problem}): move it out {HIDE_HINT}"
    if day is not None:
        return f"{path} is not named {key}=YYYY-MM-DD: rename it {key}={day.isoformat()} {HIDE_HINT}"
    return f"{path} is not named {key}=YYYY-MM-DD ({text!r} is not a date): rename it, move it out {HIDE_HINT}"


def day_entry_problem(path: str, *, kind: str) -> str:
    """Why an entry of a day (or lookup) folder is not a data file (``kind``: ``folder``, ``file`` for a regular
    file not named ``*.parquet``, ``other`` for a pipe, a device or a link to nothing), and what to do."""
    what = {
        FOLDER: "a folder",
        FILE: "not a .parquet file",
    }.get(kind, "not a regular file (a link to nothing, a pipe or a device)")
    return (f"{path} is {what}: a raw data folder holds only Parquet files (*.parquet), read as its rows; "
            f"move it out {HIDE_HINT}")


def _loose_day(text: str) -> date | None:
    """``2026-11-1``, ``20261101``, ``2026_11_01``: the day a mis-named partition most likely is."""
    match = _LOOSE_DAY.match(text)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


@dataclass(frozen=True)
class RawDays:
    """The day partitions of one source's folder: days with at least one data file, and empty day folders."""

    root: str
    days: tuple[date, ...] = ()
    empty: tuple[date, ...] = ()

    def nearest(self, day: date, count: int = 2) -> list[date]:
        """The days with data closest to ``day`` (for a message), in date order."""
        return sorted(sorted(self.days, key=lambda d: (abs((d - day).days), d))[:count])


def list_raw_days(storage: ObjectStorage, key: str, *, source: str, root: str) -> RawDays:
    """The day partitions of the source folder ``storage`` is rooted at (two listings: the folder, its files).

    Raises :class:`SourceDataError` naming the first entry the rule of the module refuses, and for an
    unreadable folder (never "no days")."""
    try:
        top = storage.list_folder("")
        keys = storage.list_keys("")
    except StoreError as exc:
        msg = f"cannot list the raw partitions of source '{source}': {exc}"
        raise SourceDataError(msg) from exc
    problems: list[str] = []
    for name in top.files:
        if is_hidden(name):
            continue
        if partition_day(name, key) is not None:
            problems.append(f"{root}/{name} is a file, not a folder: a day partition is a folder {key}=YYYY-MM-DD "
                            f"holding Parquet files; move it out {HIDE_HINT}")
        else:
            problems.append(entry_problem(f"{root}/{name}", name, key))
    folders: dict[str, date] = {}
    for name in top.folders:
        if is_hidden(name):
            continue
        day = partition_day(name, key)
        if day is None:
            problems.append(entry_problem(f"{root}/{name}/", name, key))
        else:
            folders[name] = day
    with_data: set[date] = set()
    for item in keys:
        folder, _, rest = item.partition("/")
        if folder not in folders or not rest:
            continue  # hidden, or refused above
        inner, _, deeper = rest.partition("/")
        if is_hidden(inner):
            continue
        if deeper:
            problems.append(day_entry_problem(f"{root}/{folder}/{inner}/", kind=FOLDER))
        elif is_data_file(inner):
            with_data.add(folders[folder])
        else:
            problems.append(day_entry_problem(f"{root}/{folder}/{inner}", kind=FILE))
    if problems:
        others = len(problems) - 1
        more = f" (and {others} more such entr{'y' if others == 1 else 'ies'})" if others else ""
        msg = f"source '{source}': {sorted(problems)[0]}{more}"
        raise SourceDataError(msg)
    every = set(folders.values())
    return RawDays(root=root, days=tuple(sorted(with_data)), empty=tuple(sorted(every - with_data)))


def check_day_folder(directory: str, entries: Mapping[str, str]) -> list[str]:
    """The data file names of a day (or lookup) folder given its entries (name -> :data:`FOLDER`, :data:`FILE`
    or :data:`OTHER`), sorted; raises :class:`SourceDataError` for the first entry that is neither hidden nor a
    regular file named ``*.parquet``."""
    names: list[str] = []
    for name, kind in sorted(entries.items()):
        if is_hidden(name):
            continue
        if kind != FILE or not name.endswith(".parquet"):
            raise SourceDataError(day_entry_problem(f"{directory}/{name}{'/' if kind == FOLDER else ''}", kind=kind))
        names.append(name)
    return names


__all__ = [
    "FILE",
    "FOLDER",
    "OTHER",
    "RawDays",
    "check_day_folder",
    "day_entry_problem",
    "entry_problem",
    "is_data_file",
    "is_hidden",
    "list_raw_days",
    "partition_day",
]
