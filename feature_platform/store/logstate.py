"""One feature's audit log as it is found on storage: its entries, its damage, its repairs and its witnesses.

:func:`read_log` reads a whole log once and judges it the same way for every consumer — ``history`` (which
refuses a damaged log), ``plan``, ``publish`` and ``rollback`` (which refuse a log whose live version cannot be
told), ``store verify`` (which reports it) and ``store repair`` (which supersedes the damage) — so they can never
disagree about what is damaged or what is live. It writes nothing.

*Damage* is a generation that is missing, whose bytes are not an entry about its own key (corrupt), that is a
directory where the entry's file belongs (local store), or whose ``from_hash`` is not what the previous entry made
live (the log was edited). A ``repair`` entry supersedes damaged generations: they are *repaired* as long as their
bytes are still the ones the repair fingerprinted; readers skip them, and a change to those bytes afterwards is
damage again.

The *witnesses* are the two copies of the newest entry written after every pointer change: the pointer hint
(``pointers/<feature>.json``) and the live record (``live/<feature>.json``). They are read *before* the log is
listed, so each is a lower bound on its end:

* a witness naming a generation past the end of the log proves that the newest entries were deleted;
* a witness holding the log's newest generation with *different content* proves that one of the two was edited
  (the witness is only ever a copy of the entry that won): the log is *disputed* and its live version unknown;
* a witness that is missing, unreadable or behind the log (stale: the disk was full, or the writer died between
  its entry and its witnesses) does not stop readers, who roll forward, but while it lags a deletion of the
  entries past it could not be detected: ``store repair`` rewrites it from the sound newest entry.

Losing every witness as well as the newest entries is the one deletion no reader can tell
(docs/ARCHITECTURE.md, "the store under damage").
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from feature_platform.errors import NotAFileError, StoreError, UnreadableObjectError
from feature_platform.storage import LocalObjectStorage, ObjectStorage
from feature_platform.storage.base import MAX_ENTRY_BYTES
from feature_platform.store import layout
from feature_platform.store.audit import AuditEntry, Superseded, parse_entry

logger = logging.getLogger(__name__)


class UnreadableLogError(StoreError):
    """A feature's audit log folder cannot be listed at all: ``problem`` says why, ``fix`` what to do. One
    feature's problem: the others of its environment are listed and read without it."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; {fix}")
        self.where = where
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Damage:
    """One damaged generation: where, what is wrong (one line), and the sha256 of its bytes (None: no bytes)."""

    generation: int
    key: str
    reason: str
    fingerprint: str | None
    missing: bool = False
    """Nothing at all is stored there (a deleted entry); a directory in its place has no bytes but is not missing."""
    stray: bool = False
    """A generation far beyond the log's end (:data:`FAR_GAP`): whatever it holds, it is not the live version."""

    def superseded(self) -> Superseded:
        return Superseded(generation=self.generation, sha256=self.fingerprint, reason=self.reason)


@dataclass(frozen=True)
class Repaired:
    """A generation a repair entry superseded, and whether its bytes are still the ones it fingerprinted."""

    generation: int
    key: str
    by: int
    record: Superseded
    fingerprint: str | None

    @property
    def changed(self) -> bool:
        """Bytes that differ from the fingerprinted ones (an entry restored into a superseded gap is not)."""
        return self.record.sha256 is not None and self.fingerprint != self.record.sha256


@dataclass(frozen=True)
class Witness:
    """The pointer hint or the live record: a copy of the newest entry, or why it cannot be used."""

    what: str
    key: str
    entry: AuditEntry | None
    unusable: str | None = None
    """Why it cannot be used, as the end of a sentence starting with its name ("is missing", "is corrupt: ...")."""
    obstacle: bool = False
    """A directory stands where its file belongs: nothing can rewrite it until the operator moves it away."""

    @property
    def missing(self) -> bool:
        return self.entry is None and not self.obstacle and self.unusable == MISSING


MISSING = "is missing"


@dataclass(frozen=True)
class LogListing:
    """The generations a feature's audit folder holds: as files, and as directories (damage, local store)."""

    files: frozenset[int] = frozenset()
    folders: frozenset[int] = frozenset()

    @property
    def last(self) -> int:
        return max(self.files | self.folders, default=0)


