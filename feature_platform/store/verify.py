"""Read-only check of a store, and the one repair that needs artefact bytes: re-storing them from a build.

:func:`verify_store` reads everything the store's readers rely on and reports every inconsistency at once,
instead of the first one a reader trips over. It writes nothing. What it checks:

* every audit log (``envs/<env>/audit/<feature_id>/``): gap-free from generation 1, each entry parsable
  and about the key it is stored under, each entry starting from the hash the previous one made live;
* every pointer hint: a hint naming a generation past the end of its log means the newest entries were
  deleted (readers refuse the feature; ``store repair`` re-records them); a missing, unreadable or stale
  hint is only a note (readers fall back to the log);
* every artefact an audit entry names (the live one and every rollback target): present, its bytes
  hashing to its key, and an artefact of that feature;
* every object under ``objects/`` (all environments, or only those an environment's logs name when one
  environment is verified): it verifies, so a damaged object is found before anyone needs it.

:func:`restore_artefacts` puts back artefacts that are missing or damaged in the store from a compiled
build (``feature-platform compile --out DIR``): only bytes that verify and hash to exactly the key they go
under are written, so a repair can never change what a hash means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from feature_platform.artefact.loader import parse_artefact
from feature_platform.errors import ArtefactError, ArtefactNotFoundError, StoreError
from feature_platform.store import layout
from feature_platform.store.audit import AuditEntry, parse_entry
from feature_platform.store.store import ArtefactStore


@dataclass(frozen=True, order=True)
class StoreProblem:
    """One inconsistency: where (a key relative to the store, or env/feature) and what to do about it."""

    where: str
    message: str
    repair: str = ""

    def render(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text}\n    repair: {self.repair}" if self.repair else text


@dataclass
class VerifyReport:
    """What :func:`verify_store` found. ``problems`` make readers refuse something; ``notes`` do not."""

    store: str
    live: dict[str, dict[str, str | None]] = field(default_factory=dict)
    """env -> feature id -> live hash (None when the log is too damaged to tell)."""
    objects_checked: int = 0
    named: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """content hash -> the (env, feature id) whose readable audit entries name it."""
    problems: list[StoreProblem] = field(default_factory=list)
    notes: list[StoreProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(store: ArtefactStore, env: str | None = None) -> VerifyReport:
    """Check ``env`` (every environment when None) and the artefacts; read-only. Listing errors (an
    unreadable store) raise :class:`StoreError`: an unreadable store is never reported as consistent."""
    report = VerifyReport(store=store.describe())
    # A read of a key that need not exist: an unreadable store (a file where the directory should be, a
    # bucket that does not exist or denies access) raises here, where a listing could look merely empty.
    store.has_artefact("0" * 64)
    envs = [layout.check_name("environment", env)] if env is not None else _envs(store)
    named = report.named
    for each in envs:
        report.live[each] = {}
        for feature_id in _features(store, each):
            live = _verify_log(store, each, feature_id, report, named)
            report.live[each][feature_id] = live
    hashes = set(named) if env is not None else set(named) | set(_object_hashes(store, report))
    for content_hash in sorted(hashes):
        _verify_object(store, content_hash, named.get(content_hash, set()), report)
    report.objects_checked = len(hashes)
    if not hashes and not any(report.live.values()):
        report.notes.append(StoreProblem(report.store, "holds no artefacts and no pointers (nothing published yet?)"))
    report.problems.sort()
    report.notes.sort()
    return report


def _envs(store: ArtefactStore) -> list[str]:
    found: set[str] = set()
    for key in store.backend.list_keys(layout.ENVS_PREFIX):
        parts = key.split("/")
        if len(parts) >= 4 and parts[2] in ("audit", "pointers"):
            found.add(parts[1])
    return sorted(found)


def _features(store: ArtefactStore, env: str) -> list[str]:
    """Features with an audit log or a pointer hint in ``env`` (a hint without a log is damage too)."""
    found = set(store.list_features(env))
    hints = f"{layout.env_prefix(env)}pointers/"
    for key in store.backend.list_keys(hints):
        name = key[len(hints) :]
        if name.endswith(".json") and "/" not in name:
            found.add(name.removesuffix(".json"))
    return sorted(found)


def _object_hashes(store: ArtefactStore, report: VerifyReport) -> list[str]:
    hashes = []
    for key in store.backend.list_keys(layout.OBJECTS_PREFIX):
        content_hash = layout.hash_from_object_key(key)
        if content_hash is None:
            report.notes.append(StoreProblem(key, "is not an artefact key (objects/<sha256>.json); readers ignore it"))
        else:
            hashes.append(content_hash)
    return hashes


def _verify_log(
    store: ArtefactStore, env: str, feature_id: str, report: VerifyReport, named: dict[str, set[tuple[str, str]]]
) -> str | None:
    """Check one feature's audit log and hint; return its live hash (None when it cannot be told)."""
    prefix = layout.audit_prefix(env, feature_id)
    found = (layout.generation_from_audit_key(prefix, k) for k in store.backend.list_keys(prefix))
    generations = sorted(g for g in found if g is not None)
    entries: dict[int, AuditEntry] = {}
    damaged = False
    for generation in generations:
        key = layout.audit_key(env, feature_id, generation)
        try:
            entry = parse_entry(store.backend.get(key) or b"", origin=key)
        except StoreError as exc:
            report.problems.append(StoreProblem(key, _first_line(exc), _restore_entry(env, feature_id)))
            damaged = True
            continue
        if (entry.generation, entry.env, entry.feature_id) != (generation, env, feature_id):
            report.problems.append(
                StoreProblem(
                    key,
                    f"claims generation {entry.generation} of {entry.env}/{entry.feature_id}",
                    _restore_entry(env, feature_id),
                )
            )
            damaged = True
            continue
        entries[generation] = entry
        named.setdefault(entry.to_hash, set()).add((env, feature_id))
    last = max(generations, default=0)
    missing = sorted(set(range(1, last + 1)) - set(generations))
    if missing:
        report.problems.append(
            StoreProblem(
                prefix,
                f"audit log is missing generation(s) {', '.join(map(str, missing[:10]))}",
                _restore_entry(env, feature_id),
            )
        )
        damaged = True
    previous: str | None = None
    for generation in range(1, last + 1):
        current = entries.get(generation)
        if current is None:
            previous = None
            continue
        if (generation == 1 or generation - 1 in entries) and current.from_hash != previous:
            report.problems.append(
                StoreProblem(
                    layout.audit_key(env, feature_id, generation),
                    f"starts from {_short(current.from_hash)} but "
                    + (
                        f"generation {generation - 1} made {_short(previous)} live"
                        if generation > 1
                        else "it is the first entry"
                    )
                    + ": the log was edited",
                    _restore_entry(env, feature_id),
                )
            )
            damaged = True
        previous = current.to_hash
    hint_past_end = _verify_hint(store, env, feature_id, entries, last, report)
    if hint_past_end or damaged or last == 0:
        return None
    return entries[last].to_hash


