"""Pointers: publish, rollback and history over the append-only audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feature_platform.errors import (
    ArtefactNotFoundError,
    CorruptArtefactError,
    PointerConflictError,
    StoreError,
)
from feature_platform.store import ArtefactStore, AuditEntry
from feature_platform.store.repair import repair_log
from tests.store.artefacts import FEATURE_ID, sealed

ENV = "prod"


def _stored(store: ArtefactStore, *descriptions: str, feature_id: str = FEATURE_ID) -> list[str]:
    return [store.put_artefact(sealed(d, feature_id)[0]) for d in descriptions]


def _audit_key(generation: int, env: str = ENV, feature_id: str = FEATURE_ID) -> str:
    return f"envs/{env}/audit/{feature_id}/{generation:012d}.json"


def _hint_key(env: str = ENV, feature_id: str = FEATURE_ID) -> str:
    return f"envs/{env}/pointers/{feature_id}.json"


def _live_key(env: str = ENV, feature_id: str = FEATURE_ID) -> str:
    return f"envs/{env}/live/{feature_id}.json"


def test_nothing_published_yet(store: ArtefactStore) -> None:
    assert store.current(ENV, FEATURE_ID) is None
    assert store.history(ENV, FEATURE_ID) == []
    assert store.list_features(ENV) == []
    assert store.list_envs() == []
    with pytest.raises(ArtefactNotFoundError, match="has no live version in environment 'prod'"):
        store.load_live(ENV, FEATURE_ID)


def test_publish_sets_current_history_and_live_artefact(store: ArtefactStore) -> None:
    h1, h2 = _stored(store, "one", "two")
    before = datetime.now(UTC)

    first = store.publish(ENV, FEATURE_ID, h1, actor="alice", source_revision="abc123", message="first")
    second = store.publish(ENV, FEATURE_ID, h2, actor="bob")

    assert (first.generation, first.action, first.from_hash, first.to_hash) == (1, "publish", None, h1)
    assert (first.actor, first.source_revision, first.message) == ("alice", "abc123", "first")
    assert (second.generation, second.from_hash, second.to_hash, second.actor) == (2, h1, h2, "bob")
    assert before - timedelta(seconds=1) <= first.at <= second.at <= datetime.now(UTC)
    assert second.at.utcoffset() == timedelta(0)
    assert store.current(ENV, FEATURE_ID) == second
    assert store.history(ENV, FEATURE_ID) == [first, second]
    assert store.load_live(ENV, FEATURE_ID).content_hash == h2
    assert store.load_live(ENV, FEATURE_ID).feature.description == "two"
    assert store.backend.list_keys(f"envs/{ENV}/") == [_audit_key(1), _audit_key(2), _live_key(), _hint_key()]
    assert AuditEntry.model_validate_json(store.backend.get(_hint_key()) or b"") == second
    assert AuditEntry.model_validate_json(store.backend.get(_live_key()) or b"") == second


def test_audit_entries_are_canonical_json_on_the_backend(store: ArtefactStore) -> None:
    (h1,) = _stored(store, "one")
    entry = store.publish(ENV, FEATURE_ID, h1, actor="alice")

    raw = store.backend.get(_audit_key(1))

    assert raw == entry.to_bytes()
    assert raw is not None and raw.startswith(b'{\n  "action": "publish",\n  "actor": "alice",\n  "at": "')


def test_publishing_the_live_hash_again_is_a_no_op(store: ArtefactStore) -> None:
    (h1,) = _stored(store, "one")
    first = store.publish(ENV, FEATURE_ID, h1, actor="alice")

    again = store.publish(ENV, FEATURE_ID, h1, actor="bob", message="retry")

    assert again == first
    assert store.history(ENV, FEATURE_ID) == [first]


def test_publish_requires_the_artefact_in_the_store(store: ArtefactStore) -> None:
    _, missing = sealed("not stored")

    with pytest.raises(
        ArtefactNotFoundError, match=f"cannot publish {missing[:12]}.*store the artefact first"
    ):
        store.publish(ENV, FEATURE_ID, missing, actor="alice")

    assert store.current(ENV, FEATURE_ID) is None


def test_publish_refuses_an_artefact_of_another_feature(store: ArtefactStore) -> None:
    (other,) = _stored(store, "x", feature_id="views_v2")

    with pytest.raises(StoreError, match="is feature 'views_v2', not 'clicks_v1'"):
        store.publish(ENV, FEATURE_ID, other, actor="alice")

    assert store.current(ENV, FEATURE_ID) is None


def test_publish_refuses_a_corrupt_artefact(store: ArtefactStore) -> None:
    data, digest = sealed("rotten")
    store.put_artefact(data)
    store.backend.put(f"objects/{digest}.json", data[:-5])

    with pytest.raises(CorruptArtefactError, match="not valid JSON"):
        store.publish(ENV, FEATURE_ID, digest, actor="alice")

    assert store.current(ENV, FEATURE_ID) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": "../prod"}, "invalid environment"),
        ({"env": ""}, "invalid environment"),
        ({"feature_id": "a/b"}, "invalid feature id"),
        ({"content_hash": "short"}, "is not a content hash"),
        ({"actor": " "}, "an actor"),
        ({"expected_from": "nope"}, "is not a content hash"),
    ],
)
def test_publish_validates_arguments(store: ArtefactStore, kwargs: dict[str, str], message: str) -> None:
    (h1,) = _stored(store, "one")
    args: dict[str, str] = {"env": ENV, "feature_id": FEATURE_ID, "content_hash": h1, "actor": "alice"}
    args.update(kwargs)

    with pytest.raises(StoreError, match=message):
        store.publish(**args)  # type: ignore[arg-type]

    assert store.list_envs() == []


def test_expected_from_matching_publishes(store: ArtefactStore) -> None:
    h1, h2 = _stored(store, "one", "two")

    first = store.publish(ENV, FEATURE_ID, h1, actor="alice", expected_from=None)
    second = store.publish(ENV, FEATURE_ID, h2, actor="alice", expected_from=h1)

    assert [first.to_hash, second.to_hash] == [h1, h2]


def test_expected_from_mismatch_is_a_conflict(store: ArtefactStore) -> None:
    h1, h2, h3 = _stored(store, "one", "two", "three")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, FEATURE_ID, h2, actor="bob")

    with pytest.raises(PointerConflictError, match=f"expected {h1[:12]} to be live but {h2[:12]} is"):
        store.publish(ENV, FEATURE_ID, h3, actor="alice", expected_from=h1)
    with pytest.raises(PointerConflictError, match="expected nothing to be live"):
        store.publish(ENV, FEATURE_ID, h3, actor="alice", expected_from=None)

    assert store.current(ENV, FEATURE_ID) is not None
    assert [e.to_hash for e in store.history(ENV, FEATURE_ID)] == [h1, h2]


def test_expected_from_is_moot_when_the_target_is_already_live(store: ArtefactStore) -> None:
    # A retried publish whose first attempt succeeded must not fail on its own change.
    h1, h2 = _stored(store, "one", "two")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    done = store.publish(ENV, FEATURE_ID, h2, actor="alice", expected_from=h1)

    assert store.publish(ENV, FEATURE_ID, h2, actor="alice", expected_from=h1) == done
    assert len(store.history(ENV, FEATURE_ID)) == 2


def test_rollback_defaults_to_the_previous_version(store: ArtefactStore) -> None:
    h1, h2, h3 = _stored(store, "one", "two", "three")
    for digest in (h1, h2, h3):
        store.publish(ENV, FEATURE_ID, digest, actor="alice")

    entry = store.rollback(ENV, FEATURE_ID, actor="oncall", message="bad numbers")

    assert (entry.generation, entry.action, entry.from_hash, entry.to_hash) == (4, "rollback", h3, h2)
    assert (entry.actor, entry.message) == ("oncall", "bad numbers")
    assert store.current(ENV, FEATURE_ID) == entry
    assert store.load_live(ENV, FEATURE_ID).content_hash == h2
    # "previous" of a rollback is what it rolled back from, so a second one undoes the first.
    again = store.rollback(ENV, FEATURE_ID, actor="oncall")
    assert (again.generation, again.from_hash, again.to_hash) == (5, h2, h3)


def test_rollback_to_a_named_hash_that_was_live(store: ArtefactStore) -> None:
    h1, h2, h3 = _stored(store, "one", "two", "three")
    for digest in (h1, h2, h3):
        store.publish(ENV, FEATURE_ID, digest, actor="alice")

    entry = store.rollback(ENV, FEATURE_ID, h1, actor="oncall", source_revision="r1")

    assert (entry.generation, entry.action, entry.from_hash, entry.to_hash) == (4, "rollback", h3, h1)
    assert entry.source_revision == "r1"
    assert [e.action for e in store.history(ENV, FEATURE_ID)] == ["publish"] * 3 + ["rollback"]
    assert store.load_live(ENV, FEATURE_ID).content_hash == h1
    # Rolling back to what is already live writes nothing.
    assert store.rollback(ENV, FEATURE_ID, h1, actor="oncall") == entry


def test_rollback_with_nothing_published(store: ArtefactStore) -> None:
    with pytest.raises(ArtefactNotFoundError, match="has never been published in 'prod'"):
        store.rollback(ENV, FEATURE_ID, actor="oncall")


def test_rollback_without_a_previous_version(store: ArtefactStore) -> None:
    (h1,) = _stored(store, "one")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")

    with pytest.raises(StoreError, match=r"only one live version.*no previous version"):
        store.rollback(ENV, FEATURE_ID, actor="oncall")

    assert len(store.history(ENV, FEATURE_ID)) == 1


def test_rollback_to_a_hash_never_live_in_that_env(store: ArtefactStore) -> None:
    h1, h2, h3 = _stored(store, "one", "two", "three")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, FEATURE_ID, h2, actor="alice")
    store.publish("staging", FEATURE_ID, h3, actor="alice")  # live elsewhere does not count

    with pytest.raises(StoreError, match=f"back to {h3[:12]}.*it was never live there"):
        store.rollback(ENV, FEATURE_ID, h3, actor="oncall")

    assert store.current(ENV, FEATURE_ID) is not None
    assert [e.to_hash for e in store.history(ENV, FEATURE_ID)] == [h1, h2]


def test_rollback_to_a_live_before_hash_whose_object_is_corrupt(store: ArtefactStore) -> None:
    h1, h2 = _stored(store, "one", "two")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, FEATURE_ID, h2, actor="alice")
    store.backend.put(f"objects/{h1}.json", b"")

    with pytest.raises(CorruptArtefactError, match="not valid JSON"):
        store.rollback(ENV, FEATURE_ID, h1, actor="oncall")

    assert len(store.history(ENV, FEATURE_ID)) == 2


def test_default_rollback_conflicts_if_the_pointer_moved(store: ArtefactStore) -> None:
    h1, h2, h3 = _stored(store, "one", "two", "three")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, FEATURE_ID, h2, actor="alice")

    with pytest.raises(PointerConflictError):
        store.rollback(ENV, FEATURE_ID, actor="oncall", expected_from=h3)

    assert store.current(ENV, FEATURE_ID) is not None
    assert len(store.history(ENV, FEATURE_ID)) == 2


def test_missing_pointer_hint_is_harmless(store: ArtefactStore) -> None:
    h1, h2 = _stored(store, "one", "two")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    latest = store.publish(ENV, FEATURE_ID, h2, actor="alice")
    _delete(store, _hint_key())

    assert store.current(ENV, FEATURE_ID) == latest
    third = store.publish(ENV, FEATURE_ID, h1, actor="alice")
    assert (third.generation, third.from_hash) == (3, h2)


def test_stale_pointer_hint_is_rolled_forward(store: ArtefactStore) -> None:
    h1, h2, h3 = _stored(store, "one", "two", "three")
    first = store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, FEATURE_ID, h2, actor="alice")
    latest = store.publish(ENV, FEATURE_ID, h3, actor="alice")
    store.backend.put(_hint_key(), first.to_bytes())  # rewound, as a slow writer would leave it

    assert store.current(ENV, FEATURE_ID) == latest
    assert store.load_live(ENV, FEATURE_ID).content_hash == h3


def test_crash_between_entry_and_hint_is_harmless(store: ArtefactStore) -> None:
    h1, h2 = _stored(store, "one", "two")
    first = store.publish(ENV, FEATURE_ID, h1, actor="alice")
    # A writer won generation 2 and died before refreshing the hint.
    orphan = first.model_copy(update={"generation": 2, "from_hash": h1, "to_hash": h2, "actor": "crashed"})
    assert store.backend.put_if_absent(_audit_key(2), orphan.to_bytes())

    assert store.current(ENV, FEATURE_ID) == orphan
    nxt = store.rollback(ENV, FEATURE_ID, actor="oncall")
    assert (nxt.generation, nxt.from_hash, nxt.to_hash) == (3, h2, h1)


@pytest.mark.parametrize(
    "hint",
    [
        pytest.param(b"{not json", id="garbage"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[1]", id="not-an-object"),
        pytest.param("other-feature", id="names-another-feature"),
    ],
)
def test_bad_pointer_hint_is_ignored(store: ArtefactStore, hint: bytes | str) -> None:
    h1, h2 = _stored(store, "one", "two")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    latest = store.publish(ENV, FEATURE_ID, h2, actor="alice")
    if hint == "other-feature":
        hint = latest.model_copy(update={"feature_id": "views_v2"}).to_bytes()
    assert isinstance(hint, bytes)
    store.backend.put(_hint_key(), hint)

    assert store.current(ENV, FEATURE_ID) == latest
    assert store.load_live(ENV, FEATURE_ID).content_hash == h2


def test_corrupt_audit_entry_is_reported_not_skipped(store: ArtefactStore) -> None:
    h1, h2 = _stored(store, "one", "two")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, FEATURE_ID, h2, actor="alice")
    store.backend.put(_audit_key(2), b"{}")

    with pytest.raises(StoreError, match=f"audit entry .*{_audit_key(2)} is corrupt"):
        store.current(ENV, FEATURE_ID)
    with pytest.raises(StoreError, match="is corrupt"):
        store.history(ENV, FEATURE_ID)


def test_history_detects_a_gap_in_the_log(store: ArtefactStore) -> None:
    h1, h2, h3 = _stored(store, "one", "two", "three")
    for digest in (h1, h2, h3):
        store.publish(ENV, FEATURE_ID, digest, actor="alice")
    _delete(store, _audit_key(2))

    with pytest.raises(StoreError, match=r"missing generation\(s\) 2;"):
        store.history(ENV, FEATURE_ID)


def test_a_deleted_newest_entry_is_refused_not_rolled_back_and_can_be_repaired(store: ArtefactStore) -> None:
    h1, h2 = _stored(store, "one", "two")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    newest = store.publish(ENV, FEATURE_ID, h2, actor="bob")
    _delete(store, _audit_key(2))  # the hint still names generation 2

    with pytest.raises(StoreError, match=r"generation 2, which the pointer hint .* records, is missing") as raised:
        store.current(ENV, FEATURE_ID)  # never h1: that would be a silent rollback
    assert "store repair" in str(raised.value)
    with pytest.raises(StoreError, match="is damaged"):
        store.load_live(ENV, FEATURE_ID)

    assert repair_log(store, ENV, FEATURE_ID, actor="oncall").rerecorded == newest
    assert store.current(ENV, FEATURE_ID) == newest
    assert store.load_live(ENV, FEATURE_ID).content_hash == h2
    assert repair_log(store, ENV, FEATURE_ID, actor="oncall").nothing  # nothing left to repair


def test_features_and_envs_are_listed(store: ArtefactStore) -> None:
    (c1,) = _stored(store, "c")
    (v1,) = _stored(store, "v", feature_id="views_v2")
    store.publish("prod", FEATURE_ID, c1, actor="alice")
    store.publish("prod", "views_v2", v1, actor="alice")
    store.publish("staging", "views_v2", v1, actor="alice")

    assert store.list_envs() == ["prod", "staging"]
    assert store.list_features("prod") == ["clicks_v1", "views_v2"]
    assert store.list_features("staging") == ["views_v2"]
    assert store.list_features("dev") == []
    assert store.history("staging", FEATURE_ID) == []


def _delete(store: ArtefactStore, key: str) -> None:
    """Remove a blob behind the store's back (the protocol itself never deletes)."""
    from feature_platform.storage import LocalObjectStorage, S3ObjectStorage

    backend = store.backend
    if isinstance(backend, LocalObjectStorage):
        (backend.root / key).unlink()
    elif isinstance(backend, S3ObjectStorage):
        backend.client.delete_object(Bucket=backend.bucket, Key=f"{backend.prefix}/{key}")
    else:  # pragma: no cover
        raise AssertionError(type(backend))
    assert backend.get(key) is None


