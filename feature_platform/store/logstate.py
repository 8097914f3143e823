"""One feature's audit log as it is found on storage: its entries, its damage, its repairs and its witnesses.

:func:`read_log` reads a whole log once and judges it the same way for every consumer — ``history`` (which
refuses a damaged log), ``store verify`` (which reports it) and ``store repair`` (which supersedes the damage)
— so the three can never disagree about what is damaged. It writes nothing.

*Damage* is a generation that is missing, whose bytes are not an entry about its own key (corrupt), or whose
``from_hash`` is not what the previous entry made live (the log was edited). A ``repair`` entry supersedes
damaged generations: they are *repaired* as long as their bytes are still the ones the repair fingerprinted;
readers skip them, and a change to those bytes afterwards is damage again.

The *witnesses* are the two copies of the newest entry written after every pointer change: the pointer hint
(``pointers/<feature>.json``) and the live record (``live/<feature>.json``). A witness naming a generation past
the end of the log proves that the newest entries were deleted; losing every witness as well as the entries is
the one deletion no reader can tell (docs/ARCHITECTURE.md, "the store under damage").
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from feature_platform.errors import StoreError
from feature_platform.storage import ObjectStorage
from feature_platform.store import layout
from feature_platform.store.audit import AuditEntry, Superseded, parse_entry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Damage:
    """One damaged generation: where, what is wrong (one line), and the sha256 of its bytes (None: missing)."""

    generation: int
    key: str
    reason: str
    fingerprint: str | None

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

    @property
    def deleted_tail(self) -> Witness | None:
        """The witness proving that generations past :attr:`last` existed (the highest such), if any."""
        ahead = [w for w in self.witnesses if w.entry is not None and w.entry.generation > self.last]
        return max(ahead, key=lambda w: w.entry.generation if w.entry else 0, default=None)

    @property
    def newest(self) -> AuditEntry | None:
        """The entry that says what is live, when the log can tell (it is readable and no newer one is gone)."""
        if self.last == 0 or self.deleted_tail is not None or self.last in self.damage:
            return None
        return self.entries.get(self.last)

    def history(self) -> list[AuditEntry]:
        """The readable entries no repair superseded, oldest first."""
        return [self.entries[g] for g in sorted(self.entries) if g not in self.repaired and g not in self.damage]


def read_log(backend: ObjectStorage, env: str, feature_id: str) -> LogState:
    """Read and judge the whole audit log of ``feature_id`` in ``env`` and its two witnesses."""
    state = LogState(env, feature_id)
    prefix = layout.audit_prefix(env, feature_id)
    found = (layout.generation_from_audit_key(prefix, k) for k in backend.list_keys(prefix))
    generations = sorted(g for g in found if g is not None)
    state.last = max(generations, default=0)
    fingerprints: dict[int, str | None] = {}
    for generation in range(1, state.last + 1):
        key = layout.audit_key(env, feature_id, generation)
        data = backend.get(key) if generation in generations else None
        if data is None:
            fingerprints[generation] = None
            state.damage[generation] = Damage(generation, key, "missing (deleted?)", None)
            continue
        fingerprints[generation] = hashlib.sha256(data).hexdigest()
        try:
            entry = parse_entry(data, origin=key)
        except StoreError as exc:
            state.damage[generation] = Damage(generation, key, _first_line(exc), fingerprints[generation])
            continue
        if (entry.generation, entry.env, entry.feature_id) != (generation, env, feature_id):
            claims = f"generation {entry.generation} of {entry.env}/{entry.feature_id}"
            reason = f"audit entry {key} is corrupt: it claims {claims}"
            state.damage[generation] = Damage(generation, key, reason, fingerprints[generation])
            continue
        state.entries[generation] = entry
    _apply_repairs(state, fingerprints)
    _check_chain(state, fingerprints)
    state.witnesses = [
        _witness(backend, "pointer hint", layout.hint_key(env, feature_id), env, feature_id),
        _witness(backend, "live record", layout.live_key(env, feature_id), env, feature_id),
    ]
    return state


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
    data = backend.get(key)
    if data is None:
        return Witness(what, key, None, "missing")
    try:
        entry = parse_entry(data, origin=key)
    except StoreError as exc:
        return Witness(what, key, None, f"unreadable ({_first_line(exc)})")
    if (entry.env, entry.feature_id) != (env, feature_id):
        return Witness(what, key, None, f"names {entry.env}/{entry.feature_id}")
    return Witness(what, key, entry)


def usable_witnesses(backend: ObjectStorage, env: str, feature_id: str) -> list[Witness]:
    """The readable witnesses of ``feature_id`` in ``env`` (the cheap read ``current`` starts from); an
    unreadable one is logged and ignored (readers fall back to the log)."""
    usable = []
    keys = (("pointer hint", layout.hint_key(env, feature_id)), ("live record", layout.live_key(env, feature_id)))
    for what, key in keys:
        witness = _witness(backend, what, key, env, feature_id)
        if witness.entry is not None:
            usable.append(witness)
        elif witness.unusable != "missing":
            logger.warning("ignoring the %s %s: %s", what, key, witness.unusable)
    return usable


def deleted_tail_message(env: str, feature_id: str, generation: int, what: str, key: str, last: int) -> str:
    """Why a feature whose newest entries were deleted is refused, and the command that repairs it."""
    return (
        f"the audit log of {env}/{feature_id} is damaged: generation {generation}, which the {what} {key} records, "
        f"is missing (deleted?; the log ends at {last}), so the live version cannot be told safely; run "
        f"`feature-platform store repair --env {env} --feature {feature_id}` to re-record it from that copy, or "
        "restore the entries from a backup"
    )


def repair_command(env: str, feature_id: str) -> str:
    return f"feature-platform store repair --env {env} --feature {feature_id}"


def _short(content_hash: str | None) -> str:
    return "nothing" if content_hash is None else content_hash[:16]


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
