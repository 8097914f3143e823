"""``store repair`` of one feature's audit log: put back what a witness still holds, supersede what is damaged.

The log is append-only and the platform never rewrites or deletes an entry, so a repair only ever *adds*:

1. **Deleted newest entries** that a witness (the pointer hint or the live record, both copies of the newest
   entry) still holds are re-recorded from that copy, at their own generation.
2. **Damage** — a generation that is missing, corrupt or edited, or (further back than the newest entry) one
   naming an artefact that is missing, corrupt or of another feature, so that no rollback could return to
   it — is superseded by one ``repair`` entry appended after the newest generation with the same
   put-if-absent as every pointer change (a concurrent writer makes the repair fail, never both win). The
   entry lists each damaged generation with the sha256 of the bytes it had (None: missing): the damaged
   bytes stay where they are for forensics, readers skip them, ``store verify`` reports them as repaired,
   and if they change afterwards they are damage again.

3. **Witnesses** that are missing, unreadable or behind the sound newest entry (a full disk during a publish, a
   writer that died between its entry and its witnesses) are rewritten from it: while one lags, a deletion of
   the entries past it could not be detected.
4. **A disputed newest entry** — a witness holds its generation with other content, so one of the two was
   edited — is settled by the copies that agree: the entry and one witness against the other witness rewrite
   that witness; both witnesses against the entry supersede the entry (live: their copy). One copy against the
   entry, with no third to tell, is blocked: ``--live HASH`` decides.

The repair entry records the live version: ``live`` when the operator names one; otherwise the newest
entry's when it is sound (the repair changes nothing that is served); otherwise the intact copy of the
damaged newest entry a witness still holds. When none of these can tell, the plan is *blocked* and says
so, listing the versions the readable history knows: the operator decides, the platform never guesses. A
directory where a witness's file belongs blocks the repair too, naming it: the operator moves it away.

:func:`plan_repair` is read-only (``store verify`` uses it to print the exact command); :func:`repair_log`
carries a plan out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from feature_platform.errors import ArtefactError, PointerConflictError, StoreError, UnreadableObjectError
from feature_platform.store import layout
from feature_platform.store.audit import AuditEntry, utc_now
from feature_platform.store.logstate import Damage, LogState, Witness, differences, read_log, repair_command
from feature_platform.store.store import ArtefactStore


@dataclass(frozen=True)
class RepairPlan:
    """What :func:`repair_log` would write for one feature (nothing at all when :attr:`nothing`)."""

    env: str
    feature_id: str
    rerecord: AuditEntry | None = None
    """A witness's copy of the deleted newest entry, to put back at its generation."""
    supersede: tuple[Damage, ...] = ()
    live: str | None = None
    """The live version the repair entry records (None when it cannot be told: :attr:`blocked`)."""
    live_from: str = ""
    from_hash: str | None = None
    generation: int = 0
    """The generation the repair entry would take."""
    refresh: tuple[Witness, ...] = ()
    """Witnesses to rewrite from the sound newest entry (missing, unreadable, stale, or outvoted), when nothing
    is appended (an appended entry rewrites both anyway)."""
    newest: AuditEntry | None = None
    """The sound newest entry the witnesses are rewritten from."""
    blocked: str | None = None
    """Why the repair cannot go ahead as asked (the message names what to give it, or what to move away)."""
    needs_live: bool = False
    """Blocked because the live version cannot be told: ``--live HASH`` decides."""
    obstacle: bool = False
    """Blocked by something the operator must move out of the way first (a directory where a file belongs)."""
    candidates: tuple[str, ...] = ()

    @property
    def nothing(self) -> bool:
        return self.rerecord is None and not self.supersede and not self.refresh and self.blocked is None

    def command(self) -> str:
        """The exact command that carries this plan out."""
        base = repair_command(self.env, self.feature_id)
        if not self.needs_live:
            return base
        known = f" (versions its readable history names: {', '.join(self.candidates)})" if self.candidates else ""
        return f"{base} --live HASH, choosing the version to serve{known}"


