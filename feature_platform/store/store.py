"""The artefact store: immutable, content-addressed artefacts plus per-environment pointers.

Artefacts are stored once under their content hash and verified on every read, so a corrupt or
swapped object is refused rather than served. Which artefact is live for a feature in an
environment is decided by an append-only audit log, built only from the backend primitives:

* Entry ``g`` of ``envs/<env>/audit/<feature_id>/`` is written with ``put_if_absent``. Creating
  entry ``g + 1`` *is* the compare-and-set: of two writers that both read generation ``g``, exactly
  one creates ``g + 1``; the other sees "already exists", re-reads and retries on top of it. No
  update is lost, and the log is the complete, gap-free history.
* Two *witnesses* copy the latest entry after it won (plain overwrites): the pointer hint
  ``envs/<env>/pointers/<feature_id>.json`` and the live record ``envs/<env>/live/<feature_id>.json``.
  Readers start from the highest generation they name (no listing needed) and roll forward while entry
  ``g + 1`` exists, so a witness that is stale (a crash between the writes, a full disk), missing or garbage
  costs one listing, never a wrong answer; a writer that finds a later entry after writing its witnesses
  writes them again from it, so a slow writer does not leave them behind. A witness naming a generation
  the log does not have proves its newest entries were deleted, and one holding the newest generation with
  other content proves that it or the entry was edited: readers refuse rather than serve the older entry
  (a silent rollback). Deleting the newest entries *and both witnesses* leaves no trace a reader could
  find; docs/ARCHITECTURE.md says so.
* Two judgements of one log: :meth:`ArtefactStore.current`, the cheap read the runtimes poll (the witnesses,
  the newest entry, no listing), and :meth:`ArtefactStore.live_entry`, the whole log read and judged by
  :func:`~feature_platform.store.logstate.read_log` like ``history``, ``store verify`` and ``store repair``
  judge it. Writers (publish, rollback) and ``plan`` use the second, so they never build on a log whose
  end is damaged in a way only a listing shows (a stray entry past its end).
* Damage is superseded, never rewritten: ``feature-platform store repair`` appends a ``repair`` entry
  (the same put-if-absent) naming the damaged generations and their bytes' sha256
  (:mod:`feature_platform.store.repair`); readers only ever parse the newest entry, and ``history``
  leaves superseded generations out.

Retries are idempotent: publishing the hash that is already live returns the current entry
without writing, so a publish whose response was lost (and whose retry saw "exists") still ends
with the requested version live and one entry for it.
"""

from __future__ import annotations

import logging
import random
import time
from enum import Enum
from typing import Final

