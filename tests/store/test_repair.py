"""The store under damage: every kind of damage to an audit log is refused by readers, named by `store verify`
with the exact command that repairs it, and repaired by `store repair` without deleting or rewriting anything
(the damaged bytes stay; a `repair` entry supersedes them). Damage is made behind the store's back, as an
operator or a broken disk would."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.errors import PointerConflictError, StoreError
from feature_platform.store import ArtefactStore, open_store
from feature_platform.store.repair import plan_repair, repair_log
from feature_platform.store.verify import verify_store
from tests.store.artefacts import FEATURE_ID, sealed
from tests.store.test_pointers import _delete

ENV = "prod"
OTHER = "views_v2"
REPAIR = f"feature-platform store repair --env {ENV} --feature {FEATURE_ID}"


def _audit_key(generation: int) -> str:
    return f"envs/{ENV}/audit/{FEATURE_ID}/{generation:012d}.json"


HINT = f"envs/{ENV}/pointers/{FEATURE_ID}.json"
LIVE = f"envs/{ENV}/live/{FEATURE_ID}.json"


def _tree(store: ArtefactStore) -> dict[str, bytes | None]:
    return {k: store.backend.get(k) for k in store.backend.list_keys("")}


def _publish(store: ArtefactStore, *descriptions: str) -> list[str]:
    hashes = [store.put_artefact(sealed(d)[0]) for d in descriptions]
    for content_hash in hashes:
        store.publish(ENV, FEATURE_ID, content_hash, actor="alice")
    return hashes


# -- a corrupt newest entry --------------------------------------------------------------------------------------


def test_a_corrupt_newest_entry_is_superseded_by_an_operator_entry_that_keeps_its_bytes(
    store: ArtefactStore,
) -> None:
    h1, h2 = _publish(store, "one", "two")
    store.backend.put(_audit_key(2), b'{"generation": 2, "truncat')

    with pytest.raises(StoreError, match="is corrupt") as raised:
        store.current(ENV, FEATURE_ID)  # never h1, never a guess
    assert f"run `{REPAIR}`" in str(raised.value)
    (problem,) = verify_store(store, ENV).problems
    assert problem.where == _audit_key(2)
    assert problem.repair.startswith(f"{REPAIR} (appends an operator entry superseding generation(s) 2")
    assert f"with {h2[:16]}… live, from the intact copy of generation 2 in the live record and pointer hint" in (
        problem.repair
    )

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall")

    entry = outcome.repair
    assert entry is not None and outcome.rerecorded is None
    assert (entry.generation, entry.action, entry.from_hash, entry.to_hash) == (3, "repair", h2, h2)
    assert entry.actor == "oncall"
    (superseded,) = entry.supersedes
    assert superseded.generation == 2
    assert superseded.sha256 == hashlib.sha256(b'{"generation": 2, "truncat').hexdigest()
    assert store.backend.get(_audit_key(2)) == b'{"generation": 2, "truncat'  # kept for forensics
    assert store.current(ENV, FEATURE_ID) == entry
    assert store.load_live(ENV, FEATURE_ID).content_hash == h2
    assert [e.generation for e in store.history(ENV, FEATURE_ID)] == [1, 3]
    report = verify_store(store, ENV)
    assert report.ok, report.problems
    assert [r.where for r in report.repaired] == [_audit_key(2)]
    assert "superseded by the repair entry of generation 3" in report.repaired[0].message
    assert repair_log(store, ENV, FEATURE_ID, actor="oncall").nothing

    after = store.publish(ENV, FEATURE_ID, h1, actor="alice")  # the pointer works as before
    assert (after.generation, after.from_hash, after.to_hash) == (4, h2, h1)


def test_with_no_intact_copy_the_repair_asks_for_the_live_version_and_writes_nothing(store: ArtefactStore) -> None:
    h1, _h2 = _publish(store, "one", "two")
    store.backend.put(_audit_key(2), b"garbage")
    _delete(store, HINT)
    _delete(store, LIVE)
    before = _tree(store)

    (problem,) = verify_store(store, ENV).problems
    assert problem.repair.startswith(f"{REPAIR} --live HASH, choosing the version to serve")
    assert h1[:16] in problem.repair
    with pytest.raises(StoreError, match=r"cannot be told.*--live HASH.*nothing was written"):
        repair_log(store, ENV, FEATURE_ID, actor="oncall")
    assert _tree(store) == before

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall", live=h1, message="incident 42")
    assert outcome.repair is not None
    assert (outcome.repair.from_hash, outcome.repair.to_hash, outcome.repair.message) == (None, h1, "incident 42")
    assert store.load_live(ENV, FEATURE_ID).content_hash == h1
    assert verify_store(store, ENV).ok


def test_a_superseded_entry_that_changes_afterwards_is_damage_again(store: ArtefactStore) -> None:
    _publish(store, "one", "two")
    store.backend.put(_audit_key(2), b"garbage")
    repair_log(store, ENV, FEATURE_ID, actor="oncall")
    store.backend.put(_audit_key(2), b"other garbage")

    (problem,) = verify_store(store, ENV).problems
    assert problem.where == _audit_key(2)
    assert "its bytes changed after generation 3 superseded it" in problem.message
    with pytest.raises(StoreError, match="broken at generation 2"):
        store.history(ENV, FEATURE_ID)


def test_live_must_be_a_stored_artefact_of_the_feature(store: ArtefactStore) -> None:
    _publish(store, "one", "two")
    store.backend.put(_audit_key(2), b"garbage")
    other = store.put_artefact(sealed("v", OTHER)[0])
    with pytest.raises(StoreError, match=f"--live {other[:16]}… is not an artefact of {FEATURE_ID}"):
        repair_log(store, ENV, FEATURE_ID, actor="oncall", live=other)
    with pytest.raises(StoreError, match="has no damage to repair"):
        repair_log(store, ENV, OTHER, actor="oncall", live=other)


def test_a_repair_loses_the_compare_and_set_like_any_writer(
    store: ArtefactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feature_platform.store import repair as repair_module

    _publish(store, "one", "two")
    store.backend.put(_audit_key(1), b"garbage")  # damage far back: publishers keep working meanwhile
    stale = plan_repair(store, ENV, FEATURE_ID)
    assert stale.generation == 3
    h3 = store.put_artefact(sealed("three")[0])
    winner = store.publish(ENV, FEATURE_ID, h3, actor="alice")  # wins generation 3 first
    monkeypatch.setattr(repair_module, "plan_repair", lambda *args, **kwargs: stale)

    with pytest.raises(PointerConflictError, match=r"changed while it was being repaired.*run .* again"):
        repair_log(store, ENV, FEATURE_ID, actor="oncall")
    assert store.current(ENV, FEATURE_ID) == winner  # the publish is not lost, nor overwritten


# -- deleted newest entries: every witness counts ----------------------------------------------------------------


@pytest.mark.parametrize("gone", [HINT, LIVE], ids=["hint-deleted-too", "live-record-deleted-too"])
def test_deleting_the_newest_entry_and_one_witness_is_refused_and_repaired_from_the_other(
    store: ArtefactStore, gone: str
) -> None:
    _h1, h2 = _publish(store, "one", "two")
    newest = store.current(ENV, FEATURE_ID)
    _delete(store, _audit_key(2))
    _delete(store, gone)
    survivor = "live record" if gone == HINT else "pointer hint"

    with pytest.raises(StoreError, match=f"generation 2, which the {survivor} .* records, is missing") as raised:
        store.current(ENV, FEATURE_ID)  # not entry 1: that would silently roll the live version back
    assert f"`{REPAIR}`" in str(raised.value)
    with pytest.raises(StoreError, match="is damaged"):
        store.history(ENV, FEATURE_ID)
    (problem,) = verify_store(store, ENV).problems
    assert problem.where == (LIVE if gone == HINT else HINT)
    assert problem.repair.startswith(f"{REPAIR} (re-records generation 2 from its copy)")
    assert verify_store(store, ENV).live[ENV][FEATURE_ID] is None

    assert repair_log(store, ENV, FEATURE_ID, actor="oncall").rerecorded == newest
    assert store.load_live(ENV, FEATURE_ID).content_hash == h2
    assert verify_store(store, ENV).ok


def test_a_losing_publisher_writes_no_witness(store: ArtefactStore) -> None:
    h1, h2 = _publish(store, "one", "two")
    before = _tree(store)
    with pytest.raises(PointerConflictError):
        store.publish(ENV, FEATURE_ID, h1, actor="late", expected_from=h1)  # h2 is live, not h1
    assert _tree(store) == before
    assert store.current(ENV, FEATURE_ID) is not None and store.current(ENV, FEATURE_ID).to_hash == h2  # type: ignore[union-attr]


def test_deleted_entries_between_the_log_and_the_copy_are_superseded_as_missing(store: ArtefactStore) -> None:
    _h1, _h2, h3 = _publish(store, "one", "two", "three")
    _delete(store, _audit_key(3))
    _delete(store, _audit_key(2))

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall")

    assert outcome.rerecorded is not None and outcome.rerecorded.generation == 3
    assert outcome.repair is not None and outcome.repair.generation == 4
    assert [(s.generation, s.sha256) for s in outcome.repair.supersedes] == [(2, None)]
    assert store.load_live(ENV, FEATURE_ID).content_hash == h3
    assert [e.generation for e in store.history(ENV, FEATURE_ID)] == [1, 3, 4]
    assert verify_store(store, ENV).ok


# -- historical damage after a rollback --------------------------------------------------------------------------


def test_a_rolled_back_damaged_version_is_repaired_once_and_then_verifies_clean(store: ArtefactStore) -> None:
    h1, h2 = _publish(store, "one", "two")
    store.backend.put(f"objects/{h2}.json", b"damaged")
    store.rollback(ENV, FEATURE_ID, actor="oncall")  # the rollback that restored service

    (problem,) = verify_store(store, ENV).problems
    assert problem.where == f"objects/{h2}.json"
    assert f"without a build, retire the entries naming it (kept, reported as repaired): {REPAIR}" in problem.repair

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall")

    assert outcome.repair is not None and [s.generation for s in outcome.repair.supersedes] == [2]
    assert (outcome.repair.from_hash, outcome.repair.to_hash) == (h1, h1)
    report = verify_store(store, ENV)
    assert report.ok, report.problems
    assert {r.where for r in report.repaired} == {_audit_key(2), f"objects/{h2}.json"}
    assert verify_store(store).ok  # nor is it re-reported when every environment and object is checked
    assert [(e.generation, e.action) for e in store.history(ENV, FEATURE_ID)] == [
        (1, "publish"), (3, "rollback"), (4, "repair")
    ]
    with pytest.raises(StoreError, match="never live there"):
        store.rollback(ENV, FEATURE_ID, h2, actor="oncall")  # not a rollback target any more


def test_an_edited_historical_entry_is_repaired_once_and_then_verifies_clean(store: ArtefactStore) -> None:
    (mine,) = _publish(store, "one")
    other = store.put_artefact(sealed("v", OTHER)[0])
    entry = store.backend.get(_audit_key(1)) or b""
    for key in (_audit_key(1), HINT, LIVE):  # edited with its copies: no witness can tell
        store.backend.put(key, entry.replace(mine.encode(), other.encode()))
    store.publish(ENV, FEATURE_ID, mine, actor="oncall")  # what was live is live again
    problems = verify_store(store, ENV).problems
    assert [p.where for p in problems] == [f"objects/{other}.json"]
    assert problems[0].repair.startswith(f"{REPAIR} (appends an operator entry superseding generation(s) 1")

    repair_log(store, ENV, FEATURE_ID, actor="oncall")

    report = verify_store(store)
    assert report.ok, report.problems
    assert [r.where for r in report.repaired] == [_audit_key(1)]


def test_rollback_after_a_repair_returns_to_the_version_before_the_live_one(store: ArtefactStore) -> None:
    _h1, h2, h3 = _publish(store, "one", "two", "three")
    store.backend.put(_audit_key(1), b"garbage")  # damage far back: the live version is not in question
    repaired = repair_log(store, ENV, FEATURE_ID, actor="oncall").repair
    assert repaired is not None and (repaired.from_hash, repaired.to_hash) == (h3, h3)

    back = store.rollback(ENV, FEATURE_ID, actor="oncall")

    assert (back.from_hash, back.to_hash) == (h3, h2)


def test_rollback_after_superseding_the_newest_entry_returns_to_the_version_the_history_shows_before(
    store: ArtefactStore,
) -> None:
    _h1, h2, h3 = _publish(store, "one", "two", "three")
    store.backend.put(_audit_key(3), b"garbage")  # the entry that made h3 live; the witnesses still hold it
    repaired = repair_log(store, ENV, FEATURE_ID, actor="oncall").repair
    assert repaired is not None and (repaired.from_hash, repaired.to_hash) == (h3, h3)

    back = store.rollback(ENV, FEATURE_ID, actor="oncall")

    assert (back.from_hash, back.to_hash) == (h3, h2)


# -- a file where a folder belongs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("envs/qa", "is a file, not an environment folder"),
        ("envs/qa/audit", "is a file, not the environment's audit folder"),
        ("envs/qa/live", "is a file, not the environment's live folder"),
    ],
)
def test_a_file_where_an_environment_folder_belongs_is_an_error_never_empty(
    store: ArtefactStore, key: str, words: str
) -> None:
    """list_envs refuses it; verify reports it with the fix and goes on with the other environments."""
    (h1,) = _publish(store, "one")
    store.backend.put(key, b"a file where a folder belongs")

    with pytest.raises(StoreError, match=words):
        store.list_envs()
    report = verify_store(store)
    (problem,) = report.problems
    assert problem.where == key and "is a file where" in problem.message
    assert problem.repair.startswith("move it out of the way")
    assert report.live[ENV] == {FEATURE_ID: h1}


def test_a_file_where_a_verified_environments_folder_belongs_is_a_problem(store: ArtefactStore) -> None:
    _publish(store, "one")
    store.backend.put("envs/qa/pointers", b"a file where the pointers folder belongs")
    (problem,) = verify_store(store, "qa").problems
    assert (problem.where, problem.message) == (
        "envs/qa/pointers", "is a file where the environment's pointers folder belongs"
    )


# -- the commands ------------------------------------------------------------------------------------------------


def test_the_store_commands_repair_a_corrupt_newest_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FP_ARTEFACT_STORE", raising=False)
    monkeypatch.setenv("FP_ACTOR", "oncall")
    store = open_store(str(tmp_path / "artefacts"))
    h1, _h2 = _publish(store, "one", "two")
    store.backend.put(_audit_key(2), b"garbage")
    _delete(store, HINT)
    _delete(store, LIVE)
    runner = CliRunner()

    damaged = runner.invoke(cli, ["store", "verify"])
    assert damaged.exit_code == 1
    assert f"repair: {REPAIR} --live HASH" in damaged.stderr
    history = runner.invoke(cli, ["history", "--env", ENV, "--feature", FEATURE_ID])
    assert history.exit_code == 1 and REPAIR in history.output and "Traceback" not in history.output

    refused = runner.invoke(cli, ["store", "repair", "--env", ENV, "--feature", FEATURE_ID])
    assert refused.exit_code == 1 and "--live HASH" in refused.output and "nothing was written" in refused.output
    repaired = runner.invoke(cli, ["store", "repair", "--env", ENV, "--feature", FEATURE_ID, "--live", h1[:10]])
    assert repaired.exit_code == 0, repaired.output
    assert "superseded generation 2 (audit entry" in repaired.output and "its bytes are kept" in repaired.output
    assert f"recorded repair generation 3 (live: {h1[:12]})" in repaired.output

    clean = runner.invoke(cli, ["store", "verify"])
    assert clean.exit_code == 0, clean.output
    assert f"repaired: {_audit_key(2)}: superseded by the repair entry of generation 3" in clean.output
    live = store.current(ENV, FEATURE_ID)
    assert live is not None and (live.to_hash, live.actor) == (h1, "oncall")
    assert store.backend.get(_audit_key(2)) == b"garbage"  # h2's entry is kept, superseded

    ambiguous = runner.invoke(cli, ["store", "repair", "--env", ENV, "--feature", FEATURE_ID, "--live", "abc"])
    assert ambiguous.exit_code == 2 and "at least 8 characters" in ambiguous.output
    alone = runner.invoke(cli, ["store", "repair", "--live", h1])
    assert alone.exit_code == 2 and "give --feature too" in alone.output