@dataclass
class RepairOutcome:
    rerecorded: AuditEntry | None = None
    repair: AuditEntry | None = None
    superseded: list[Damage] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    """The witnesses rewritten from the sound newest entry (when nothing else was written)."""

    @property
    def nothing(self) -> bool:
        return self.rerecorded is None and self.repair is None and not self.rewritten

    def describe(self) -> list[str]:
        """What was written, one phrase per step."""
        done = []
        if self.rerecorded is not None:
            done.append(f"generation {self.rerecorded.generation} was re-recorded")
        if self.repair is not None:
            done.append(f"repair generation {self.repair.generation} was recorded")
        return done


def plan_repair(
    store: ArtefactStore, env: str, feature_id: str, *, live: str | None = None, state: LogState | None = None
) -> RepairPlan:
    """What a repair of ``feature_id`` in ``env`` would do; reads only."""
    layout.check_name("environment", env)
    layout.check_name("feature id", feature_id)
    if live is not None:
        layout.check_hash(live)
    state = state or read_log(store.backend, env, feature_id)
    entries = dict(state.entries)
    damage = dict(state.damage)
    last = state.last
    rerecord: AuditEntry | None = None
    refresh: list[Witness] = list(state.lagging_witnesses())
    undecided = False  # the newest entry and one copy disagree, and no third copy tells which is right
    tail = state.deleted_tail
    if tail is not None and tail.entry is not None:
        top = tail.entry.generation
        ahead = {w.entry for w in state.witnesses if w.entry is not None and w.entry.generation == top}
        if len(ahead) == 1 and _artefact_problem(store, tail.entry.to_hash, feature_id) is None:
            rerecord = tail.entry
            entries[rerecord.generation] = rerecord
        for generation in range(last + 1, tail.entry.generation + (0 if rerecord else 1)):
            key = layout.audit_key(env, feature_id, generation)
            damage[generation] = Damage(
                generation,
                key,
                f"missing (deleted?; the {tail.what} records generation {tail.entry.generation})",
                None,
                missing=True,
            )
        last = tail.entry.generation
    elif state.disputed and last in entries:
        entry = entries[last]
        agree = [w for w in state.witnesses if w.entry == entry]
        copies = {w.entry for w in state.disputed}
        if agree:  # the entry and one witness against the other: that witness was edited
            refresh = [*refresh, *state.disputed]
        else:
            copy = next(iter(copies)) if len(copies) == 1 else None
            both = len(state.disputed) == 2 and copy is not None
            reason = (
                f"differs from both its copies, the pointer hint and the live record, which agree "
                f"({differences(entry, copy, 'copies')}): the entry was edited"
                if both and copy is not None
                else f"differs from its copy in the {' and the '.join(w.what for w in state.disputed)} (the same "
                "generation), and no third copy tells which one was edited"
            )
            damage[last] = Damage(
                last, layout.audit_key(env, feature_id, last), reason, _fingerprint(store, env, feature_id, last)
            )
            undecided = not both
    _historical_artefacts(store, feature_id, entries, damage, state, last)
    newest = entries.get(last) if last not in damage else None
    if newest is not None and _artefact_problem(store, newest.to_hash, feature_id) == "foreign":
        damage[last] = Damage(
            last,
            layout.audit_key(env, feature_id, last),
            f"names artefact {newest.to_hash[:16]}…, which is not an artefact of {feature_id} (the entry was edited)",
            _fingerprint(store, env, feature_id, last),
        )
        newest = None
    supersede = tuple(damage[g] for g in sorted(damage))
    versions = [e.to_hash for g, e in sorted(entries.items()) if g not in damage and g not in state.repaired]
    if undecided:
        versions += [entries[last].to_hash, *(w.entry.to_hash for w in state.disputed if w.entry is not None)]
    candidates = tuple(dict.fromkeys(h[:16] for h in versions))
    plan = RepairPlan(
        env,
        feature_id,
        rerecord=rerecord,
        supersede=supersede,
        generation=last + 1,
        refresh=tuple(w for w in refresh if not supersede and rerecord is None),
        newest=newest,
        candidates=candidates,
    )
    obstacles = [w for w in state.witnesses if w.obstacle]
    if obstacles and not plan.nothing:
        where = " and ".join(f"{store.describe()}/{w.key}" for w in obstacles)
        return _blocked(
            replace(plan, obstacle=True),
            f"{where} {'is a directory' if len(obstacles) == 1 else 'are directories'} where the "
            f"{' and the '.join(w.what for w in obstacles)} of {env}/{feature_id} belongs: move "
            f"{'it' if len(obstacles) == 1 else 'them'} out of the way (keep it for forensics: the platform never "
            "deletes anything)",
        )
    if not supersede:
        if live is not None:
            return _blocked(plan, f"{env}/{feature_id} has no damage to repair; change its live version with "
                                  "`feature-platform publish` or `feature-platform rollback`")
        return plan
    copies_at_last = [w.entry for w in state.witnesses if w.entry is not None and w.entry.generation == last]
    sound_copies = {c.to_hash for c in copies_at_last if _artefact_problem(store, c.to_hash, feature_id) is None}
    if undecided:
        sound_copies = set()
    from_hash = newest.to_hash if newest is not None else (next(iter(sound_copies)) if len(sound_copies) == 1 else None)
    if live is not None:
        problem = _artefact_problem(store, live, feature_id)
        if problem is not None:
            return _blocked(plan, f"--live {live[:16]}… is {_PROBLEMS[problem].format(feature_id=feature_id)}")
        return _with_live(plan, live, "--live (the operator's choice)", from_hash)
    readable_strays = [d for d in supersede if d.stray and d.generation in entries]
    if readable_strays:  # a readable entry, though far beyond the end: whether it was meant is for the operator
        stray = readable_strays[0]
        shown = ", ".join(dict.fromkeys([*candidates, entries[stray.generation].to_hash[:16]]))
        return _blocked(
            replace(plan, needs_live=True, candidates=tuple(shown.split(", "))),
            f"{stray.reason}; it reads as an entry making {entries[stray.generation].to_hash[:16]}… live, so "
            "choose the version to serve with --live HASH",
        )
    if newest is not None:
        return _with_live(plan, newest.to_hash, f"generation {last}, unchanged", newest.to_hash)
    if len(sound_copies) == 1:
        what = " and ".join(sorted({w.what for w in state.witnesses if w.entry in copies_at_last}))
        return _with_live(plan, from_hash, f"the intact copy of generation {last} in the {what}", from_hash)
    why = damage[last].reason if last in damage else "it is damaged"
    disagree = " (the pointer hint and the live record disagree)" if len(sound_copies) > 1 else ""
    return _blocked(
        replace(plan, needs_live=True),
        f"the live version of {env}/{feature_id} cannot be told: its newest generation {last} is damaged ({why}) "
        f"and no intact copy of it remains{disagree}{_older_copies(store, state, last, feature_id)}; choose the "
        "version to serve with --live HASH",
    )


