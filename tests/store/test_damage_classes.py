"""The store under damage, class by class (issue 12's review): S3 folder markers, a witness that disagrees with the
newest entry, witnesses a publish could not write, one feature's unreadable path, an audit entry that is a
directory, a stray entry past the end of the log. Each kind of damage is made behind the store's back, as an
operator, a console or a broken disk would; readers, writers, ``plan``, ``store verify`` and ``store repair`` must
judge it the same way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.errors import StoreError
from feature_platform.release.planning import live_artefacts, plan_release
from feature_platform.storage import LocalObjectStorage, S3ObjectStorage
from feature_platform.store import ArtefactStore, open_store
from feature_platform.store.logstate import UnreadableLogError
from feature_platform.store.repair import plan_repair, repair_log
from feature_platform.store.verify import verify_store
from tests.store.artefacts import FEATURE_ID, sealed
from tests.store.test_pointers import _delete

ENV = "dev"
OTHER = "views_v2"
REPAIR = f"feature-platform store repair --env {ENV} --feature {FEATURE_ID}"
HINT = f"envs/{ENV}/pointers/{FEATURE_ID}.json"
LIVE = f"envs/{ENV}/live/{FEATURE_ID}.json"


def _audit_key(generation: int, feature_id: str = FEATURE_ID) -> str:
    return f"envs/{ENV}/audit/{feature_id}/{generation:012d}.json"


def _tree(store: ArtefactStore) -> dict[str, bytes | None]:
    return {k: store.backend.get(k) for k in store.backend.list_keys("")}


@pytest.fixture
def three(store: ArtefactStore) -> tuple[str, str, str]:
    """clicks_v1 published three times in dev (generations 1-3), views_v2 once."""
    hashes = tuple(store.put_artefact(sealed(d)[0]) for d in ("one", "two", "three"))
    for content_hash in hashes:
        store.publish(ENV, FEATURE_ID, content_hash, actor="alice")
    store.publish(ENV, OTHER, store.put_artefact(sealed("v", OTHER)[0]), actor="alice")
    return hashes  # type: ignore[return-value]


def _other_still_works(store: ArtefactStore) -> None:
    """views_v2 is read, planned and published as if nothing were wrong elsewhere."""
    assert store.current(ENV, OTHER) is not None
    assert OTHER in live_artefacts(store, ENV, [OTHER])
    entry = store.publish(ENV, OTHER, store.put_artefact(sealed("v2", OTHER)[0]), actor="alice")
    assert entry.generation == 2


def _refused_everywhere(store: ArtefactStore, words: str, *, by_the_cheap_read: bool = True) -> None:
    """Readers, writers and plan refuse the feature with ``words`` and the repair command, writing nothing. The
    runtimes' cheap read (``current``: the witnesses and the newest entry, no listing) is refused too unless
    ``by_the_cheap_read`` is False: damage only a listing shows is for writers and ``plan`` to refuse."""
    h = store.put_artefact(sealed("four")[0])
    before = _tree(store)
    for attempt in (
        *([lambda: store.current(ENV, FEATURE_ID)] if by_the_cheap_read else []),
        lambda: store.publish(ENV, FEATURE_ID, h, actor="alice"),
        lambda: store.rollback(ENV, FEATURE_ID, actor="alice"),
        lambda: live_artefacts(store, ENV, [FEATURE_ID]),
        lambda: store.history(ENV, FEATURE_ID),
        lambda: store.live_entry(ENV, FEATURE_ID),
    ):
        with pytest.raises(StoreError, match=words) as raised:
            attempt()
        assert "store repair --env dev --feature clicks_v1" in str(raised.value)
    assert _tree(store) == before


# -- 1. S3 folder markers (and their local counterpart, empty directories) --------------------------------------


def _folder_marker(store: ArtefactStore, folder: str) -> None:
    """What the AWS console's "Create folder" makes: an empty object named ``folder/``; locally an empty directory."""
    backend = store.backend
    if isinstance(backend, S3ObjectStorage):
        key = f"{backend.prefix}/{folder}" if folder else f"{backend.prefix}/"
        backend.client.put_object(Bucket=backend.bucket, Key=key, Body=b"")
    else:
        assert isinstance(backend, LocalObjectStorage)
        (backend.root / folder).mkdir(parents=True, exist_ok=True)


