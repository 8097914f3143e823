"""Read-only check of a store, and the one repair that needs artefact bytes: re-storing them from a build.

:func:`verify_store` reads everything the store's readers rely on and reports every inconsistency at once,
instead of the first one a reader trips over. It writes nothing. What it checks:

* every audit log (``envs/<env>/audit/<feature_id>/``): gap-free from generation 1, each entry a file,
  parsable and about the key it is stored under, each entry starting from the hash the previous one made live
  (:func:`~feature_platform.store.logstate.read_log`, the same judgement ``history`` and ``store repair``
  use). Damage a ``repair`` entry superseded, with its bytes unchanged since, is listed as *repaired*
  (information, exit 0), not as a problem;
* both witnesses of every feature (the pointer hint and the live record): one naming a generation past the
  end of its log means the newest entries were deleted, and one holding the newest generation with other
  content means it or the entry was edited (readers refuse the feature either way). A missing, unreadable
  or stale witness does not stop readers (they fall back to the log), but it is a *problem* too (exit 1),
  with ``store repair`` rewriting it: while a witness lags, a deletion of the newest entries would go
  unnoticed, and that is worth an alert. A publish in flight between its entry and its witnesses shows a
  stale witness for that moment: a second run tells;
* every artefact an audit entry names (the live one and every rollback target): present, its bytes
  hashing to its key, and an artefact of that feature;
* every object under ``objects/`` (all environments, or only those an environment's logs name when one
  environment is verified): it verifies, so a damaged object is found before anyone needs it. A damaged
  object that only superseded entries name is repaired information (nothing can serve it or roll back
  to it); any other damaged object is a problem.

Every problem carries the exact command that repairs it (for a damaged log, what ``store repair`` would do,
from :func:`~feature_platform.store.repair.plan_repair`, or the ``--live HASH`` it needs to be told, or what
the operator must move out of the way first). Folders are listed one level at a time, and a folder that
cannot be read, or a file where a folder belongs, is reported as the problem of what lives there: the check
goes on with every other environment and feature.

:func:`restore_artefacts` puts back artefacts that are missing or damaged in the store from a compiled
build (``feature-platform compile --out DIR``): only bytes that verify and hash to exactly the key they go
under are written, so a repair can never change what a hash means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from feature_platform.artefact.loader import parse_artefact
from feature_platform.errors import (
    ArtefactError,
    ArtefactNotFoundError,
    NotAFileError,
    StoreError,
    UnreadableObjectError,
)
from feature_platform.store import layout
from feature_platform.store.logstate import (
    LogState,
    UnreadableLogError,
    differences,
    ranges,
    read_log,
    repair_command,
)
from feature_platform.store.repair import RepairPlan, plan_repair
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
    retired: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """content hash -> the (env, feature id) whose entries superseded by a repair name it."""
    problems: list[StoreProblem] = field(default_factory=list)
    repaired: list[StoreProblem] = field(default_factory=list)
    """Damage a ``repair`` entry superseded (its bytes unchanged since): information, not a problem."""
    notes: list[StoreProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(store: ArtefactStore, env: str | None = None) -> VerifyReport:
    """Check ``env`` (every environment when None) and the artefacts; read-only. A folder that cannot be read, or
    a file where a folder belongs, is a problem of what lives there, reported with its fix, and the check goes on
    with everything else; only a store whose root cannot be read raises :class:`StoreError` (an unreadable store
    is never reported as consistent)."""
    report = VerifyReport(store=store.describe())
    store.require_exists()  # an absent root (a typo) is never a consistent empty store
    objects_usable = _objects_folder(store, report)
    if objects_usable:
        # A read of a key that need not exist: an unreadable store (a bucket that does not exist or denies
        # access) raises here, where a listing could look merely empty.
        store.has_artefact("0" * 64)
    envs = [layout.check_name("environment", env)] if env is not None else _envs(store, report)
    named = report.named
    for each in envs:
        report.live[each] = {}
        for feature_id in _features(store, each, report):
            try:
                published, live = _verify_log(store, each, feature_id, report, named)
            except UnreadableLogError as exc:
                report.problems.append(StoreProblem(exc.where, exc.problem, exc.fix))
                published, live = True, None
            except StoreError as exc:
                report.problems.append(
                    StoreProblem(
                        layout.audit_prefix(each, feature_id),
                        f"the audit log of {each}/{feature_id} cannot be read: {_first_line(exc)}",
                        f"fix the cause, then run `feature-platform store verify --env {each}` again",
                    )
                )
                published, live = True, None
            if published:
                report.live[each][feature_id] = live
    known = set(named) | set(report.retired)
    hashes = known if env is not None or not objects_usable else known | set(_object_hashes(store, report))
    if not objects_usable:  # reported once, above: no artefact can be read until the folder is back
        hashes = set()
    live_in: dict[str, set[tuple[str, str]]] = {}
    for each, features in report.live.items():
        for feature_id, live in features.items():
            if live is not None:
                live_in.setdefault(live, set()).add((each, feature_id))
    for content_hash in sorted(hashes):
        _verify_object(
            store,
            content_hash,
            named.get(content_hash, set()),
            report.retired.get(content_hash, set()),
            live_in.get(content_hash, set()),
            report,
        )
    report.objects_checked = len(hashes)
    if not hashes and not any(report.live.values()) and not report.problems:
        report.notes.append(StoreProblem(report.store, "holds no artefacts and no pointers (nothing published yet?)"))
    report.problems.sort()
    report.repaired.sort()
    report.notes.sort()
    return report


_MOVE_IT = "move it out of the way (keep it for forensics: the platform never deletes anything)"


def _objects_folder(store: ArtefactStore, report: VerifyReport) -> bool:
    """Whether ``objects/`` can hold artefacts; a file where the folder belongs is one problem, reported with its
    repair (every artefact is then unreadable), and the check goes on with the audit logs."""
    folder = layout.OBJECTS_PREFIX.rstrip("/")
    try:
        found = store.backend.get(folder)
    except NotAFileError:
        return True  # the folder
    except UnreadableObjectError:
        found = b""
    if found is None:
        return True  # absent: nothing stored yet, or every artefact missing (reported per artefact)
    report.problems.append(
        StoreProblem(
            folder,
            "objects is a file where the folder belongs: no artefact can be read or stored",
            f"{_MOVE_IT}, then put the objects folder back from a backup, or re-store the artefacts the audit logs "
            "name with `feature-platform store repair --env ENV --from-build DIR` (DIR: `feature-platform compile "
            "--out DIR` at the revisions they record)",
        )
    )
    return False


def _envs(store: ArtefactStore, report: VerifyReport) -> list[str]:
    """The environment folders under ``envs/`` (one level); a file there is a problem, reported."""
    top = store.backend.list_folder(layout.ENVS_PREFIX)
    for name in top.files:
        report.problems.append(
            StoreProblem(f"{layout.ENVS_PREFIX}{name}", "is a file where only environment folders belong", _MOVE_IT)
        )
    for name in top.folders:
        if not layout.is_name(name):
            report.notes.append(
                StoreProblem(f"{layout.ENVS_PREFIX}{name}/", "is not a valid environment name; readers ignore it")
            )
    return sorted(name for name in top.folders if layout.is_name(name))


def _features(store: ArtefactStore, env: str, report: VerifyReport) -> list[str]:
    """Features with an audit log folder or a witness in ``env`` (a witness without a log is damage too), one
    folder level at a time, so an unreadable or misplaced one is reported and the rest still checked."""
    prefix = layout.env_prefix(env)
    found: set[str] = set()
    try:
        inside = store.backend.list_folder(prefix)
    except StoreError as exc:
        report.problems.append(StoreProblem(prefix, f"cannot be listed: {_first_line(exc)}", _FIX_LISTING.format(env)))
        return []
    for name in inside.files:
        if name in layout.ENV_FOLDERS:
            report.problems.append(
                StoreProblem(f"{prefix}{name}", f"is a file where the environment's {name} folder belongs", _MOVE_IT)
            )
    for folder in layout.ENV_FOLDERS:
        if folder not in inside.folders:
            continue
        try:
            listing = store.backend.list_folder(f"{prefix}{folder}/")
        except StoreError as exc:
            report.problems.append(
                StoreProblem(f"{prefix}{folder}/", f"cannot be listed: {_first_line(exc)}", _FIX_LISTING.format(env))
            )
            continue
        if folder == "audit":  # a file named like a feature is that feature's log replaced by a file: read_log says so
            names = [*listing.folders, *listing.files]
        else:  # a witness; a directory in its place is found by read_log
            names = [n.removesuffix(".json") for n in (*listing.files, *listing.folders) if n.endswith(".json")]
        found.update(n for n in names if layout.is_name(n))
    return sorted(found)


_FIX_LISTING = "make it readable to the platform, then run `feature-platform store verify --env {}` again"


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
) -> tuple[bool, str | None]:
    """Check one feature's audit log and witnesses; return whether anything was published, and its live hash
    (None when it cannot be told)."""
    state = read_log(store.backend, env, feature_id)
    for generation, entry in state.entries.items():
        into = report.retired if generation in state.repaired else named
        into.setdefault(entry.to_hash, set()).add((env, feature_id))
    for repaired in sorted(state.repaired.values(), key=lambda r: r.generation):
        restored = repaired.record.sha256 is None and repaired.fingerprint is not None
        report.repaired.append(
            StoreProblem(
                repaired.key,
                f"superseded by the repair entry of generation {repaired.by} ({repaired.record.reason})"
                + ("; restored since, and still superseded" if restored else "; its bytes are kept as they were"),
            )
        )
    plan: RepairPlan | None = None
    if (
        state.damage
        or state.deleted_tail is not None
        or state.disputed
        or state.lagging_witnesses()
        or any(w.obstacle for w in state.witnesses)
    ):
        plan = plan_repair(store, env, feature_id, state=state)
    for damage in sorted(state.damage.values(), key=lambda d: d.generation):
        if damage.missing:
            continue  # reported once, below, with the other missing generations
        report.problems.append(StoreProblem(damage.key, damage.reason, _repair_text(plan)))
    missing = sorted(g for g, d in state.damage.items() if d.missing)
    if missing:
        report.problems.append(
            StoreProblem(
                layout.audit_prefix(env, feature_id),
                f"audit log is missing generation(s) {ranges(missing)}",
                _repair_text(plan),
            )
        )
    _verify_witnesses(state, report, plan)
    newest = state.newest
    published = state.last > 0 or state.live_unknown
    return published, None if newest is None else newest.to_hash


def _repair_text(plan: RepairPlan | None) -> str:
    """The exact command that repairs a feature's log, and what it will do."""
    if plan is None:
        return ""
    if plan.blocked is not None:
        if plan.obstacle:
            return f"{plan.blocked}, then run `{plan.command()}`"
        backup = "; or restore the entries from a backup" if plan.needs_live else ""
        return f"{plan.command()}: {plan.blocked}{backup}"
    does = []
    if plan.rerecord is not None:
        does.append(f"re-records generation {plan.rerecord.generation} from its copy")
    if plan.supersede:
        generations = ranges(d.generation for d in plan.supersede)
        live = plan.live[:16] if plan.live else "?"
        does.append(
            f"appends an operator entry superseding generation(s) {generations} (their bytes are kept) with "
            f"{live}… live, from {plan.live_from}"
        )
    if plan.refresh and plan.newest is not None:
        whats = " and the ".join(dict.fromkeys(w.what for w in plan.refresh))
        does.append(f"rewrites the {whats} from generation {plan.newest.generation}, the sound newest entry")
        return f"{plan.command()} ({'; then '.join(does)})"
    return f"{plan.command()} ({'; then '.join(does)}), or restore the entries from a backup"