@dataclass
class LogState:
    """What :func:`read_log` found for ``env``/``feature_id``."""

    env: str
    feature_id: str
    last: int = 0
    """The highest generation stored (0: none)."""
    entries: dict[int, AuditEntry] = field(default_factory=dict)
    """Every readable entry about its own key, superseded ones included."""
    damage: dict[int, Damage] = field(default_factory=dict)
    """Damaged generations no repair supersedes."""
    repaired: dict[int, Repaired] = field(default_factory=dict)
    witnesses: list[Witness] = field(default_factory=list)
    disputed: list[Witness] = field(default_factory=list)
    """Witnesses holding the newest generation with other content than its entry (one of them was edited)."""

    @property
    def deleted_tail(self) -> Witness | None:
        """The witness proving that generations past :attr:`last` existed (the highest such), if any."""
        ahead = [w for w in self.witnesses if w.entry is not None and w.entry.generation > self.last]
        return max(ahead, key=lambda w: w.entry.generation if w.entry else 0, default=None)

    @property
    def newest(self) -> AuditEntry | None:
        """The entry that says what is live, when the log can tell: it is readable, no newer one is gone, and
        no witness holds its generation with other content."""
        if self.last == 0 or self.deleted_tail is not None or self.last in self.damage or self.disputed:
            return None
        if self.strays:
            return None
        return self.entries.get(self.last)

    @property
    def live_unknown(self) -> bool:
        """Something was published, but the log cannot tell what is live: readers and writers refuse it."""
        return self.newest is None and (self.last > 0 or self.deleted_tail is not None or bool(self.strays))

    @property
    def strays(self) -> list[Damage]:
        """Unrepaired generations far beyond the log's end, lowest first."""
        return sorted((d for d in self.damage.values() if d.stray), key=lambda d: d.generation)

    def lagging_witnesses(self) -> list[Witness]:
        """Witnesses that do not copy the sound newest entry (missing, unreadable, or behind it): harmless to
        readers, but while one lags, deleting the entries past it would go unseen. Empty when the newest entry
        is not sound (the repair of that rewrites every witness anyway)."""
        newest = self.newest
        if newest is None:
            return []
        return [w for w in self.witnesses if w.entry is None or w.entry.generation < newest.generation]

    def history(self) -> list[AuditEntry]:
        """The readable entries no repair superseded, oldest first."""
        return [self.entries[g] for g in sorted(self.entries) if g not in self.repaired and g not in self.damage]


def list_log(backend: ObjectStorage, env: str, feature_id: str) -> LogListing:
    """The generations stored for ``feature_id`` in ``env``: one listing of its audit folder, nothing deeper. A
    file where the folder belongs, or a folder that cannot be listed, is :class:`UnreadableLogError` for this
    feature only, never an empty log (that would read as "never published")."""
    prefix = layout.audit_prefix(env, feature_id)
    folder_key = layout.audit_folder_key(env, feature_id)
    try:
        listing = backend.list_folder(prefix)
    except StoreError as exc:
        if _is_file(backend, folder_key):
            raise _folder_is_a_file(backend, env, feature_id) from exc
        raise UnreadableLogError(
            prefix,
            f"the audit log of {env}/{feature_id} cannot be listed: {_first_line(exc)}",
            f"make {backend.describe()}/{prefix} readable to the platform (it never changes permissions), then run "
            f"`feature-platform store verify --env {env}`",
        ) from exc
    files = frozenset(g for g in map(layout.generation_from_name, listing.files) if g is not None)
    folders = frozenset(g for g in map(layout.generation_from_name, listing.folders) if g is not None)
    if not files and not folders and _is_file(backend, folder_key):  # S3: an object named like the folder
        raise _folder_is_a_file(backend, env, feature_id)
    return LogListing(files, folders)


def _is_file(backend: ObjectStorage, key: str) -> bool:
    try:
        return backend.get(key) is not None
    except StoreError:
        return False  # a directory (it is a folder after all), or unreadable: the listing's own error stands


def _folder_is_a_file(backend: ObjectStorage, env: str, feature_id: str) -> UnreadableLogError:
    folder = layout.audit_folder_key(env, feature_id)
    return UnreadableLogError(
        folder,
        f"{backend.describe()}/{folder} is a file where the audit log folder of {env}/{feature_id} belongs",
        "move that file out of the way (keep it: it may be the log's lost content), then run "
        f"`{repair_command(env, feature_id)}`, which re-records the newest entry from its copy in the pointer hint "
        "or live record and supersedes the rest as missing; or restore the folder from a backup",
    )


FAR_GAP = 1000
"""A listed generation more than this many generations past the one before it is a *stray*, not the log's end: each
publish adds one generation, so a gap that wide is a copied or misnamed file, never deleted history. Strays are
judged one by one and the gap is never enumerated (a stray ``999999999999.json`` costs one entry's read)."""