def _older_copies(store: ArtefactStore, state: LogState, last: int, feature_id: str) -> str:
    """A hint for the operator: what the witnesses, behind the damaged end of the log, last saw live."""
    older = {w.entry for w in state.witnesses if w.entry is not None and w.entry.generation < last}
    if len(older) != 1:
        return ""
    (entry,) = older
    if _artefact_problem(store, entry.to_hash, feature_id) is not None:
        return ""
    whats = " and the ".join(w.what for w in state.witnesses if w.entry == entry)
    return (
        f". The {whats} last recorded generation {entry.generation}, with {entry.to_hash[:16]}… live: if nothing "
        f"was published after it (the later generations are a stray copy, say), that is the version to keep"
    )


def repair_log(
    store: ArtefactStore,
    env: str,
    feature_id: str,
    *,
    actor: str,
    live: str | None = None,
    message: str | None = None,
) -> RepairOutcome:
    """Carry out :func:`plan_repair`: re-record a deleted newest entry, supersede what is damaged, and rewrite
    witnesses that lag behind or disagree with the sound newest entry. Raises :class:`StoreError` when the plan
    is blocked (nothing is written) or a witness cannot be written, and :class:`PointerConflictError` when another
    writer changed the log meanwhile (run it again)."""
    if not isinstance(actor, str) or not actor.strip():
        msg = "an actor (who is making the repair) is required for the audit log"
        raise StoreError(msg)
    plan = plan_repair(store, env, feature_id, live=live)
    if plan.blocked is not None:
        again = ", then run the repair again" if plan.obstacle else ""
        raise StoreError(f"{plan.blocked}{again}; nothing was written")
    outcome = RepairOutcome()
    try:
        if plan.rerecord is not None:
            if not store.append(plan.rerecord, strict_witnesses=True):
                raise _moved(env, feature_id, plan.rerecord.generation)
            outcome.rerecorded = plan.rerecord
        if plan.supersede:
            assert plan.live is not None  # not blocked
            entry = AuditEntry(
                generation=plan.generation,
                env=env,
                feature_id=feature_id,
                action="repair",
                from_hash=plan.from_hash,
                to_hash=plan.live,
                actor=actor,
                at=utc_now(),
                message=message or f"store repair: live version from {plan.live_from}",
                supersedes=tuple(d.superseded() for d in plan.supersede),
            )
            if not store.append(entry, strict_witnesses=True):
                raise _moved(env, feature_id, entry.generation)
            outcome.repair = entry
            outcome.superseded = list(plan.supersede)
        if plan.refresh and plan.newest is not None:
            store.write_witnesses(plan.newest)
            outcome.rewritten = [w.what for w in plan.refresh]
    except PointerConflictError:
        raise
    except StoreError as exc:
        done = "; ".join(outcome.describe()) or "nothing was written"
        again = repair_command(env, feature_id)
        msg = f"{exc}; the repair stopped there ({done}): fix the cause and run `{again}` again"
        raise StoreError(msg) from exc
    return outcome