def _verify_witnesses(state: LogState, report: VerifyReport, plan: RepairPlan | None) -> None:
    """Check the pointer hint and the live record. Every witness that does not copy the sound newest entry is a
    problem with a fix, not a note: readers roll forward past it, but while it lags a deletion of the newest
    entries would go unnoticed (and one that disagrees with the newest entry makes readers refuse)."""
    last = state.last
    tail = state.deleted_tail
    repair = _repair_text(plan)
    if tail is not None and tail.entry is not None:
        agree = [w.what for w in state.witnesses if w is not tail and w.entry is not None and w.entry.generation > last]
        also = f" (so does the {agree[0]})" if agree else ""
        report.problems.append(
            StoreProblem(
                tail.key,
                f"the {tail.what} records generation {tail.entry.generation}{also} but the audit log ends at {last}: "
                "its newest entries were deleted, so readers refuse this feature rather than roll it back",
                repair,
            )
        )
    newest = state.entries.get(last)
    if state.disputed and newest is not None:
        first = state.disputed[0]
        assert first.entry is not None
        whats = " and the ".join(w.what for w in state.disputed)
        report.problems.append(
            StoreProblem(
                layout.audit_key(state.env, state.feature_id, last),
                f"the newest entry differs from its copy of the same generation in the {whats} "
                f"({differences(newest, first.entry, first.what)}): a copy is only ever written from the entry, so "
                "one of them was edited, and readers refuse this feature",
                repair,
            )
        )
    lagging = state.lagging_witnesses()
    unseen = "a deletion of the newest entries would go unnoticed"
    for witness in state.witnesses:
        if witness.obstacle:
            report.problems.append(
                StoreProblem(
                    witness.key,
                    f"the {witness.what} {witness.unusable}: readers ignore it, so {unseen}",
                    repair or _MOVE_IT,
                )
            )
        elif witness in lagging:
            if witness.missing:
                what = f"no {witness.what}: readers list the audit log instead, but {unseen}"
            elif witness.entry is None:
                what = f"the {witness.what} {witness.unusable}: readers ignore it, so {unseen}"
            else:
                what = (
                    f"stale {witness.what} (generation {witness.entry.generation} of {last}): readers roll forward, "
                    f"but {unseen} (a publish whose witnesses could not be written, e.g. on a full disk; or one in "
                    "flight right now: then run verify again)"
                )
            report.problems.append(StoreProblem(witness.key, what, repair))
        elif witness.entry is None and not witness.missing and state.newest is None and not state.live_unknown:
            report.notes.append(StoreProblem(witness.key, f"the {witness.what} {witness.unusable}; ignored by readers"))


