"""`store verify`: a read-only check that lists every inconsistency; `store repair --from-build` re-stores
artefacts from a compiled build. Each kind of damage is made behind the store's back, as an operator or a
broken disk would."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.errors import ArtefactNotFoundError
from feature_platform.store import ArtefactStore, open_store
from feature_platform.store.repair import repair_log
from feature_platform.store.verify import restore_artefacts, verify_store
from tests.store.artefacts import FEATURE_ID, sealed

ENV = "prod"
OTHER = "views_v2"


def _audit_key(generation: int, feature_id: str = FEATURE_ID) -> str:
    return f"envs/{ENV}/audit/{feature_id}/{generation:012d}.json"


def _object_key(content_hash: str) -> str:
    return f"objects/{content_hash}.json"


def _tree(store: ArtefactStore) -> dict[str, bytes | None]:
    return {k: store.backend.get(k) for k in store.backend.list_keys("")}


@pytest.fixture
def published(store: ArtefactStore) -> tuple[str, str, str]:
    """clicks_v1 published twice and views_v2 once in prod; clicks_v1 also in staging."""
    h1 = store.put_artefact(sealed("one")[0])
    h2 = store.put_artefact(sealed("two")[0])
    v1 = store.put_artefact(sealed("v", OTHER)[0])
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, FEATURE_ID, h2, actor="bob")
    store.publish(ENV, OTHER, v1, actor="alice")
    store.publish("staging", FEATURE_ID, h1, actor="alice")
    return h1, h2, v1


def _delete(store: ArtefactStore, key: str) -> None:
    from tests.store.test_pointers import _delete as delete

    delete(store, key)


def test_a_sound_store_verifies_and_verify_writes_nothing(store: ArtefactStore, published: tuple[str, ...]) -> None:
    h1, h2, v1 = published
    before = _tree(store)
    report = verify_store(store)

    assert report.ok, report.problems
    assert report.live == {ENV: {FEATURE_ID: h2, OTHER: v1}, "staging": {FEATURE_ID: h1}}
    assert report.objects_checked == 3
    assert _tree(store) == before


def test_every_problem_is_listed_at_once(store: ArtefactStore, published: tuple[str, ...]) -> None:
    *_, v1 = published
    stray = store.put_artefact(sealed("never published")[0])
    _delete(store, _audit_key(2))  # the newest entry of clicks_v1 (the hint still names it)
    _delete(store, _object_key(v1))  # views_v2's live artefact
    store.backend.put(_object_key(stray), b'{"truncated')  # an object nobody points at, damaged
    before = _tree(store)

    report = verify_store(store)

    assert not report.ok
    found = {(p.where, p.message.split(" ")[0]) for p in report.problems}
    assert found == {
        (f"envs/{ENV}/pointers/{FEATURE_ID}.json", "the"),
        (_object_key(v1), "artefact"),
        (_object_key(stray), "artefact"),
    }, report.problems
    by_where = {p.where: p for p in report.problems}
    assert "store repair --env prod --feature clicks_v1" in by_where[f"envs/{ENV}/pointers/{FEATURE_ID}.json"].repair
    assert f"named by the audit log of {ENV}/{OTHER}" in by_where[_object_key(v1)].message
    assert "--from-build" in by_where[_object_key(v1)].repair
    assert report.live[ENV] == {FEATURE_ID: None, OTHER: v1}
    assert _tree(store) == before


def test_a_gap_a_corrupt_entry_and_an_edited_chain_are_problems(store: ArtefactStore) -> None:
    hashes = [store.put_artefact(sealed(str(i))[0]) for i in range(4)]
    for h in hashes:
        store.publish(ENV, FEATURE_ID, h, actor="alice")
    _delete(store, _audit_key(2))
    store.backend.put(_audit_key(3), b"not json")
    entry4 = store.backend.get(_audit_key(4))
    assert entry4 is not None
    edited = entry4.replace(hashes[2].encode(), hashes[0].encode())
    store.backend.put(_audit_key(4), edited)

    messages = [p.render() for p in verify_store(store, ENV).problems]

    assert any("missing generation(s) 2" in m for m in messages), messages
    assert any(m.startswith(f"{_audit_key(3)}: audit entry") and "is corrupt" in m for m in messages), messages
    # Entry 4 follows a corrupt entry, so its chain cannot be checked; its copies in the witnesses show the edit.
    assert any(
        m.startswith(f"{_audit_key(4)}: the newest entry differs from its copy of the same generation in the pointer "
                     "hint and the live record (in from_hash)")
        for m in messages
    ), messages
    assert len(messages) == 3


def test_an_artefact_of_another_feature_named_by_a_log_is_a_problem(store: ArtefactStore) -> None:
    mine = store.put_artefact(sealed("one")[0])
    store.publish(ENV, FEATURE_ID, mine, actor="alice")
    other = store.put_artefact(sealed("v", OTHER)[0])
    entry = store.backend.get(_audit_key(1)) or b""
    for key in (_audit_key(1), f"envs/{ENV}/pointers/{FEATURE_ID}.json", f"envs/{ENV}/live/{FEATURE_ID}.json"):
        store.backend.put(key, entry.replace(mine.encode(), other.encode()))  # edited with its copies

    (problem,) = verify_store(store, ENV).problems
    assert problem.where == _object_key(other)
    assert f"is an artefact of '{OTHER}', but the audit log of {ENV}/{FEATURE_ID} names it" in problem.message


def test_lagging_witnesses_are_problems_that_store_repair_rewrites(
    store: ArtefactStore, published: tuple[str, ...]
) -> None:
    """A missing, stale or unreadable witness does not stop readers, but while it lags a deletion of the newest
    entries would go unnoticed: a problem (exit 1) whose repair rewrites it from the sound newest entry."""
    _h1, h2, v1 = published
    hint, other_hint = f"envs/{ENV}/pointers/{FEATURE_ID}.json", f"envs/{ENV}/pointers/{OTHER}.json"
    live_record = f"envs/{ENV}/live/{FEATURE_ID}.json"
    _delete(store, other_hint)
    store.backend.put(hint, store.backend.get(_audit_key(1)) or b"")  # stale
    store.backend.put(live_record, b"[1]")  # unreadable

    report = verify_store(store, ENV)

    assert report.live[ENV] == {FEATURE_ID: h2, OTHER: v1}  # readers are not stopped
    by_where = {p.where: p for p in report.problems}
    assert sorted(by_where) == [live_record, hint, other_hint]
    assert by_where[hint].message.startswith("stale pointer hint (generation 1 of 2): readers roll forward, but a "
                                             "deletion of the newest entries would go unnoticed")
    assert by_where[live_record].message.startswith("the live record is corrupt: it is not a JSON object")
    assert by_where[other_hint].message.startswith("no pointer hint: readers list the audit log instead")
    assert by_where[hint].repair == (
        f"feature-platform store repair --env {ENV} --feature {FEATURE_ID} (rewrites the pointer hint and the live "
        "record from generation 2, the sound newest entry)"
    )

    for feature_id in (FEATURE_ID, OTHER):
        outcome = repair_log(store, ENV, feature_id, actor="oncall")
        assert outcome.repair is None and outcome.rerecorded is None and outcome.rewritten
    assert verify_store(store, ENV).ok
    assert store.backend.get(hint) == store.backend.get(live_record) == store.backend.get(_audit_key(2))
    assert [e.generation for e in store.history(ENV, FEATURE_ID)] == [1, 2]  # nothing appended to the log


def test_restore_from_a_build_puts_back_missing_and_damaged_artefacts(
    store: ArtefactStore, published: tuple[str, ...], tmp_path: Path
) -> None:
    h1, h2, v1 = published
    build = tmp_path / "build" / "artefacts"
    build.mkdir(parents=True)
    for description, feature_id in (("one", FEATURE_ID), ("two", FEATURE_ID), ("v", OTHER)):
        data, content_hash = sealed(description, feature_id)
        (build / f"{feature_id}-{content_hash[:8]}.json").write_bytes(data)
    (build.parent / "manifest.json").write_text("{}")
    _delete(store, _object_key(v1))
    store.backend.put(_object_key(h1), b"damaged")

    outcome = restore_artefacts(store, build.parent, verify_store(store).named)

    assert sorted(outcome.restored) == sorted([h1, v1])
    assert outcome.already_sound == [h2]
    assert verify_store(store).ok


def test_restore_refuses_when_the_build_lacks_a_hash(
    store: ArtefactStore, published: tuple[str, ...], tmp_path: Path
) -> None:
    _h1, _h2, v1 = published
    (tmp_path / "a.json").write_bytes(sealed("unrelated")[0])
    _delete(store, _object_key(v1))
    with pytest.raises(ArtefactNotFoundError, match=f"does not hold artefact\\(s\\) {v1}"):
        restore_artefacts(store, tmp_path, [v1])
    assert store.backend.get(_object_key(v1)) is None


def test_the_store_verify_and_repair_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FP_ARTEFACT_STORE", raising=False)
    store = open_store(str(tmp_path / "artefacts"))
    data, h1 = sealed("one")
    store.put_artefact(data)
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    runner = CliRunner()

    sound = runner.invoke(cli, ["store", "verify"])
    assert sound.exit_code == 0, sound.output
    assert f"{FEATURE_ID:<32} live {h1[:16]}" in sound.output and "store is consistent" in sound.output

    (tmp_path / "artefacts" / _object_key(h1)).unlink()
    damaged = runner.invoke(cli, ["store", "verify", "--env", ENV])
    assert damaged.exit_code == 1
    assert f"problem: {_object_key(h1)}: artefact {h1} is missing" in damaged.stderr
    assert "1 problem(s)" in damaged.stderr
    assert "Traceback" not in damaged.output

    build = tmp_path / "compiled"
    build.mkdir()
    (build / f"{FEATURE_ID}.json").write_bytes(data)
    repaired = runner.invoke(cli, ["store", "repair", "--env", ENV, "--from-build", str(build)])
    assert repaired.exit_code == 0, repaired.output
    assert f"re-stored artefact {h1}" in repaired.output
    assert runner.invoke(cli, ["store", "verify"]).exit_code == 0

    nothing = runner.invoke(cli, ["store", "repair"])
    assert nothing.exit_code == 2 and "give --feature" in nothing.output


def test_restore_reads_no_build_when_nothing_is_missing(
    store: ArtefactStore, published: tuple[str, ...], tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    outcome = restore_artefacts(store, tmp_path / "empty", verify_store(store).named)
    assert outcome.restored == [] and sorted(outcome.already_sound) == sorted(published)
