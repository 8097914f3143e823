"""The store under damage, bounded (issue 12's second review): a stray entry far beyond the log's end costs one read,
never one per generation of the gap; reads refuse what is not a regular file and cap what they read; an absent
store root is an error, never an empty store; ``objects`` replaced by a file is one problem of ``store verify``; a
rollback to the live version says that nothing happened; each warning about a witness is given once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.errors import StoreError, UnreadableObjectError
from feature_platform.storage import LocalObjectStorage
from feature_platform.storage.base import MAX_ENTRY_BYTES
from feature_platform.store import ArtefactStore, open_store
from feature_platform.store.repair import plan_repair, repair_log
from feature_platform.store.verify import verify_store
from tests.conftest import REPO_ROOT
from tests.store.artefacts import FEATURE_ID, sealed
from tests.store.test_pointers import _delete

ENV = "dev"
FAR = 999_999_999_999
REPAIR = f"feature-platform store repair --env {ENV} --feature {FEATURE_ID}"
BIN = REPO_ROOT / ".venv" / "bin" / "feature-platform"


def _audit_key(generation: int) -> str:
    return f"envs/{ENV}/audit/{FEATURE_ID}/{generation:012d}.json"


@pytest.fixture
def two(store: ArtefactStore) -> tuple[str, str]:
    """clicks_v1 published twice in dev (generations 1 and 2)."""
    hashes = (store.put_artefact(sealed("one")[0]), store.put_artefact(sealed("two")[0]))
    for content_hash in hashes:
        store.publish(ENV, FEATURE_ID, content_hash, actor="alice")
    return hashes


# -- 1. a stray entry far beyond the log's end ------------------------------------------------------------------


@pytest.mark.timeout(60)  # without the bound, every reader enumerates the gap one generation at a time
def test_a_stray_copy_far_beyond_the_end_is_refused_at_once_and_repaired(
    store: ArtefactStore, two: tuple[str, str]
) -> None:
    copy = store.backend.get(_audit_key(2))
    assert copy is not None
    store.backend.put(_audit_key(FAR), copy)
    words = rf"generation {FAR} is far beyond the newest sound entry 2 \(gap of {FAR - 3}\)"
    for attempt in (
        lambda: store.history(ENV, FEATURE_ID),
        lambda: store.live_entry(ENV, FEATURE_ID),
        lambda: store.rollback(ENV, FEATURE_ID, actor="alice"),
        lambda: store.publish(ENV, FEATURE_ID, store.put_artefact(sealed("three")[0]), actor="alice"),
    ):
        with pytest.raises(StoreError, match=words) as raised:
            attempt()
        assert REPAIR in str(raised.value)
    report = verify_store(store, ENV)
    assert [p.where for p in report.problems] == [_audit_key(FAR)]
    assert REPAIR in report.problems[0].repair
    assert report.live[ENV][FEATURE_ID] is None

    plan = plan_repair(store, ENV, FEATURE_ID)
    assert [d.generation for d in plan.supersede] == [FAR]
    assert (plan.generation, plan.live) == (3, two[1])
    outcome = repair_log(store, ENV, FEATURE_ID, actor="operator")
    assert outcome.repair is not None and outcome.repair.generation == 3
    assert store.backend.get(_audit_key(FAR)) == copy  # kept, superseded
    assert [e.generation for e in store.history(ENV, FEATURE_ID)] == [1, 2, 3]
    after = verify_store(store, ENV)
    assert after.ok and [r.where for r in after.repaired] == [_audit_key(FAR)]
    assert store.rollback(ENV, FEATURE_ID, actor="alice").generation == 4
    # Without witnesses the cheap read lists the log: the superseded stray is not its end.
    _delete(store, f"envs/{ENV}/pointers/{FEATURE_ID}.json")
    _delete(store, f"envs/{ENV}/live/{FEATURE_ID}.json")
    current = store.current(ENV, FEATURE_ID)
    assert current is not None and (current.generation, current.to_hash) == (4, two[0])


@pytest.mark.timeout(60)
def test_a_readable_stray_entry_is_for_the_operator_to_settle(store: ArtefactStore, two: tuple[str, str]) -> None:
    """A stray that reads as an entry of its own generation might have been meant: the repair asks for --live."""
    entry = store.current(ENV, FEATURE_ID)
    assert entry is not None
    store.backend.put(_audit_key(5000), entry.model_copy(update={"generation": 5000}).to_bytes())
    with pytest.raises(StoreError, match="generation 5000 is far beyond the newest sound entry 2"):
        store.history(ENV, FEATURE_ID)
    plan = plan_repair(store, ENV, FEATURE_ID)
    assert plan.needs_live and plan.blocked is not None and "--live HASH" in plan.blocked
    with pytest.raises(StoreError, match="nothing was written"):
        repair_log(store, ENV, FEATURE_ID, actor="operator")
    done = repair_log(store, ENV, FEATURE_ID, actor="operator", live=two[0])
    assert done.repair is not None and (done.repair.generation, done.repair.to_hash) == (3, two[0])
    assert verify_store(store, ENV).ok


def test_missing_generations_are_reported_as_ranges(store: ArtefactStore, two: tuple[str, str]) -> None:
    for description in ("three", "four", "five"):
        store.publish(ENV, FEATURE_ID, store.put_artefact(sealed(description)[0]), actor="alice")
    for generation in (2, 3):
        _delete(store, _audit_key(generation))
    with pytest.raises(StoreError, match=r"missing generation\(s\) 2-3;"):
        store.history(ENV, FEATURE_ID)
    report = verify_store(store, ENV)
    assert any("missing generation(s) 2-3" in p.message for p in report.problems)


# -- 2. reads refuse what is not a regular file, and cap what they read --------------------------------------------


def test_an_oversized_audit_entry_is_damage_not_a_runaway_read(store: ArtefactStore, two: tuple[str, str]) -> None:
    """Both backends: a local file by its size, an S3 object by its content length."""
    store.backend.put(_audit_key(1), b" " * (MAX_ENTRY_BYTES + 1))
    report = verify_store(store, ENV)
    assert [p.where for p in report.problems] == [_audit_key(1)]
    assert f"is larger than {MAX_ENTRY_BYTES} bytes" in report.problems[0].message
    assert REPAIR in report.problems[0].repair
    with pytest.raises(UnreadableObjectError, match="is larger than 10 bytes"):
        store.backend.get(_audit_key(2), limit=10)


def _local(tmp_path: Path) -> tuple[ArtefactStore, str, str]:
    store = open_store(str(tmp_path / "store"))
    hashes = (store.put_artefact(sealed("one")[0]), store.put_artefact(sealed("two")[0]))
    for content_hash in hashes:
        store.publish(ENV, FEATURE_ID, content_hash, actor="alice")
    return store, *hashes


@pytest.mark.timeout(60)  # a FIFO opened for reading waits for a writer forever
def test_a_fifo_audit_entry_is_refused_not_waited_on_and_repaired(tmp_path: Path) -> None:
    store, _, second = _local(tmp_path)
    backend = store.backend
    assert isinstance(backend, LocalObjectStorage)
    path = backend.root / _audit_key(2)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(StoreError, match=r"is not a regular file \(a FIFO\)") as raised:
        store.history(ENV, FEATURE_ID)
    assert REPAIR in str(raised.value)
    with pytest.raises(StoreError, match=r"is not a regular file \(a FIFO\)"):
        store.current(ENV, FEATURE_ID)
    report = verify_store(store, ENV)
    assert [p.where for p in report.problems] == [_audit_key(2)]
    done = repair_log(store, ENV, FEATURE_ID, actor="operator")
    assert done.repair is not None and done.repair.to_hash == second  # the intact copies in the witnesses
    assert verify_store(store, ENV).ok


@pytest.mark.timeout(60)  # /dev/zero never ends: without the check the read fills the memory
def test_an_object_linked_to_a_device_is_a_verify_problem(tmp_path: Path) -> None:
    store, _, second = _local(tmp_path)
    backend = store.backend
    assert isinstance(backend, LocalObjectStorage)
    path = backend.root / f"objects/{second}.json"
    path.unlink()
    path.symlink_to("/dev/zero")
    with pytest.raises(UnreadableObjectError, match=r"is not a regular file \(a device\)"):
        backend.get(f"objects/{second}.json")
    report = verify_store(store)
    (problem,) = report.problems
    assert problem.where == f"objects/{second}.json" and "is not a regular file (a device)" in problem.message
    assert "out of the way" in problem.repair and "--from-build" in problem.repair


# -- 3. a store root that does not exist ---------------------------------------------------------------------


def _cli(tmp_path: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FP_DATA_DIR": str(tmp_path / "data"), "FP_ARTEFACT_STORE": str(root), "FP_ACTOR": "t"}
    env.pop("FP_DEBUG", None)
    return subprocess.run([str(BIN), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


CONFIGS = "tests/fixtures/valid/fixture_configs"


def test_read_commands_refuse_a_store_root_that_does_not_exist_and_publish_creates_it(tmp_path: Path) -> None:
    typo = tmp_path / "storez"
    for args in (
        ["store", "verify", "--env", ENV],
        ["store", "verify"],
        ["history", "--env", ENV, "--feature", FEATURE_ID],
        ["plan", "--configs", CONFIGS, "--env", ENV],
        ["rollback", "--env", ENV, "--feature", FEATURE_ID],
        ["store", "repair", "--env", ENV, "--feature", FEATURE_ID],
        # the runtimes' commands too: they blamed the feature ("has no live version", "no live feature reads")
        ["online-load", "--env", ENV, "--feature", FEATURE_ID, "--date", "2026-11-02"],
        ["batch-index", "--env", ENV, "--feature", FEATURE_ID, "--date", "2026-11-02"],
        ["replay", "--env", ENV, "--source", "click_events", "--date", "2026-11-02"],
    ):
        result = _cli(tmp_path, typo, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert f"artefact store root {typo} does not exist" in result.stderr, (args, result.stderr)
        assert "Added" not in result.stdout and "consistent" not in result.stdout
        assert not typo.exists()
    published = _cli(tmp_path, typo, "publish", "--configs", CONFIGS, "--env", ENV)
    assert published.returncode == 0, published.stderr
    assert f"created the artefact store {typo} (it did not exist)" in published.stdout
    assert _cli(tmp_path, typo, "store", "verify").returncode == 0


# -- 4. objects replaced by a file ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", [ENV, None])
def test_objects_as_a_file_is_one_problem_and_verify_finishes(tmp_path: Path, env: str | None) -> None:
    store, _, second = _local(tmp_path)
    backend = store.backend
    assert isinstance(backend, LocalObjectStorage)
    (backend.root / "objects").rename(tmp_path / "objects.bak")
    (backend.root / "objects").write_text("x")
    report = verify_store(store, env)
    (problem,) = report.problems
    assert problem.where == "objects" and "objects is a file where the folder belongs" in problem.message
    assert "out of the way" in problem.repair and "--from-build" in problem.repair
    assert report.live == {ENV: {FEATURE_ID: second}}  # the audit logs are still checked


# -- 5 and 6. rollback's messages ----------------------------------------------------------------------------


def test_rollback_to_the_live_version_says_nothing_was_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, second = _local(tmp_path)
    monkeypatch.setenv("FP_ARTEFACT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FP_ACTOR", "t")
    result = CliRunner().invoke(cli, ["rollback", "--env", ENV, "--feature", FEATURE_ID, "--to", second[:8]])
    assert result.exit_code == 0, result.output
    assert f"{second[:12]} is already live in '{ENV}' (generation 2); nothing to do" in result.output
    assert "->" not in result.output
    assert [e.generation for e in store.history(ENV, FEATURE_ID)] == [1, 2]


@pytest.mark.parametrize("damage", ["empty live record", "pointer hint is a directory"])
def test_rollback_gives_each_witness_warning_once(tmp_path: Path, damage: str) -> None:
    store, first, _ = _local(tmp_path)
    backend = store.backend
    assert isinstance(backend, LocalObjectStorage)
    if damage == "empty live record":
        key = f"envs/{ENV}/live/{FEATURE_ID}.json"
        (backend.root / key).write_bytes(b"")
    else:
        key = f"envs/{ENV}/pointers/{FEATURE_ID}.json"
        (backend.root / key).unlink()
        (backend.root / key).mkdir()
    result = _cli(tmp_path, backend.root, "rollback", "--env", ENV, "--feature", FEATURE_ID)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if key in line and "ignor" in line]
    assert len(warnings) == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(set(lines)), result.stderr  # no warning word for word twice
    assert store.history(ENV, FEATURE_ID)[-1].to_hash == first


def test_the_cli_prints_a_superseded_gap_as_one_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, second = _local(tmp_path)
    copy = store.backend.get(_audit_key(2))
    assert copy is not None
    store.backend.put(_audit_key(50), copy)  # within FAR_GAP: the log's end, damaged, after a gap of 47
    monkeypatch.setenv("FP_ARTEFACT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FP_ACTOR", "t")
    runner = CliRunner()
    repaired = runner.invoke(cli, ["store", "repair", "--env", ENV, "--feature", FEATURE_ID, "--live", second])
    assert repaired.exit_code == 0, repaired.output
    assert "superseded missing generation(s) 3-49\n" in repaired.output
    assert repaired.output.count("superseded") == 2  # the gap's line and generation 50's
    history = runner.invoke(cli, ["history", "--env", ENV, "--feature", FEATURE_ID])
    assert history.exit_code == 0, history.output
    assert "(supersedes 3-50)" in history.output


@pytest.mark.timeout(60)
def test_witnesses_naming_a_generation_far_beyond_the_log_are_damaged_copies(
    store: ArtefactStore, two: tuple[str, str]
) -> None:
    """No log has a gap that wide, so such a witness is no proof of deleted entries (whose repair would enumerate
    the gap): readers ignore it like any unreadable witness, verify reports it, and the repair rewrites it."""
    entry = store.current(ENV, FEATURE_ID)
    assert entry is not None
    far = entry.model_copy(update={"generation": FAR}).to_bytes()
    witnesses = (f"envs/{ENV}/pointers/{FEATURE_ID}.json", f"envs/{ENV}/live/{FEATURE_ID}.json")
    for key in witnesses:
        store.backend.put(key, far)
    assert store.current(ENV, FEATURE_ID) == entry
    assert [e.generation for e in store.history(ENV, FEATURE_ID)] == [1, 2]
    report = verify_store(store, ENV)
    assert sorted(p.where for p in report.problems) == sorted(witnesses)
    assert all(f"names generation {FAR}, far beyond the log's end 2" in p.message for p in report.problems)
    done = repair_log(store, ENV, FEATURE_ID, actor="operator")
    assert done.repair is None and len(done.rewritten) == 2
    assert verify_store(store, ENV).ok
    assert all(store.backend.get(key) == entry.to_bytes() for key in witnesses)