def test_folder_markers_change_nothing(store: ArtefactStore, three: tuple[str, str, str]) -> None:
    _h1, _h2, h3 = three
    for folder in ("", "envs/", f"envs/{ENV}/", f"envs/{ENV}/audit/", f"envs/{ENV}/audit/{FEATURE_ID}/",
                   f"envs/{ENV}/pointers/", "objects/", "envs/staging/", f"envs/{ENV}/audit/clicks_v2/"):
        _folder_marker(store, folder)

    assert store.list_envs() == [ENV]
    assert store.list_features(ENV) == [FEATURE_ID, "clicks_v2", OTHER]  # an empty log folder: never published
    assert store.current(ENV, "clicks_v2") is None
    assert store.load_live(ENV, FEATURE_ID).content_hash == h3
    assert [e.generation for e in store.history(ENV, FEATURE_ID)] == [1, 2, 3]
    assert set(live_artefacts(store, ENV)) == {FEATURE_ID, OTHER}
    report = verify_store(store)
    assert report.ok, report.problems
    assert report.live[ENV] == {FEATURE_ID: h3, OTHER: report.live[ENV][OTHER]}
    assert repair_log(store, ENV, FEATURE_ID, actor="oncall").nothing
    assert store.rollback(ENV, FEATURE_ID, actor="oncall").generation == 4


# -- 2. a witness holding the newest generation with other content ---------------------------------------------


def _edit(store: ArtefactStore, key: str, old: str, new: str) -> None:
    data = store.backend.get(key)
    assert data is not None and old.encode() in data
    store.backend.put(key, data.replace(old.encode(), new.encode()))


def test_an_edited_newest_entry_is_refused_and_repaired_from_its_two_agreeing_copies(
    store: ArtefactStore, three: tuple[str, str, str]
) -> None:
    """The reviewer's silent rollback: to_hash of the newest entry edited to an older version (valid JSON, the
    chain intact). Both witnesses still hold generation 3 as it was written: two copies against one."""
    h1, _h2, h3 = three
    _edit(store, _audit_key(3), f'"to_hash": "{h3}"', f'"to_hash": "{h1}"')

    _refused_everywhere(store, f"both hold generation 3 but differ \\({h1[:16]} live in the entry, {h3[:16]} in the")
    report = verify_store(store, ENV)
    assert report.live[ENV][FEATURE_ID] is None  # DAMAGED, never h1
    (problem,) = report.problems
    assert problem.where == _audit_key(3)
    assert problem.message.startswith("the newest entry differs from its copy of the same generation in the pointer "
                                      f"hint and the live record ({h1[:16]} live in the entry")
    assert problem.repair.startswith(f"{REPAIR} (appends an operator entry superseding generation(s) 3")
    assert f"with {h3[:16]}… live, from the intact copy of generation 3" in problem.repair
    _other_still_works(store)

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall")

    assert outcome.repair is not None and (outcome.repair.from_hash, outcome.repair.to_hash) == (h3, h3)
    assert "differs from both its copies" in outcome.repair.supersedes[0].reason
    assert store.load_live(ENV, FEATURE_ID).content_hash == h3
    assert verify_store(store, ENV).ok


def test_an_edited_witness_is_outvoted_by_the_entry_and_the_other_witness(
    store: ArtefactStore, three: tuple[str, str, str]
) -> None:
    h1, _h2, h3 = three
    _edit(store, LIVE, f'"to_hash": "{h3}"', f'"to_hash": "{h1}"')

    _refused_everywhere(store, "both hold generation 3 but differ")
    plan = plan_repair(store, ENV, FEATURE_ID)
    assert not plan.supersede and [w.what for w in plan.refresh] == ["live record"]

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall")

    assert outcome.repair is None and outcome.rewritten == ["live record"]
    assert store.backend.get(LIVE) == store.backend.get(_audit_key(3))  # rewritten from the entry
    assert [e.generation for e in store.history(ENV, FEATURE_ID)] == [1, 2, 3]  # nothing appended
    assert store.load_live(ENV, FEATURE_ID).content_hash == h3
    assert verify_store(store, ENV).ok