def test_the_store_repair_command_re_records_a_deleted_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from feature_platform.cli.main import cli
    from feature_platform.store import open_store

    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    store = open_store(str(tmp_path / "artefacts"))
    h1, h2 = _stored(store, "one", "two")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    store.publish(ENV, FEATURE_ID, h2, actor="bob")
    (tmp_path / "artefacts" / _audit_key(2)).unlink()

    damaged = CliRunner().invoke(cli, ["history", "--env", ENV, "--feature", FEATURE_ID])
    assert damaged.exit_code == 1 and "is damaged" in damaged.output and "Traceback" not in damaged.output
    repaired = CliRunner().invoke(cli, ["store", "repair", "--env", ENV, "--feature", FEATURE_ID])
    assert repaired.exit_code == 0, repaired.output
    assert f"re-recorded generation 2 (live: {h2[:12]}) from its copy" in repaired.output
    live = store.current(ENV, FEATURE_ID)
    assert live is not None and live.to_hash == h2


def test_a_corrupt_audit_entry_message_is_one_line_naming_the_field(store: ArtefactStore) -> None:
    (h1,) = _stored(store, "one")
    store.publish(ENV, FEATURE_ID, h1, actor="alice")
    entry = store.backend.get(_audit_key(1)) or b""
    store.backend.put(_audit_key(1), entry.replace(b'"generation": 1', b'"generation": "x"'))

    with pytest.raises(StoreError) as raised:
        store.history(ENV, FEATURE_ID)
    message = str(raised.value)
    assert "\n" not in message and "errors.pydantic.dev" not in message
    assert "is corrupt: generation: Input should be a valid integer, unable to parse string as an integer)" in message
    assert message.endswith(
        "run `feature-platform store repair --env prod --feature clicks_v1` to supersede the damage "
        "(its bytes are kept)"
    )


def test_a_feature_audit_log_replaced_by_a_file_is_that_features_error_not_unpublished(store: ArtefactStore) -> None:
    """A file where a feature's audit folder belongs must not list the feature as never published, nor stop the
    environment's other features: the feature is listed, and reading it fails with the fix."""
    (c1,) = _stored(store, "c")
    store.publish("prod", FEATURE_ID, c1, actor="alice")
    store.backend.put("envs/prod/audit/views_v2", b"a file where the audit folder of views_v2 was")

    assert store.list_features("prod") == [FEATURE_ID, "views_v2"]
    for read in (store.current, store.history, store.live_entry):
        with pytest.raises(StoreError, match=r"audit/views_v2 is a file where the audit log folder of prod/views_v2 "
                                             r"belongs; move that file out of the way .* store repair"):
            read("prod", "views_v2")
    assert store.load_live("prod", FEATURE_ID).content_hash == c1  # the other feature is untouched
    (d1,) = _stored(store, "d")
    assert store.publish("prod", FEATURE_ID, d1, actor="alice").generation == 2