def _verify_hint(
    store: ArtefactStore, env: str, feature_id: str, entries: dict[int, AuditEntry], last: int, report: VerifyReport
) -> bool:
    """Check the pointer hint; True when it proves newer entries were deleted."""
    key = layout.hint_key(env, feature_id)
    data = store.backend.get(key)
    if data is None:
        if last:
            report.notes.append(StoreProblem(key, "no pointer hint (harmless: readers list the audit log)"))
        return False
    try:
        hint = parse_entry(data, origin=key)
    except StoreError as exc:
        report.notes.append(StoreProblem(key, f"unreadable pointer hint, ignored by readers ({_first_line(exc)})"))
        return False
    if (hint.env, hint.feature_id) != (env, feature_id):
        report.notes.append(StoreProblem(key, f"pointer hint names {hint.env}/{hint.feature_id}; ignored by readers"))
        return False
    if hint.generation > last:
        report.problems.append(
            StoreProblem(
                key,
                f"the pointer hint records generation {hint.generation} but the audit log ends at {last}: its "
                "newest entries were deleted, so readers refuse this feature rather than roll it back",
                f"feature-platform store repair --env {env} --feature {feature_id} (re-records them from the hint), "
                "or restore the entries from a backup",
            )
        )
        return True
    if hint.generation < last:
        report.notes.append(
            StoreProblem(key, f"stale pointer hint (generation {hint.generation} of {last}); readers roll forward")
        )
    elif hint.generation in entries and entries[hint.generation] != hint:
        report.notes.append(
            StoreProblem(key, "pointer hint differs from the newest audit entry; readers trust the log")
        )
    return False