from feature_platform.artefact.format import Artefact
from feature_platform.artefact.loader import parse_artefact
from feature_platform.errors import (
    ArtefactNotFoundError,
    CorruptArtefactError,
    NotAFileError,
    PointerConflictError,
    StoreError,
    UnreadableObjectError,
)
from feature_platform.storage import LocalObjectStorage, ObjectStorage
from feature_platform.storage.base import MAX_ENTRY_BYTES
from feature_platform.store import layout
from feature_platform.store.audit import Action, AuditEntry, parse_entry, utc_now
from feature_platform.store.logstate import (
    FAR_GAP,
    NOT_A_FILE,
    LogState,
    deleted_tail_message,
    describe_damage,
    dispute_message,
    list_log,
    read_log,
    repair_command,
    split_far,
    usable_witnesses,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS: Final = 20
"""Compare-and-set attempts before :class:`PointerConflictError`; each loss means another writer won."""

_PUT_ARTEFACT_ATTEMPTS: Final = 5


class Unset(Enum):
    """Type of :data:`UNSET`, the "no expectation" marker (``None`` means "expect no live version")."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


def _short(content_hash: str | None) -> str:
    return "nothing" if content_hash is None else content_hash[:12]


class ArtefactStore:
    """Artefacts and pointers on top of one :class:`~feature_platform.storage.ObjectStorage`. Holds no state
    besides the storage, so any number of instances in any number of processes can share one location."""

    def __init__(self, backend: ObjectStorage) -> None:
        self._backend = backend
        self._warned: set[tuple[str, str]] = set()
        """(key, problem) of the witness warnings logged: each once per instance, however often it is read."""

    @property
    def backend(self) -> ObjectStorage:
        return self._backend

    def describe(self) -> str:
        return self._backend.describe()

    def __repr__(self) -> str:
        return f"ArtefactStore({self.describe()!r})"

    def _origin(self, key: str) -> str:
        return f"{self._backend.describe()}/{key}"

    def exists(self) -> bool:
        """Whether the store's root is there: a local directory (a file there is a :class:`StoreError`); an S3
        prefix always is (a missing or forbidden bucket fails its first read instead)."""
        if not isinstance(self._backend, LocalObjectStorage):
            return True
        try:
            return self._backend.root_exists()
        except StoreError as exc:
            msg = f"artefact store root: {exc} (check FP_ARTEFACT_STORE)"
            raise StoreError(msg) from exc

    def require_exists(self) -> None:
        """Refuse a store whose root does not exist (a typo in FP_ARTEFACT_STORE), for every command that reads:
        an absent root is never read as an empty store ("never published", everything "Added"). Only a publish
        creates the root, on its first write, and says so."""
        if not self.exists():
            msg = (
                f"artefact store root {self.describe()} does not exist: check FP_ARTEFACT_STORE (nothing was read); "
                "for a new store, create that directory or run `feature-platform publish`, whose first publish "
                "creates it"
            )
            raise StoreError(msg)

    # ----------------------------------------------------------------------------------------------
    # Artefacts

    def put_artefact(self, data: bytes) -> str:
        """Verify ``data`` and store it under its content hash; return the hash.

        Storing the same artefact again is a no-op. An object already at that key that does not hold
        exactly these bytes is corrupt: it is reported, never overwritten, because overwriting would
        hide whatever damaged it.
        """
        artefact = parse_artefact(data, origin="<artefact to store>")
        content_hash = artefact.content_hash
        assert content_hash is not None  # parse_artefact checked it equals the computed hash
        key = layout.object_key(content_hash)
        for attempt in range(1, _PUT_ARTEFACT_ATTEMPTS + 1):
            if self._backend.put_if_absent(key, data):
                return content_hash
            existing = self._backend.get(key)
            if existing == data:
                return content_hash
            if existing is not None:
                msg = (
                    f"artefact {self._origin(key)} already exists but is corrupt (its bytes differ from "
                    f"the artefact with hash {content_hash[:12]}…); refusing to overwrite it. Inspect "
                    f"and remove that object by hand, then store the artefact again"
                )
                raise CorruptArtefactError(msg)
            # "Exists" but unreadable: a concurrent conditional write still in flight (S3 409).
            _backoff(attempt)
        msg = f"could neither create nor read {self._origin(key)} after {_PUT_ARTEFACT_ATTEMPTS} attempts"
        raise StoreError(msg)

    def has_artefact(self, content_hash: str) -> bool:
        """Whether an object exists for ``content_hash`` (not verified; use get_artefact for that)."""
        return self._backend.get(layout.object_key(content_hash)) is not None

    def get_artefact_bytes(self, content_hash: str) -> bytes:
        """The verified canonical bytes of the artefact ``content_hash``."""
        return self._load(content_hash)[0]

    def get_artefact(self, content_hash: str) -> Artefact:
        """The verified, parsed artefact ``content_hash``."""
        return self._load(content_hash)[1]

    def list_artefacts(self) -> list[str]:
        """Hashes of every stored artefact, sorted."""
        found = (layout.hash_from_object_key(k) for k in self._backend.list_keys(layout.OBJECTS_PREFIX))
        return sorted(h for h in found if h is not None)

    def _load(self, content_hash: str) -> tuple[bytes, Artefact]:
        key = layout.object_key(content_hash)
        data = self._backend.get(key)
        if data is None:
            msg = f"no artefact {content_hash} in the artefact store {self.describe()} (looked for {key})"
            raise ArtefactNotFoundError(msg)
        # expected_hash: a valid artefact swapped in under another artefact's key is refused too.
        artefact = parse_artefact(data, expected_hash=content_hash, origin=self._origin(key))
        return data, artefact

    def _require_artefact(self, content_hash: str, feature_id: str, doing: str) -> Artefact:
        """The verified artefact, which must exist and belong to ``feature_id``."""
        try:
            artefact = self.get_artefact(content_hash)
        except ArtefactNotFoundError as exc:
            msg = f"cannot {doing}: {exc}; store the artefact first"
            raise ArtefactNotFoundError(msg) from exc
        if artefact.feature.id != feature_id:
            msg = (
                f"cannot {doing}: artefact {content_hash[:12]}… is feature {artefact.feature.id!r}, "
                f"not {feature_id!r}"
            )
            raise StoreError(msg)
        return artefact

    # ----------------------------------------------------------------------------------------------
    # Pointers

    def current(self, env: str, feature_id: str) -> AuditEntry | None:
        """The latest audit entry (its ``to_hash`` is live), or None if nothing was ever published.

        The cheap read runtimes poll: starts from the highest generation the witnesses (pointer hint, live record)
        name, or from a listing without them, and rolls forward while a next entry exists. Refused, never
        answered with an older entry (a silent rollback): a witness naming a generation the log no longer has
        (its newest entries were deleted), a newest entry that is corrupt or a directory, and a witness holding
        the newest generation with other content (one of the two was edited). Only the newest entry is parsed:
        damage further back (or a generation a repair superseded) does not stop readers of the live version.
        Writers and ``plan`` judge the whole log instead (:meth:`live_entry`).
        """
        witnesses = usable_witnesses(self._backend, env, feature_id, self._warned)
        top = max(witnesses, key=lambda w: w.entry.generation if w.entry else 0, default=None)
        seen = top.entry.generation if top is not None and top.entry is not None else 0
        generation, data = 0, None
        if seen:
            data = self._read_entry(env, feature_id, seen)
            generation = seen if data is not None else 0
        if data is None:
            listing = list_log(self._backend, env, feature_id)
            last, far = split_far(listing.files | listing.folders)
            if far:  # a stray far beyond the log's end (perhaps one a repair superseded): the whole log decides
                judged = self.live_entry(env, feature_id)
                if judged is None:
                    return None
                last = judged.generation
            if top is not None and seen > last and seen - last - 1 <= FAR_GAP:
                raise StoreError(deleted_tail_message(env, feature_id, seen, top.what, self._origin(top.key), last))
            if top is not None and seen > last:  # no log has such a gap: a damaged copy, as read_log judges it
                problem = f"names generation {seen}, far beyond the log's end {last}"
                if (top.key, problem) not in self._warned:
                    self._warned.add((top.key, problem))
                    logger.warning(
                        "ignoring the %s %s, which %s; readers fall back to the audit log, and `%s` rewrites it",
                        top.what,
                        top.key,
                        problem,
                        repair_command(env, feature_id),
                    )
            if last:
                generation = last
                data = self._read_entry(env, feature_id, last)
                if data is None:
                    msg = f"audit entry {self._origin(layout.audit_key(env, feature_id, last))} vanished"
                    raise StoreError(msg)
        while True:  # roll forward past anything written after the witnesses or the listing
            following = self._read_entry(env, feature_id, generation + 1)
            if following is None:
                break
            generation, data = generation + 1, following
        if data is None:
            return None
        try:
            entry = self._entry_at(env, feature_id, generation, data)
        except StoreError as exc:
            raise StoreError(self._newest_damaged(env, feature_id, str(exc))) from exc
        for witness in witnesses:
            if witness.entry is not None and witness.entry.generation == generation and witness.entry != entry:
                raise StoreError(dispute_message(env, feature_id, entry, witness, self._origin))
        return entry

    def _read_entry(self, env: str, feature_id: str, generation: int) -> bytes | None:
        """The bytes of entry ``generation`` (None: not there); a directory in its place is refused as damage."""
        key = layout.audit_key(env, feature_id, generation)
        try:
            return self._backend.get(key, limit=MAX_ENTRY_BYTES)
        except NotAFileError as exc:
            raise StoreError(
                self._newest_damaged(env, feature_id, f"audit entry {self._origin(key)} {NOT_A_FILE}")
            ) from exc
        except UnreadableObjectError as exc:
            raise StoreError(self._newest_damaged(env, feature_id, f"audit entry {exc}")) from exc

    @staticmethod
    def _newest_damaged(env: str, feature_id: str, problem: str) -> str:
        return (
            f"{problem}; it is the newest entry, so the live version of {env}/{feature_id} cannot be told: run "
            f"`{repair_command(env, feature_id)}` (it records an operator entry superseding it and keeps its bytes)"
        )

    def live_entry(self, env: str, feature_id: str) -> AuditEntry | None:
        """The live entry as the whole log tells it (:func:`~feature_platform.store.logstate.read_log`, the
        judgement of ``history``, ``store verify`` and ``store repair``), or None if nothing was ever published.
        For writers and ``plan``, which must not build on a log whose end is damaged (a stray entry past it,
        an edited newest entry) even where the cheap :meth:`current` cannot see it. Reads every entry. Refuses
        with the repair command when the live version cannot be told; damage further back is only logged."""
        state = self.judge(env, feature_id)
        if state.live_unknown:
            raise StoreError(describe_damage(state, self._origin) or f"the audit log of {env}/{feature_id} is damaged")
        if state.damage:
            logger.warning("%s", describe_damage(state, self._origin))
        for witness in state.lagging_witnesses():
            lag = witness.unusable if witness.entry is None else f"is stale (generation {witness.entry.generation})"
            if (witness.key, witness.unusable or "") in self._warned or (witness.key, lag or "") in self._warned:
                continue  # already said, in the words of the cheap read
            self._warned.add((witness.key, lag or ""))
            logger.warning(
                "the %s %s %s: until `%s` rewrites it, a deletion of the newest entries would go unnoticed",
                witness.what,
                self._origin(witness.key),
                lag,
                repair_command(env, feature_id),
            )
        return state.newest

    def judge(self, env: str, feature_id: str) -> LogState:
        """The whole audit log of ``feature_id`` in ``env`` and its witnesses, judged (read-only)."""
        layout.check_name("environment", env)
        layout.check_name("feature id", feature_id)
        return read_log(self._backend, env, feature_id)

    def publish(
        self,
        env: str,
        feature_id: str,
        content_hash: str,
        *,
        actor: str,
        source_revision: str | None = None,
        message: str | None = None,
        expected_from: str | Unset | None = UNSET,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> AuditEntry:
        """Make ``content_hash`` the live version of ``feature_id`` in ``env``; return the new entry.

        The artefact must already be stored and be that feature. If it is already live, nothing is
        written and the current entry is returned (this takes precedence over ``expected_from``, so
        retrying a publish is safe). ``expected_from`` (a hash, or None for "nothing live yet") turns
        the publish into a strict compare-and-set: if another version is live, PointerConflictError.
        Without it, losing a race to a concurrent writer re-reads and retries on top of its change.
        """
        self._check_pointer_args(env, feature_id, content_hash, actor, expected_from)
        doing = f"publish {content_hash[:12]}… to {env}/{feature_id}"
        self._require_artefact(content_hash, feature_id, doing)
        return self._advance(
            env,
            feature_id,
            content_hash,
            action="publish",
            actor=actor,
            source_revision=source_revision,
            message=message,
            expected_from=expected_from,
            max_attempts=max_attempts,
        )

    def rollback(
        self,
        env: str,
        feature_id: str,
        to_hash: str | None = None,
        *,
        actor: str,
        source_revision: str | None = None,
        message: str | None = None,
        expected_from: str | Unset | None = UNSET,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> AuditEntry:
        """Make an earlier version live again; return the new (``rollback``) entry.

        Without ``to_hash`` this returns to the current entry's ``from_hash`` (so two rollbacks in a
        row toggle, like ``cd -``) and only if the pointer has not moved since it was read: a
        concurrent publish makes "previous" mean something else, so that raises PointerConflictError
        instead of silently rolling back the wrong thing. A named ``to_hash`` must be stored and must
        have been live in this environment before; anything new goes through :meth:`publish`.
        """
        self._check_pointer_args(env, feature_id, to_hash, actor, expected_from)
        current = self.current(env, feature_id)
        if current is None:
            msg = f"{feature_id!r} has never been published in {env!r}; there is nothing to roll back"
            raise ArtefactNotFoundError(msg)
        if to_hash is None:
            previous = self._previous_version(env, feature_id, current)
            if previous is None:
                msg = (
                    f"{feature_id!r} in {env!r} has had only one live version ({current.to_hash[:12]}…) as far as "
                    f"its history tells; there is no previous version to roll back to (name one with --to)"
                )
                raise StoreError(msg)
            target = previous
            if isinstance(expected_from, Unset):
                expected_from = current.to_hash
        else:
            target = to_hash
            if target not in {entry.to_hash for entry in self.history(env, feature_id)}:
                msg = (
                    f"cannot roll {feature_id!r} in {env!r} back to {target[:12]}…: it was never live "
                    f"there. Rollback only returns to a version from the history; publish new versions"
                )
                raise StoreError(msg)
        self._require_artefact(target, feature_id, f"roll {env}/{feature_id} back to {target[:12]}…")
        return self._advance(
            env,
            feature_id,
            target,
            action="rollback",
            actor=actor,
            source_revision=source_revision,
            message=message,
            expected_from=expected_from,
            max_attempts=max_attempts,
        )

    def _previous_version(self, env: str, feature_id: str, current: AuditEntry) -> str | None:
        """The version live before ``current`` made its version live. A ``repair`` entry that kept the live
        version (from = to) made nothing live, so the history is searched: the newest version other than
        the live one that its readable entries show (superseded entries are not in it)."""
        if current.action != "repair" or current.from_hash != current.to_hash:
            return current.from_hash
        for entry in reversed(self.history(env, feature_id)):
            earlier = entry.from_hash if entry.to_hash == current.to_hash else entry.to_hash
            if earlier is not None and earlier != current.to_hash:
                return earlier
        return None

    def history(self, env: str, feature_id: str) -> list[AuditEntry]:
        """Every change of the pointer, oldest first, without the generations a ``repair`` entry superseded.
        Refused while the log is damaged (a gap, a corrupt or edited entry, newest entries deleted): each
        message names ``feature-platform store repair``, which supersedes the damage explicitly."""
        state = self.judge(env, feature_id)
        problem = describe_damage(state, self._origin)
        if problem is not None:
            raise StoreError(problem)
        return state.history()

    def list_features(self, env: str) -> list[str]:
        """Features that have an audit log folder in ``env``, sorted: one listing of ``envs/<env>/audit/``, not of
        the logs inside, so one feature's unreadable log is that feature's error (when it is read), never every
        feature's. A file named like a feature where its folder belongs is listed too: skipping it would show a
        published feature as never published ("Added" in plan); reading that feature then fails with the fix."""
        listing = self._backend.list_folder(layout.audit_prefix(env))
        return sorted({name for name in (*listing.folders, *listing.files) if layout.is_name(name)})

    def list_envs(self) -> list[str]:
        """Environments with at least one feature's audit log folder, sorted. A file where an environment folder
        (or its audit, pointers or live folder) belongs is an error, never an environment with nothing published.
        Lists folders one level at a time, never inside a feature's log."""
        top = self._backend.list_folder(layout.ENVS_PREFIX)
        for name in top.files:
            layout.env_of_key(f"{layout.ENVS_PREFIX}{name}", self._origin(f"{layout.ENVS_PREFIX}{name}"))
        found: list[str] = []
        for env in top.folders:
            if not layout.is_name(env):
                continue
            inside = self._backend.list_folder(layout.env_prefix(env))
            for name in inside.files:
                key = f"{layout.env_prefix(env)}{name}"
                layout.env_of_key(key, self._origin(key))
            if "audit" in inside.folders and self.list_features(env):
                found.append(env)
        return found

    def load_live(self, env: str, feature_id: str) -> Artefact:
        """The verified artefact live for ``feature_id`` in ``env`` (found by :meth:`current`)."""
        entry = self.current(env, feature_id)
        if entry is None:
            msg = f"{feature_id!r} has no live version in environment {env!r} ({self.describe()})"
            if not self.exists():  # a typo in FP_ARTEFACT_STORE is named as such, not only blamed on the feature
                msg = (f"{feature_id!r} has no live version in environment {env!r}: the artefact store root "
                       f"{self.describe()} does not exist (check FP_ARTEFACT_STORE; nothing is published there)")
            raise ArtefactNotFoundError(msg)
        return self.artefact_of(entry)

    def artefact_of(self, entry: AuditEntry) -> Artefact:
        """The verified artefact an audit entry makes live, which must be an artefact of the entry's feature."""
        env, feature_id = entry.env, entry.feature_id
        artefact = self.get_artefact(entry.to_hash)
        if artefact.feature.id != feature_id:
            msg = (
                f"the pointer for {feature_id!r} in {env!r} names artefact {entry.to_hash[:12]}… of "
                f"feature {artefact.feature.id!r}; the audit log was edited by hand: run "
                f"`{repair_command(env, feature_id)}` to supersede that entry"
            )
            raise StoreError(msg)
        return artefact

    # ----------------------------------------------------------------------------------------------
    # Compare-and-set internals

    def _advance(
        self,
        env: str,
        feature_id: str,
        target: str,
        *,
        action: Action,
        actor: str,
        source_revision: str | None,
        message: str | None,
        expected_from: str | Unset | None,
        max_attempts: int,
    ) -> AuditEntry:
        """Append an entry moving the pointer to ``target``, retrying on lost races."""
        if max_attempts < 1:
            msg = f"max_attempts must be at least 1, got {max_attempts}"
            raise StoreError(msg)
        self.live_entry(env, feature_id)  # judge the whole log once: never append to a log whose end is damaged
        for attempt in range(1, max_attempts + 1):
            current = self.current(env, feature_id)
            live = current.to_hash if current is not None else None
            if current is not None and live == target:
                return current
            if not isinstance(expected_from, Unset) and expected_from != live:
                msg = (
                    f"{feature_id!r} in {env!r}: expected {_short(expected_from)} to be live but "
                    f"{_short(live)} is (generation {current.generation if current else 0}); someone "
                    f"else changed it. Re-read and decide again"
                )
                raise PointerConflictError(msg)
            entry = AuditEntry(
                generation=(current.generation if current is not None else 0) + 1,
                env=env,
                feature_id=feature_id,
                action=action,
                from_hash=live,
                to_hash=target,
                actor=actor,
                at=utc_now(),
                source_revision=source_revision,
                message=message,
            )
            if self.append(entry):
                return entry
            logger.debug("lost the race for generation %d (attempt %d); re-reading", entry.generation, attempt)
            _backoff(attempt)
        msg = (
            f"could not {action} {target[:12]}… for {feature_id!r} in {env!r}: lost the compare-and-set "
            f"to concurrent writers {max_attempts} times; try again"
        )
        raise PointerConflictError(msg)

    def _write_witnesses(self, entry: AuditEntry, *, strict: bool = False) -> None:
        """Refresh the pointer hint, then the live record: two copies of the newest entry in two folders,
        each only a lower bound on the log's end (a witness). Written only after the entry won the
        compare-and-set, so a witness never names a generation nobody won. Then, if a later generation exists, a
        faster writer may have written its witnesses before these overwrote them: they are written again from
        it, so the witnesses end at the newest entry whichever writer finishes last.

        A publish's change is already committed, so a failure here is only logged, naming the command that
        rewrites them (readers roll forward past a lagging witness; ``store verify`` reports it). ``strict``
        (``store repair``, whose job is to write them) raises instead."""
        while True:
            for key in (layout.hint_key(entry.env, entry.feature_id), layout.live_key(entry.env, entry.feature_id)):
                try:
                    self._backend.put(key, entry.to_bytes())
                except StoreError as exc:
                    if strict:
                        raise
                    logger.warning(
                        "%s not updated (readers roll forward past it, but until it is rewritten a deletion of the "
                        "newest entries would go unnoticed): %s; once the cause is fixed, run `%s`",
                        key,
                        exc,
                        repair_command(entry.env, entry.feature_id),
                    )
            try:
                following = self._backend.get(
                    layout.audit_key(entry.env, entry.feature_id, entry.generation + 1), limit=MAX_ENTRY_BYTES
                )
                if following is None:
                    return
                entry = self._entry_at(entry.env, entry.feature_id, entry.generation + 1, following)
            except StoreError:
                return  # damage past this entry: readers refuse it, and its repair writes the witnesses

    def write_witnesses(self, entry: AuditEntry) -> None:
        """Rewrite both witnesses from ``entry`` (then from any later entry), raising on failure: the repair of
        witnesses that lag, are missing or disagree with a sound newest entry."""
        self._write_witnesses(entry, strict=True)

    def _entry_at(self, env: str, feature_id: str, generation: int, data: bytes) -> AuditEntry:
        """Parse the bytes of entry ``generation``; they must be an entry about that very key."""
        key = layout.audit_key(env, feature_id, generation)
        entry = parse_entry(data, origin=self._origin(key))
        if (entry.generation, entry.env, entry.feature_id) != (generation, env, feature_id):
            msg = (
                f"audit entry {self._origin(key)} is corrupt: it claims generation {entry.generation} "
                f"of {entry.env}/{entry.feature_id}"
            )
            raise StoreError(msg)
        return entry

    def append(self, entry: AuditEntry, *, strict_witnesses: bool = False) -> bool:
        """Create ``entry`` at its generation with put-if-absent (the compare-and-set) and refresh the
        witnesses; False if that generation already exists. For the repair of a damaged log, which must
        append without reading the live version through :meth:`current` (and, with ``strict_witnesses``, fails
        when the witnesses cannot be written: rewriting them is part of its job)."""
        key = layout.audit_key(entry.env, entry.feature_id, entry.generation)
        if not self._backend.put_if_absent(key, entry.to_bytes()):
            return False
        self._write_witnesses(entry, strict=strict_witnesses)
        return True

    @staticmethod
    def _check_pointer_args(
        env: str, feature_id: str, content_hash: str | None, actor: str, expected_from: str | Unset | None
    ) -> None:
        """Fail on bad arguments before any I/O, with messages naming the argument."""
        layout.check_name("environment", env)
        layout.check_name("feature id", feature_id)
        if content_hash is not None:
            layout.check_hash(content_hash)
        if isinstance(expected_from, str):
            layout.check_hash(expected_from)
        if not isinstance(actor, str) or not actor.strip():
            msg = "an actor (who is making the change) is required for the audit log"
            raise StoreError(msg)


def _backoff(attempt: int) -> None:
    """Sleep a little, randomised, so writers that collided do not collide again in lockstep."""
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