def _verify_object(
    store: ArtefactStore,
    content_hash: str,
    named_by: set[tuple[str, str]],
    retired_by: set[tuple[str, str]],
    live_in: set[tuple[str, str]],
    report: VerifyReport,
) -> None:
    key = layout.object_key(content_hash)
    users = ", ".join(f"{e}/{f}" for e, f in sorted(named_by))
    used = f" (named by the audit log of {users})" if users else ""
    repair = (
        f"feature-platform store repair --from-build DIR, with DIR a compiled build that holds {content_hash} "
        "(feature-platform compile --out DIR at the source revision its audit entry records)"
    )
    historical = sorted(named_by - live_in)
    if live_in:
        e, f = sorted(live_in)[0]
        repair += f"; or serve an earlier version: feature-platform rollback --env {e} --feature {f}"
    elif historical:
        commands = "; ".join(repair_command(e, f) for e, f in historical)
        repair += f"; or, without a build, retire the entries naming it (kept, reported as repaired): {commands}"
    damaged: str | None = None
    try:
        data = store.backend.get(key)
    except UnreadableObjectError as exc:  # a FIFO, a device, a runaway size: never read, and reported
        data, damaged = None, f"artefact {content_hash} {exc.problem}"
        repair = f"move {store.backend.url(key)} out of the way (keep it for forensics), then {repair}"
    if damaged is None and data is None:
        damaged = f"artefact {content_hash} is missing"
    elif data is not None:
        try:
            artefact = parse_artefact(data, expected_hash=content_hash, origin=key)
        except ArtefactError as exc:
            damaged = _first_line(exc)
    if damaged is not None:
        if named_by or not retired_by:
            report.problems.append(StoreProblem(key, f"{damaged}{used}", repair))
        else:
            retired = ", ".join(f"{e}/{f}" for e, f in sorted(retired_by))
            report.repaired.append(
                StoreProblem(
                    key,
                    f"{damaged}; only entries a repair superseded name it ({retired}), so nothing can serve or roll "
                    "back to it; re-store it (--from-build) before publishing that version again",
                )
            )
        return
    for env, feature_id in sorted(named_by):
        if artefact.feature.id != feature_id:
            report.problems.append(
                StoreProblem(
                    key,
                    f"is an artefact of {artefact.feature.id!r}, but the audit log of {env}/{feature_id} names it",
                    _repair_text(plan_repair(store, env, feature_id)),
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
        try:
            current = store.backend.get(key)
        except UnreadableObjectError:
            broken[content_hash] = True  # replaced by bytes proven to hash to its key
            continue
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


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
