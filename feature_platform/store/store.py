"""The artefact store: immutable, content-addressed artefacts plus per-environment pointers.

Artefacts are stored once under their content hash and verified on every read, so a corrupt or
swapped object is refused rather than served. Which artefact is live for a feature in an
environment is decided by an append-only audit log, built only from the backend primitives:

* Entry ``g`` of ``envs/<env>/audit/<feature_id>/`` is written with ``put_if_absent``. Creating
  entry ``g + 1`` *is* the compare-and-set: of two writers that both read generation ``g``, exactly
  one creates ``g + 1``; the other sees "already exists", re-reads and retries on top of it. No
  update is lost, and the log is the complete, gap-free history.
* ``envs/<env>/pointers/<feature_id>.json`` caches the latest entry (a plain overwrite) so readers
  need not list the log. It is only a hint: readers check it against the log and then roll forward
  while entry ``g + 1`` exists, so a hint that is stale (a crash between the two writes, a slow
  writer overwriting a newer hint), missing or garbage costs one listing, never a wrong answer.

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
        """The latest audit entry (its ``to_hash`` is live), or None if nothing was ever published."""
        latest = self._entry_from_hint(env, feature_id)
        if latest is None:
            prefix = layout.audit_prefix(env, feature_id)
            generations = self._generations(prefix)
            if generations:
                latest = self._require_entry(env, feature_id, max(generations))
        while True:  # roll forward past anything written after the hint or the listing
            following = self._read_entry(env, feature_id, (latest.generation if latest else 0) + 1)
            if following is None:
                return latest
            latest = following

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
            if current.from_hash is None:
                msg = (
                    f"{feature_id!r} in {env!r} has had only one live version ({current.to_hash[:12]}…); "
                    f"there is no previous version to roll back to"
                )
                raise StoreError(msg)
            target = current.from_hash
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

    def history(self, env: str, feature_id: str) -> list[AuditEntry]:
        """Every change of the pointer, oldest first; checked to be gap-free, chained and not cut short
        (the pointer hint may not name a generation past the log's end)."""
        self._entry_from_hint(env, feature_id)
        prefix = layout.audit_prefix(env, feature_id)
        generations = sorted(self._generations(prefix))
        if generations != list(range(1, len(generations) + 1)):
            missing = sorted(set(range(1, max(generations) + 1)) - set(generations))
            msg = f"audit log {self._origin(prefix)} is missing generations {missing[:10]}"
            raise StoreError(msg)
        entries = [self._require_entry(env, feature_id, g) for g in generations]
        previous: str | None = None
        for entry in entries:
            if entry.from_hash != previous:
                msg = (
                    f"audit log {self._origin(prefix)} is broken at generation {entry.generation}: it "
                    f"starts from {_short(entry.from_hash)} but {_short(previous)} was live"
                )
                raise StoreError(msg)
            previous = entry.to_hash
        return entries

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
        """Environments with at least one pointer, sorted."""
        found: set[str] = set()
        for key in self._backend.list_keys(layout.ENVS_PREFIX):
            parts = key.split("/")
            if len(parts) == 5 and parts[2] == "audit":
                found.add(parts[1])
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
                f"feature {artefact.feature.id!r}; the audit log was edited by hand"
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
            key = layout.audit_key(env, feature_id, entry.generation)
            if self._backend.put_if_absent(key, entry.to_bytes()):
                self._write_hint(entry)
                return entry
            logger.debug("lost the race for %s (attempt %d); re-reading", key, attempt)
            _backoff(attempt)
        msg = (
            f"could not {action} {target[:12]}… for {feature_id!r} in {env!r}: lost the compare-and-set "
            f"to concurrent writers {max_attempts} times; try again"
        )
        raise PointerConflictError(msg)

    def _write_hint(self, entry: AuditEntry) -> None:
        """Refresh the hint. The change is already committed, so a failure here is only logged."""
        key = layout.hint_key(entry.env, entry.feature_id)
        try:
            self._backend.put(key, entry.to_bytes())
        except StoreError as exc:
            logger.warning("pointer hint %s not updated (readers will roll forward): %s", key, exc)

    def _entry_from_hint(self, env: str, feature_id: str) -> AuditEntry | None:
        """The log entry the hint names, if the hint is readable and agrees with the log."""
        key = layout.hint_key(env, feature_id)
        data = self._backend.get(key)
        if data is None:
            return None
        try:
            hint = parse_entry(data, origin=self._origin(key))
        except StoreError as exc:
            logger.warning("ignoring unreadable pointer hint: %s", exc)
            return None
        if hint.env != env or hint.feature_id != feature_id:
            logger.warning("ignoring pointer hint %s: it names %s/%s", key, hint.env, hint.feature_id)
            return None
        entry = self._read_entry(env, feature_id, hint.generation)
        if entry is None and hint.generation > max(self._generations(layout.audit_prefix(env, feature_id)), default=0):
            # The hint is written only after its entry won the compare-and-set: the newest entries were
            # deleted. Answering with an older entry would silently roll the live version back.
            msg = (
                f"the audit log of {env}/{feature_id} is damaged: generation {hint.generation}, which the pointer "
                f"hint {self._origin(key)} records, is missing (deleted?), so the live version cannot be told "
                f"safely; restore the entry from a backup, or run `feature-platform store repair --env {env} "
                f"--feature {feature_id}` to re-record it from the hint"
            )
            raise StoreError(msg)
        if entry != hint:
            logger.warning("ignoring pointer hint %s: it does not match the audit log", key)
            return None
        return entry

    def repair_from_hint(self, env: str, feature_id: str) -> AuditEntry | None:
        """Re-record missing audit entries that the pointer hint still holds (it is a copy of the newest
        entry); None if nothing was missing. An entry that exists is never overwritten."""
        key = layout.hint_key(env, feature_id)
        data = self._backend.get(key)
        if data is None:
            return None
        hint = parse_entry(data, origin=self._origin(key))
        if (hint.env, hint.feature_id) != (env, feature_id) or self._read_entry(env, feature_id, hint.generation):
            return None
        self._require_artefact(hint.to_hash, feature_id, f"repair {env}/{feature_id} generation {hint.generation}")
        if not self._backend.put_if_absent(layout.audit_key(env, feature_id, hint.generation), hint.to_bytes()):
            return None
        logger.warning("re-recorded %s/%s generation %d from the pointer hint", env, feature_id, hint.generation)
        return hint

    def _generations(self, prefix: str) -> list[int]:
        found = (layout.generation_from_audit_key(prefix, k) for k in self._backend.list_keys(prefix))
        return [g for g in found if g is not None]

    def _read_entry(self, env: str, feature_id: str, generation: int) -> AuditEntry | None:
        key = layout.audit_key(env, feature_id, generation)
        data = self._backend.get(key)
        if data is None:
            return None
        entry = parse_entry(data, origin=self._origin(key))
        if (entry.generation, entry.env, entry.feature_id) != (generation, env, feature_id):
            msg = (
                f"audit entry {self._origin(key)} is corrupt: it claims generation {entry.generation} "
                f"of {entry.env}/{entry.feature_id}"
            )
            raise StoreError(msg)
        return entry

    def _require_entry(self, env: str, feature_id: str, generation: int) -> AuditEntry:
        entry = self._read_entry(env, feature_id, generation)
        if entry is None:
            msg = f"audit entry {self._origin(layout.audit_key(env, feature_id, generation))} vanished"
            raise StoreError(msg)
        return entry

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