def split_far(generations: Iterable[int]) -> tuple[int, list[int]]:
    """The log's end (the highest generation reached in steps of at most :data:`FAR_GAP` + 1 from 0) and the
    generations beyond it (strays), sorted."""
    last = 0
    ordered = sorted(generations)
    for index, generation in enumerate(ordered):
        if generation - last - 1 > FAR_GAP:
            return last, ordered[index:]
        last = generation
    return last, []


def ranges(generations: Iterable[int]) -> str:
    """Generations as ranges ("3-9, 12"), never one by one."""
    spans: list[list[int]] = []
    for generation in sorted(generations):
        if spans and generation == spans[-1][1] + 1:
            spans[-1][1] = generation
        else:
            spans.append([generation, generation])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def stray_reason(generation: int, last: int, newest_sound: bool) -> str:
    before = f"the newest sound entry {last}" if newest_sound else f"the log's end {last}"
    return (
        f"generation {generation} is far beyond {before} (gap of {generation - last - 1}): a stray entry no publish "
        "can have written, so the live version cannot be told safely"
    )


def read_log(backend: ObjectStorage, env: str, feature_id: str) -> LogState:
    """Read and judge the whole audit log of ``feature_id`` in ``env`` and its two witnesses (read first). Costs one
    read per stored entry, never one per generation of a gap (:data:`FAR_GAP`)."""
    state = LogState(env, feature_id)
    state.witnesses = [
        _witness(backend, "pointer hint", layout.hint_key(env, feature_id), env, feature_id),
        _witness(backend, "live record", layout.live_key(env, feature_id), env, feature_id),
    ]
    listing = list_log(backend, env, feature_id)
    stored = _fetch(backend, {g: layout.audit_key(env, feature_id, g) for g in sorted(listing.files)})
    fingerprints: dict[int, str | None] = {}
    judged: dict[int, AuditEntry | Damage] = {}
    for generation in sorted(listing.folders - listing.files):
        key = layout.audit_key(env, feature_id, generation)
        judged[generation] = Damage(generation, key, NOT_A_FILE, None)
        fingerprints[generation] = None
    for generation, data in stored.items():
        key = layout.audit_key(env, feature_id, generation)
        fingerprints[generation] = None
        if isinstance(data, StoreError):
            judged[generation] = Damage(generation, key, _first_line(data), None)
            continue
        if data is None:
            continue  # gone between the listing and the read: missing
        fingerprints[generation] = hashlib.sha256(data).hexdigest()
        try:
            entry = parse_entry(data, origin=key)
        except StoreError as exc:
            judged[generation] = Damage(generation, key, _first_line(exc), fingerprints[generation])
            continue
        if (entry.generation, entry.env, entry.feature_id) != (generation, env, feature_id):
            claims = f"generation {entry.generation} of {entry.env}/{entry.feature_id}"
            reason = f"audit entry {key} is corrupt: it claims {claims}"
            judged[generation] = Damage(generation, key, reason, fingerprints[generation])
            continue
        judged[generation] = entry
    # Strays a repair superseded stay strays: the log's end is found without them.
    retired = {
        s.generation
        for g, e in judged.items()
        if isinstance(e, AuditEntry)
        for s in e.supersedes
        if s.generation > e.generation
    }
    state.last, far = split_far(set(judged) - retired)
    far = sorted({*far, *(g for g in retired if g in judged and g > state.last)})
    for generation in range(1, state.last + 1):
        found = judged.get(generation)
        if found is None:
            key = layout.audit_key(env, feature_id, generation)
            state.damage[generation] = Damage(generation, key, "missing (deleted?)", None, missing=True)
            fingerprints.setdefault(generation, None)
        elif isinstance(found, Damage):
            state.damage[generation] = found
        else:
            state.entries[generation] = found
    newest_sound = state.last in state.entries
    for generation in far:
        found = judged[generation]
        key = layout.audit_key(env, feature_id, generation)
        if isinstance(found, AuditEntry):
            state.entries[generation] = found
        state.damage[generation] = Damage(
            generation, key, stray_reason(generation, state.last, newest_sound), fingerprints[generation], stray=True
        )
    _apply_repairs(state, fingerprints)
    _check_chain(state, fingerprints)
    # A witness naming a generation far beyond the log's end is no copy of any entry a publish wrote.
    state.witnesses = [
        replace(
            w,
            entry=None,
            unusable=f"names generation {w.entry.generation}, far beyond the log's end {state.last}",
        )
        if w.entry is not None and w.entry.generation - state.last - 1 > FAR_GAP
        else w
        for w in state.witnesses
    ]
    newest = state.entries.get(state.last) if state.last not in state.damage else None
    if newest is not None:
        state.disputed = [
            w for w in state.witnesses if w.entry is not None and w.entry.generation == state.last and w.entry != newest
        ]
    return state


