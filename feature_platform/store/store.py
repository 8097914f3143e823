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
  ``g + 1`` exists, so a witness that is stale (a crash between the writes, a slow writer overwriting a
  newer one), missing or garbage costs one listing, never a wrong answer. A witness naming a generation
  the log does not have proves its newest entries were deleted: readers refuse rather than serve the
  older entry (a silent rollback). Deleting the newest entries *and both witnesses* leaves no trace a
  reader could find; docs/ARCHITECTURE.md says so.
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
    PointerConflictError,
    StoreError,
)
from feature_platform.storage import ObjectStorage
from feature_platform.store import layout
from feature_platform.store.audit import Action, AuditEntry, parse_entry, utc_now
from feature_platform.store.logstate import deleted_tail_message, read_log, repair_command, usable_witnesses

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

    @property
    def backend(self) -> ObjectStorage:
        return self._backend

    def describe(self) -> str:
        return self._backend.describe()

    def __repr__(self) -> str:
        return f"ArtefactStore({self.describe()!r})"

    def _origin(self, key: str) -> str:
        return f"{self._backend.describe()}/{key}"

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

        Starts from the highest generation the witnesses (pointer hint, live record) name, or from a listing
        without them, and rolls forward while a next entry exists. A witness naming a generation the log no
        longer has means its newest entries were deleted: refused, never answered with an older entry (that
        would silently roll the live version back). Only the newest entry is parsed: damage further back
        (or a generation a repair superseded) does not stop readers of the live version.
        """
        witnesses = usable_witnesses(self._backend, env, feature_id)
        top = max(witnesses, key=lambda w: w.entry.generation if w.entry else 0, default=None)
        seen = top.entry.generation if top is not None and top.entry is not None else 0
        generation, data = 0, None
        if seen:
            data = self._backend.get(layout.audit_key(env, feature_id, seen))
            generation = seen if data is not None else 0
        if data is None:
            listed = self._generations(layout.audit_prefix(env, feature_id))
            last = max(listed, default=0)
            if top is not None and seen > last:
                raise StoreError(deleted_tail_message(env, feature_id, seen, top.what, self._origin(top.key), last))
            if last:
                generation = last
                data = self._backend.get(layout.audit_key(env, feature_id, last))
                if data is None:
                    msg = f"audit entry {self._origin(layout.audit_key(env, feature_id, last))} vanished"
                    raise StoreError(msg)
        while True:  # roll forward past anything written after the witnesses or the listing
            following = self._backend.get(layout.audit_key(env, feature_id, generation + 1))
            if following is None:
                break
            generation, data = generation + 1, following
        if data is None:
            return None
        try:
            return self._entry_at(env, feature_id, generation, data)
        except StoreError as exc:
            msg = (
                f"{exc}; it is the newest entry, so the live version of {env}/{feature_id} cannot be told: run "
                f"`{repair_command(env, feature_id)}` (it records an operator entry superseding it and keeps "
                "its bytes)"
            )
            raise StoreError(msg) from exc

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
        state = read_log(self._backend, env, feature_id)
        tail = state.deleted_tail
        if tail is not None and tail.entry is not None:
            raise StoreError(
                deleted_tail_message(
                    env, feature_id, tail.entry.generation, tail.what, self._origin(tail.key), state.last
                )
            )
        if state.damage:
            missing = sorted(g for g, d in state.damage.items() if d.fingerprint is None)
            first = state.damage[min(state.damage)]
            prefix = self._origin(layout.audit_prefix(env, feature_id))
            what = (
                f"audit log {prefix} is missing generations {missing[:10]}"
                if missing
                else f"audit log {prefix} is broken at generation {first.generation}: {first.reason}"
            )
            others = len(state.damage) - (len(missing) if missing else 1)
            more = f" (and {others} more damaged generation(s): see `feature-platform store verify`)" if others else ""
            msg = f"{what}{more}; run `{repair_command(env, feature_id)}` to supersede the damage (its bytes are kept)"
            raise StoreError(msg)
        return state.history()

    def list_features(self, env: str) -> list[str]:
        """Features that have a pointer in ``env``, sorted."""
        prefix = layout.audit_prefix(env)
        found: set[str] = set()
        for key in self._backend.list_keys(prefix):
            feature_id, _, rest = key[len(prefix) :].partition("/")
            if not rest and not feature_id.startswith("."):
                # Only feature folders live here: a file is most likely a feature's audit log replaced by
                # a file. Skipping it would list that feature as never published ("Added" in plan).
                msg = (
                    f"cannot list {self._origin(prefix)}: {self._origin(key)} is a file, not a feature's "
                    "audit log folder"
                )
                raise StoreError(msg)
            if rest and layout.generation_from_audit_key(f"{prefix}{feature_id}/", key) is not None:
                found.add(feature_id)
        return sorted(found)

    def list_envs(self) -> list[str]:
        """Environments with at least one pointer, sorted. A file where an environment folder (or its audit,
        pointers or live folder) belongs is an error, never an environment with nothing published."""
        found: set[str] = set()
        for key in self._backend.list_keys(layout.ENVS_PREFIX):
            env = layout.env_of_key(key, self._origin(key))
            parts = key.split("/")
            if env is not None and len(parts) == 5 and parts[2] == "audit":
                found.add(env)
        return sorted(found)

    def load_live(self, env: str, feature_id: str) -> Artefact:
        """The verified artefact live for ``feature_id`` in ``env``."""
        entry = self.current(env, feature_id)
        if entry is None:
            msg = f"{feature_id!r} has no live version in environment {env!r} ({self.describe()})"
            raise ArtefactNotFoundError(msg)
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

    def _write_witnesses(self, entry: AuditEntry) -> None:
        """Refresh the pointer hint, then the live record: two copies of the newest entry in two folders,
        each only a lower bound on the log's end (a witness). Written only after the entry won the
        compare-and-set, so a witness never names a generation nobody won; the change is already committed,
        so a failure here is only logged (a witness that lags costs readers a roll-forward, nothing else)."""
        for key in (layout.hint_key(entry.env, entry.feature_id), layout.live_key(entry.env, entry.feature_id)):
            try:
                self._backend.put(key, entry.to_bytes())
            except StoreError as exc:
                logger.warning("witness %s not updated (readers will roll forward): %s", key, exc)

    def _generations(self, prefix: str) -> list[int]:
        found = (layout.generation_from_audit_key(prefix, k) for k in self._backend.list_keys(prefix))
        return [g for g in found if g is not None]

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

    def append(self, entry: AuditEntry) -> bool:
        """Create ``entry`` at its generation with put-if-absent (the compare-and-set) and refresh the
        witnesses; False if that generation already exists. For the repair of a damaged log, which must
        append without reading the live version through :meth:`current`."""
        key = layout.audit_key(entry.env, entry.feature_id, entry.generation)
        if not self._backend.put_if_absent(key, entry.to_bytes()):
            return False
        self._write_witnesses(entry)
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