def _verify_object(
    store: ArtefactStore, content_hash: str, named_by: set[tuple[str, str]], report: VerifyReport
) -> None:
    key = layout.object_key(content_hash)
    users = ", ".join(f"{e}/{f}" for e, f in sorted(named_by))
    used = f" (named by the audit log of {users})" if users else ""
    repair = (
        f"feature-platform store repair --from-build DIR, with DIR a compiled build that holds {content_hash} "
        "(feature-platform compile --out DIR at the source revision its audit entry records)"
    )
    data = store.backend.get(key)
    if data is None:
        report.problems.append(StoreProblem(key, f"artefact {content_hash} is missing{used}", repair))
        return
    try:
        artefact = parse_artefact(data, expected_hash=content_hash, origin=key)
    except ArtefactError as exc:
        report.problems.append(StoreProblem(key, f"{_first_line(exc)}{used}", repair))
        return
    for env, feature_id in sorted(named_by):
        if artefact.feature.id != feature_id:
            report.problems.append(
                StoreProblem(
                    key,
                    f"is an artefact of {artefact.feature.id!r}, but the audit log of {env}/{feature_id} names it",
                    _restore_entry(env, feature_id),
                )
            )


@dataclass
class RestoreOutcome:
    restored: list[str] = field(default_factory=list)
    already_sound: list[str] = field(default_factory=list)


def restore_artefacts(store: ArtefactStore, build_dir: Path, wanted: Iterable[str]) -> RestoreOutcome:
    """Re-store the ``wanted`` hashes that are missing or damaged in ``store`` from the artefact files of a
    compiled build. Only bytes that verify and hash to the wanted key are written. Raises
    :class:`ArtefactNotFoundError` naming the hashes the build does not hold."""
    outcome = RestoreOutcome()
    broken: dict[str, bool] = {}  # hash -> whether an object (damaged) is in the way
    for content_hash in sorted(set(wanted)):
        key = layout.object_key(content_hash)
        current = store.backend.get(key)
        if current is not None:
            try:
                parse_artefact(current, expected_hash=content_hash, origin=key)
                outcome.already_sound.append(content_hash)
                continue
            except ArtefactError:
                pass
        broken[content_hash] = current is not None
    if not broken:
        return outcome
    available = _build_artefacts(build_dir)
    lacking = [h for h in broken if h not in available]
    if lacking:
        msg = (
            f"{build_dir} does not hold artefact(s) {', '.join(lacking)}; compile the configs at the source "
            "revision the audit log records for them and retry (nothing was written)"
        )
        raise ArtefactNotFoundError(msg)
    for content_hash, damaged in broken.items():
        if damaged:  # replace damaged bytes with bytes proven to hash to this key
            store.backend.put(layout.object_key(content_hash), available[content_hash])
        else:
            store.put_artefact(available[content_hash])
        outcome.restored.append(content_hash)
    return outcome


def _build_artefacts(build_dir: Path) -> dict[str, bytes]:
    """Content hash -> bytes of every sound artefact file under ``build_dir``."""
    files = sorted(build_dir.rglob("*.json")) if build_dir.is_dir() else []
    available: dict[str, bytes] = {}
    for path in files:
        data = path.read_bytes()
        try:
            artefact = parse_artefact(data, origin=str(path))
        except ArtefactError:
            continue  # the manifest, or a damaged file: never a source of bytes
        assert artefact.content_hash is not None
        available[artefact.content_hash] = data
    if not available:
        msg = f"{build_dir} holds no compiled artefacts (expected the output of `feature-platform compile --out`)"
        raise StoreError(msg)
    return available


def _restore_entry(env: str, feature_id: str) -> str:
    return (
        f"restore the audit entries of {env}/{feature_id} from a backup (entries are never rewritten by the "
        "platform); `feature-platform history` shows what readers can still tell"
    )


def _short(content_hash: str | None) -> str:
    return "nothing" if content_hash is None else content_hash[:16]


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