_FETCH_THREADS = 16
"""Entries read at once: a log of a few hundred entries on S3 is read in the time of a few dozen requests."""


def _fetch(backend: ObjectStorage, keys: dict[int, str]) -> dict[int, bytes | StoreError | None]:
    """The bytes of every key (None: gone; an :class:`UnreadableObjectError` or :class:`NotAFileError`: that entry's
    damage), read concurrently from a remote store when there are more than a few: writers and ``plan`` read whole
    logs, and each read is a round trip (local files are read faster in turn)."""

    def read(key: str) -> bytes | StoreError | None:
        try:
            return backend.get(key, limit=MAX_ENTRY_BYTES)
        except (UnreadableObjectError, NotAFileError) as exc:
            return exc

    if len(keys) <= 4 or isinstance(backend, LocalObjectStorage):
        return {g: read(key) for g, key in keys.items()}
    with ThreadPoolExecutor(max_workers=min(_FETCH_THREADS, len(keys)), thread_name_prefix="fp-read-log") as pool:
        return dict(zip(keys, pool.map(read, keys.values()), strict=True))


NOT_A_FILE = "a directory stands where the audit entry's file belongs"


def _apply_repairs(state: LogState, fingerprints: dict[int, str | None]) -> None:
    """Move the generations readable repair entries supersede from ``damage`` to ``repaired`` (the latest
    repair of a generation wins: it fingerprinted the most recent bytes)."""
    for by in sorted(state.entries):
        for record in state.entries[by].supersedes:
            key = layout.audit_key(state.env, state.feature_id, record.generation)
            state.repaired[record.generation] = Repaired(
                record.generation, key, by, record, fingerprints.get(record.generation)
            )
    for generation, repaired in state.repaired.items():
        if repaired.changed:
            state.damage[generation] = Damage(
                generation,
                repaired.key,
                f"its bytes changed after generation {repaired.by} superseded it as damaged "
                f"({repaired.record.reason})",
                repaired.fingerprint,
            )
        else:
            state.damage.pop(generation, None)
    for generation in [g for g, r in state.repaired.items() if r.changed]:
        del state.repaired[generation]


def _check_chain(state: LogState, fingerprints: dict[int, str | None]) -> None:
    """Each entry must start from what the previous one made live; checked only across readable, unsuperseded
    neighbours (what follows damage or a superseded generation cannot be checked, and is not blamed)."""
    previous: AuditEntry | None = None
    for generation in range(1, state.last + 1):
        current = state.entries.get(generation)
        usable = current is not None and generation not in state.repaired and generation not in state.damage
        if current is not None and usable and (generation == 1 or previous is not None):
            expected = previous.to_hash if previous is not None else None
            if current.from_hash != expected:
                made = f"generation {generation - 1} made {_short(expected)} live"
                if generation == 1:
                    made = "it is the first entry"
                state.damage[generation] = Damage(
                    generation,
                    layout.audit_key(state.env, state.feature_id, generation),
                    f"starts from {_short(current.from_hash)} but {made}: the log was edited",
                    fingerprints[generation],
                )
                usable = False
        previous = current if usable else None


def _witness(backend: ObjectStorage, what: str, key: str, env: str, feature_id: str) -> Witness:
    try:
        data = backend.get(key, limit=MAX_ENTRY_BYTES)
    except NotAFileError:
        return Witness(what, key, None, "is a directory where the file belongs", obstacle=True)
    except UnreadableObjectError as exc:
        return Witness(what, key, None, exc.problem)
    if data is None:
        return Witness(what, key, None, MISSING)
    try:
        entry = parse_entry(data, origin=key, what=what)
    except StoreError as exc:
        return Witness(what, key, None, _first_line(exc).split(f"{what} {key} ", 1)[-1])
    if (entry.env, entry.feature_id) != (env, feature_id):
        return Witness(what, key, None, f"is a copy of an entry of {entry.env}/{entry.feature_id}, not of this feature")
    return Witness(what, key, entry)


def usable_witnesses(
    backend: ObjectStorage, env: str, feature_id: str, warned: set[tuple[str, str]] | None = None
) -> list[Witness]:
    """The readable witnesses of ``feature_id`` in ``env`` (the cheap read ``current`` starts from); an
    unreadable one is logged and ignored (readers fall back to the log). ``warned``: the (key, problem) pairs
    already logged, which are not logged again (one command reads the witnesses several times)."""
    usable = []
    keys = (("pointer hint", layout.hint_key(env, feature_id)), ("live record", layout.live_key(env, feature_id)))
    for what, key in keys:
        witness = _witness(backend, what, key, env, feature_id)
        if witness.entry is not None:
            usable.append(witness)
        elif not witness.missing and _first_time(warned, key, witness.unusable):
            logger.warning(
                "ignoring the %s %s, which %s; readers fall back to the audit log, and `%s` rewrites it",
                what,
                key,
                witness.unusable,
                repair_command(env, feature_id),
            )
    return usable