def test_one_copy_against_the_entry_is_for_the_operator_to_settle(
    store: ArtefactStore, three: tuple[str, str, str]
) -> None:
    h1, _h2, h3 = three
    _delete(store, LIVE)
    _edit(store, HINT, f'"to_hash": "{h3}"', f'"to_hash": "{h1}"')
    before = _tree(store)

    (problem,) = verify_store(store, ENV).problems
    assert problem.repair.startswith(f"{REPAIR} --live HASH, choosing the version to serve")
    assert "no third copy tells which one was edited" in problem.repair
    with pytest.raises(StoreError, match="--live HASH; nothing was written"):
        repair_log(store, ENV, FEATURE_ID, actor="oncall")
    assert _tree(store) == before

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall", live=h3)
    assert outcome.repair is not None and outcome.repair.to_hash == h3
    assert store.backend.get(HINT) == store.backend.get(LIVE) == outcome.repair.to_bytes()
    assert verify_store(store, ENV).ok


# -- 3. witnesses a publish could not write (a full disk) -------------------------------------------------------


def _failing_witness_writes(store: ArtefactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    real_put = store.backend.put

    def put(key: str, data: bytes) -> None:
        if "/pointers/" in key or "/live/" in key:
            raise StoreError(f"cannot write {key}: [Errno 28] No space left on device")
        real_put(key, data)

    monkeypatch.setattr(store.backend, "put", put)


def test_witnesses_a_publish_could_not_write_are_reported_and_rewritten_by_repair(
    store: ArtefactStore, three: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _h1, _h2, h3 = three
    h4 = store.put_artefact(sealed("four")[0])
    with monkeypatch.context() as full_disk:
        _failing_witness_writes(store, full_disk)
        entry = store.publish(ENV, FEATURE_ID, h4, actor="alice")  # committed: the entry won
        with pytest.raises(StoreError, match="No space left on device.*the repair stopped there \\(nothing was "
                                             f"written\\): fix the cause and run `{REPAIR}` again"):
            repair_log(store, ENV, FEATURE_ID, actor="oncall")
    assert entry.generation == 4 and store.load_live(ENV, FEATURE_ID).content_hash == h4

    report = verify_store(store, ENV)
    assert report.live[ENV][FEATURE_ID] == h4
    assert sorted(p.where for p in report.problems) == [LIVE, HINT]
    assert all(p.message.startswith("stale ") for p in report.problems)
    assert all(p.repair.startswith(f"{REPAIR} (rewrites the pointer hint and the live record from generation 4")
               for p in report.problems)

    assert repair_log(store, ENV, FEATURE_ID, actor="oncall").rewritten == ["pointer hint", "live record"]

    assert verify_store(store, ENV).ok
    _delete(store, _audit_key(4))  # now a deletion of the newest entry is caught, not a silent rollback to h3
    with pytest.raises(StoreError, match=r"generation 4, which the pointer hint .* records, is missing"):
        store.current(ENV, FEATURE_ID)
    assert h3 != h4


def test_a_slow_writer_does_not_leave_the_witnesses_behind(store: ArtefactStore, three: tuple[str, str, str]) -> None:
    """A writer that won generation 2 but wrote its witnesses after the winner of generation 3 wrote its own
    would leave them stale; the witnesses are written again from the newest entry."""
    slow = store.history(ENV, FEATURE_ID)[1]
    store._write_witnesses(slow)  # the late write of a slow writer, made deterministic
    assert store.backend.get(HINT) == store.backend.get(LIVE) == store.backend.get(_audit_key(3))
    assert verify_store(store, ENV).ok


def test_verify_exits_1_on_a_stale_witness_and_0_after_the_repair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FP_ARTEFACT_STORE", raising=False)
    store = open_store(str(tmp_path / "artefacts"))
    for description in ("one", "two"):
        store.publish(ENV, FEATURE_ID, store.put_artefact(sealed(description)[0]), actor="alice")
    store.backend.put(HINT, store.backend.get(_audit_key(1)) or b"")
    runner = CliRunner()

    stale = runner.invoke(cli, ["store", "verify", "--env", ENV])
    assert stale.exit_code == 1
    assert f"problem: {HINT}: stale pointer hint (generation 1 of 2)" in stale.stderr
    repaired = runner.invoke(cli, ["store", "repair", "--env", ENV, "--feature", FEATURE_ID])
    assert repaired.exit_code == 0, repaired.output
    assert "rewrote the pointer hint from the newest audit entry" in repaired.output
    assert runner.invoke(cli, ["store", "verify", "--env", ENV]).exit_code == 0


# -- 4. one feature's unreadable path is that feature's problem -------------------------------------------------


def _replace_log_by_a_file(store: ArtefactStore, feature_id: str) -> None:
    """The audit folder of ``feature_id`` replaced by a file (on S3: the log's objects gone, an object in its name)."""
    folder = f"envs/{ENV}/audit/{feature_id}"
    backend = store.backend
    if isinstance(backend, LocalObjectStorage):
        shutil.rmtree(backend.root / folder)
    else:
        for key in backend.list_keys(f"{folder}/"):
            _delete(store, key)
    backend.put(folder, b"a file where the audit folder was")


def test_a_log_folder_replaced_by_a_file_stops_only_that_feature(
    store: ArtefactStore, three: tuple[str, str, str]
) -> None:
    _h1, _h2, h3 = three
    _replace_log_by_a_file(store, OTHER)

    assert store.list_features(ENV) == [FEATURE_ID, OTHER]  # listed: never shown as unpublished ("Added")
    assert store.load_live(ENV, FEATURE_ID).content_hash == h3
    compiled = {FEATURE_ID: store.get_artefact(h3), OTHER: store.get_artefact(sealed("v", OTHER)[1])}
    assert plan_release(compiled, store, ENV, [FEATURE_ID]).diffs[0].feature_id == FEATURE_ID
    with pytest.raises(StoreError, match=f"cannot be read, so nothing was planned: {OTHER}: .* is a file where the "
                                         "audit log folder of dev/views_v2 belongs.*can still be planned"):
        plan_release(compiled, store, ENV)
    assert store.rollback(ENV, FEATURE_ID, actor="oncall").generation == 4

    report = verify_store(store)
    assert report.live[ENV][FEATURE_ID] is not None and report.live[ENV][OTHER] is None
    (problem,) = report.problems
    assert problem.where == f"envs/{ENV}/audit/{OTHER}"
    assert problem.repair.startswith("move that file out of the way (keep it: it may be the log's lost content), "
                                     f"then run `feature-platform store repair --env {ENV} --feature {OTHER}`")
    with pytest.raises(UnreadableLogError, match="move that file out of the way"):
        repair_log(store, ENV, OTHER, actor="oncall")

    _delete(store, f"envs/{ENV}/audit/{OTHER}")  # the operator moves it away; the witnesses still hold the log's end
    outcome = repair_log(store, ENV, OTHER, actor="oncall")
    assert outcome.rerecorded is not None and outcome.rerecorded.generation == 1
    assert verify_store(store).ok


def test_an_unreadable_log_folder_stops_only_that_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Simulated: the tests run as root, who may read any directory.)"""
    store = open_store(str(tmp_path / "store"))
    h1 = store.put_artefact(sealed("one")[0])
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, OTHER, store.put_artefact(sealed("v", OTHER)[0]), actor="alice")
    real_scandir = os.scandir

    def refusing(path: Any) -> Any:
        if str(path).endswith(f"audit/{OTHER}"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    assert store.list_features(ENV) == [FEATURE_ID, OTHER]
    assert set(live_artefacts(store, ENV, [FEATURE_ID])) == {FEATURE_ID}
    report = verify_store(store)
    assert report.live[ENV][FEATURE_ID] == h1
    (problem,) = report.problems
    assert problem.where == f"envs/{ENV}/audit/{OTHER}/"
    assert "cannot be listed" in problem.message and "Permission denied" in problem.message
    assert problem.repair.startswith("make ") and "readable to the platform" in problem.repair


@pytest.mark.parametrize("witness", [HINT, LIVE], ids=["hint", "live-record"])
def test_a_witness_replaced_by_a_directory_is_that_features_problem(
    tmp_path: Path, witness: str
) -> None:
    store = open_store(str(tmp_path / "store"))
    h1 = store.put_artefact(sealed("one")[0])
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, OTHER, store.put_artefact(sealed("v", OTHER)[0]), actor="alice")
    path = tmp_path / "store" / witness
    path.unlink()
    path.mkdir()

    assert store.load_live(ENV, FEATURE_ID).content_hash == h1  # readers ignore it, like a garbage witness
    report = verify_store(store)
    assert report.live[ENV] == {FEATURE_ID: h1, OTHER: report.live[ENV][OTHER]}
    (problem,) = report.problems
    assert problem.where == witness
    assert problem.message.endswith("is a directory where the file belongs: readers ignore it, so a deletion of "
                                    "the newest entries would go unnoticed")
    assert problem.repair.endswith(f"move it out of the way (keep it for forensics: the platform never deletes "
                                   f"anything), then run `{REPAIR}`")
    with pytest.raises(StoreError, match=r"is a directory where the .* belongs: move it out of the way .*then run "
                                         r"the repair again; nothing was written"):
        repair_log(store, ENV, FEATURE_ID, actor="oncall")

    path.rmdir()
    assert repair_log(store, ENV, FEATURE_ID, actor="oncall").rewritten
    assert verify_store(store).ok


def test_plan_for_one_feature_works_while_another_log_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's case through the CLI: `plan --feature other` and `store verify` keep working."""
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FP_ARTEFACT_STORE", raising=False)
    store = open_store(str(tmp_path / "artefacts"))
    store.publish(ENV, FEATURE_ID, store.put_artefact(sealed("one")[0]), actor="alice")
    store.publish(ENV, OTHER, store.put_artefact(sealed("v", OTHER)[0]), actor="alice")
    _replace_log_by_a_file(store, OTHER)
    runner = CliRunner()

    verified = runner.invoke(cli, ["store", "verify", "--env", ENV])
    assert verified.exit_code == 1 and "Traceback" not in verified.output
    assert f"{FEATURE_ID:<32} live" in verified.output and f"{OTHER:<32} DAMAGED" in verified.output
    assert f"problem: envs/{ENV}/audit/{OTHER}: " in verified.stderr and "move that file out of the way" in (
        verified.stderr
    )
    repair = runner.invoke(cli, ["store", "repair", "--env", ENV, "--feature", OTHER])
    assert repair.exit_code == 1 and "move that file out of the way" in repair.output


def test_replay_looks_past_a_feature_whose_log_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`replay` looks for the live feature reading a source: one damaged log is skipped (and named if nothing is
    found), an empty log folder is a feature never published."""
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FP_ARTEFACT_STORE", raising=False)
    store = open_store(str(tmp_path / "artefacts"))
    store.publish(ENV, FEATURE_ID, store.put_artefact(sealed("one")[0]), actor="alice")
    store.publish(ENV, OTHER, store.put_artefact(sealed("v", OTHER)[0]), actor="alice")
    _replace_log_by_a_file(store, OTHER)
    _folder_marker(store, f"envs/{ENV}/audit/clicks_v3/")

    result = CliRunner().invoke(cli, ["replay", "--env", ENV, "--source", "nope", "--date", "2026-11-07"])

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"no live feature in '{ENV}' reads a source named 'nope'; the live version of {OTHER} (" in result.output
    assert "clicks_v3" not in result.output


# -- 5. an audit entry that is a directory (local store) -------------------------------------------------------


def _directory_at(store: ArtefactStore, generation: int) -> Path:
    assert isinstance(store.backend, LocalObjectStorage)
    path = store.backend.root / _audit_key(generation)
    if path.exists():
        path.unlink()
    path.mkdir()
    return path


@pytest.fixture
def local(tmp_path: Path) -> ArtefactStore:
    return open_store(str(tmp_path / "store"))


def test_a_newest_entry_replaced_by_a_directory_is_damage_that_repair_supersedes(local: ArtefactStore) -> None:
    store = local
    hashes = [store.put_artefact(sealed(d)[0]) for d in ("one", "two", "three")]
    for content_hash in hashes:
        store.publish(ENV, FEATURE_ID, content_hash, actor="alice")
    _directory_at(store, 3)

    _refused_everywhere(store, "a directory stands where the audit entry's file belongs")
    (problem,) = verify_store(store, ENV).problems
    assert problem.where == _audit_key(3)
    assert problem.message == "a directory stands where the audit entry's file belongs"
    assert f"with {hashes[2][:16]}… live, from the intact copy of generation 3" in problem.repair

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall")

    assert outcome.repair is not None and outcome.repair.generation == 4 and outcome.repair.to_hash == hashes[2]
    assert verify_store(store, ENV).ok
    assert repair_log(store, ENV, FEATURE_ID, actor="oncall").nothing  # not "changed while it was being repaired"
    assert store.publish(ENV, FEATURE_ID, hashes[0], actor="alice").generation == 5


def test_a_directory_past_the_end_of_the_log_is_refused_not_lost_to_the_compare_and_set(
    local: ArtefactStore,
) -> None:
    store = local
    hashes = [store.put_artefact(sealed(d)[0]) for d in ("one", "two", "three")]
    for content_hash in hashes:
        store.publish(ENV, FEATURE_ID, content_hash, actor="alice")
    _directory_at(store, 4)

    _refused_everywhere(store, "a directory stands where the audit entry's file belongs")
    (problem,) = verify_store(store, ENV).problems
    assert problem.repair.startswith(f"{REPAIR} --live HASH")
    assert (f"The pointer hint and the live record last recorded generation 3, with {hashes[2][:16]}… live"
            in problem.repair)
    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall", live=hashes[2])
    assert outcome.repair is not None and outcome.repair.generation == 5
    assert verify_store(store, ENV).ok


# -- 7. a stray entry past the end of the log ------------------------------------------------------------------


def test_a_stray_copy_past_the_end_stops_plan_and_writers_like_history_and_verify(
    store: ArtefactStore, three: tuple[str, str, str]
) -> None:
    h1, h2, h3 = three
    store.backend.put(_audit_key(9), store.backend.get(_audit_key(3)) or b"")  # cp 000000000003.json 000000000009.json

    damaged = "is damaged at its newest generation 9 .*it claims generation 3"
    _refused_everywhere(store, damaged, by_the_cheap_read=False)
    assert store.load_live(ENV, FEATURE_ID).content_hash == h3  # runtimes keep serving what the witnesses say
    compiled: dict[str, Any] = {FEATURE_ID: store.get_artefact(h2)}
    with pytest.raises(StoreError, match="nothing was planned"):
        plan_release(compiled, store, ENV)
    report = verify_store(store, ENV)
    assert report.live[ENV][FEATURE_ID] is None
    assert {p.where for p in report.problems} == {f"envs/{ENV}/audit/{FEATURE_ID}/", _audit_key(9)}
    _other_still_works(store)

    outcome = repair_log(store, ENV, FEATURE_ID, actor="oncall", live=h3)

    assert outcome.repair is not None and [s.generation for s in outcome.repair.supersedes] == [4, 5, 6, 7, 8, 9]
    assert verify_store(store, ENV).ok
    assert store.publish(ENV, FEATURE_ID, h1, actor="alice").generation == 11


# -- a corrupt pointer hint, in plain words ---------------------------------------------------------------------


def test_a_corrupt_pointer_hint_is_named_as_such_in_plain_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FP_ARTEFACT_STORE", raising=False)
    store = open_store(str(tmp_path / "artefacts"))
    store.publish(ENV, FEATURE_ID, store.put_artefact(sealed("one")[0]), actor="alice")
    store.backend.put(HINT, b"[1]")

    result = CliRunner().invoke(cli, ["store", "verify", "--env", ENV])

    assert result.exit_code == 1
    assert f"problem: {HINT}: the pointer hint is corrupt: it is not a JSON object (it holds a list)" in result.stderr
    for raw in ("Input should be", "AuditEntry", "audit entry"):
        assert raw not in result.output