_PROBLEMS = {
    "missing": "not in the artefact store (store it first, e.g. `feature-platform store repair --from-build DIR`)",
    "corrupt": "damaged in the artefact store (re-store it with `feature-platform store repair --from-build DIR`)",
    "foreign": "not an artefact of {feature_id}",
}


def _artefact_problem(store: ArtefactStore, content_hash: str, feature_id: str) -> str | None:
    """"missing", "corrupt" or "foreign" (another feature's artefact), or None when it is sound and this feature's."""
    try:
        if not store.has_artefact(content_hash):
            return "missing"
        artefact = store.get_artefact(content_hash)
    except (ArtefactError, UnreadableObjectError):
        return "corrupt"
    return None if artefact.feature.id == feature_id else "foreign"


def _historical_artefacts(
    store: ArtefactStore,
    feature_id: str,
    entries: dict[int, AuditEntry],
    damage: dict[int, Damage],
    state: LogState,
    last: int,
) -> None:
    """Entries before the newest whose artefact is gone, damaged or another feature's: no rollback can return
    to them, so a repair supersedes them too (after `--from-build` has put back what a build still has)."""
    for generation, entry in sorted(entries.items()):
        if generation >= last or generation in damage or generation in state.repaired:
            continue
        problem = _artefact_problem(store, entry.to_hash, feature_id)
        if problem is not None:
            damage[generation] = Damage(
                generation,
                layout.audit_key(state.env, feature_id, generation),
                f"names artefact {entry.to_hash[:16]}…, which is "
                + _PROBLEMS[problem].split(" (")[0].format(feature_id=feature_id),
                _fingerprint(store, state.env, feature_id, generation),
            )


def _fingerprint(store: ArtefactStore, env: str, feature_id: str, generation: int) -> str | None:
    data = store.backend.get(layout.audit_key(env, feature_id, generation))
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _with_live(plan: RepairPlan, live: str | None, source: str, from_hash: str | None) -> RepairPlan:
    return replace(plan, live=live, live_from=source, from_hash=from_hash)


def _blocked(plan: RepairPlan, why: str) -> RepairPlan:
    return replace(plan, blocked=why)


def _moved(env: str, feature_id: str, generation: int) -> PointerConflictError:
    return PointerConflictError(
        f"the audit log of {env}/{feature_id} changed while it was being repaired (generation {generation} was "
        f"written by someone else); run `{repair_command(env, feature_id)}` again"
    )