def _first_time(warned: set[tuple[str, str]] | None, key: str, problem: str | None) -> bool:
    """Whether the warning about ``key``'s ``problem`` was not logged yet (and note that it now is)."""
    if warned is None:
        return True
    if (key, problem or "") in warned:
        return False
    warned.add((key, problem or ""))
    return True


def deleted_tail_message(env: str, feature_id: str, generation: int, what: str, key: str, last: int) -> str:
    """Why a feature whose newest entries were deleted is refused, and the command that repairs it."""
    return (
        f"the audit log of {env}/{feature_id} is damaged: generation {generation}, which the {what} {key} records, "
        f"is missing (deleted?; the log ends at {last}), so the live version cannot be told safely; run "
        f"`feature-platform store repair --env {env} --feature {feature_id}` to re-record it from that copy, or "
        "restore the entries from a backup"
    )


def dispute_message(
    env: str, feature_id: str, entry: AuditEntry, witness: Witness, origin: Callable[[str], str]
) -> str:
    """Why a feature whose newest entry and a witness of the same generation differ is refused."""
    assert witness.entry is not None
    return (
        f"the audit log of {env}/{feature_id} is damaged: its newest entry "
        f"{origin(layout.audit_key(env, feature_id, entry.generation))} and the {witness.what} "
        f"{origin(witness.key)} both hold generation {entry.generation} but differ "
        f"({differences(entry, witness.entry, witness.what)}): the {witness.what} is only ever a copy of the entry, "
        "so one of them was edited and the live version cannot be told safely; run "
        f"`{repair_command(env, feature_id)}` (it keeps the version two of the three copies agree on, or asks for "
        "--live HASH)"
    )


def differences(entry: AuditEntry, copy: AuditEntry, what: str) -> str:
    """Which fields of two entries differ, with the live hashes shown when they are among them."""
    names = [name for name in AuditEntry.model_fields if getattr(entry, name) != getattr(copy, name)]
    if "to_hash" in names:
        return f"{_short(entry.to_hash)} live in the entry, {_short(copy.to_hash)} in the {what}" + (
            f"; also {', '.join(n for n in names if n != 'to_hash')}" if len(names) > 1 else ""
        )
    return f"in {', '.join(names)}"


def describe_damage(state: LogState, origin: Callable[[str], str]) -> str | None:
    """One line saying what is wrong with the log (None: nothing) and the command that repairs it; the
    newest generation first, because that is what decides whether the live version can be told."""
    env, feature_id = state.env, state.feature_id
    tail = state.deleted_tail
    if tail is not None and tail.entry is not None:
        return deleted_tail_message(env, feature_id, tail.entry.generation, tail.what, origin(tail.key), state.last)
    newest = state.entries.get(state.last)
    if state.disputed and newest is not None:
        return dispute_message(env, feature_id, newest, state.disputed[0], origin)
    if not state.damage:
        return None
    prefix = origin(layout.audit_prefix(env, feature_id))
    missing = sorted(g for g, d in state.damage.items() if d.missing)
    strays = state.strays
    if strays:
        first = strays[0]
        what = f"the audit log {prefix} is damaged: {first.reason}"
        counted = 1
    elif state.last in state.damage:
        first = state.damage[state.last]
        what = (
            f"the audit log {prefix} is damaged at its newest generation {state.last} ({first.reason}), so the live "
            f"version of {env}/{feature_id} cannot be told safely"
        )
        counted = 1
    elif missing:
        what = f"audit log {prefix} is missing generation(s) {ranges(missing)}"
        counted = len(missing)
    else:
        first = state.damage[min(state.damage)]
        what = f"audit log {prefix} is broken at generation {first.generation}: {first.reason}"
        counted = 1
    others = len(state.damage) - counted
    more = ""
    if others:
        more = f" (and {others} more damaged generation(s): see `feature-platform store verify --env {env}`)"
    return f"{what}{more}; run `{repair_command(env, feature_id)}` to supersede the damage (its bytes are kept)"


def repair_command(env: str, feature_id: str) -> str:
    return f"feature-platform store repair --env {env} --feature {feature_id}"


def _short(content_hash: str | None) -> str:
    return "nothing" if content_hash is None else content_hash[:16]


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
