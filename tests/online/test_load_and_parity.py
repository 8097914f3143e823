"""Batch -> online load rules, and parity: batch snapshot = online store served over HTTP = training set
at the same instant = the brute-force oracle."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from feature_platform.cli.main import cli
from feature_platform.runtimes.batch import SEQUENCE, TableLocations, build_training_set, read_snapshot
from feature_platform.runtimes.online import (
    OnlineStore,
    SqliteOnlineStore,
    UncertifiedDayError,
    decode_blob,
    load_day,
    load_snapshot,
)
from tests.batch.conftest import DAYS, FEATURES, Demo, Published
from tests.batch.helpers import raw_inputs
from tests.online.conftest import OnlineTables, day_end
from tests.online.helpers import events_frame, make_app
from tests.reference import canonical_rows
from tests.reference.batch import reference_partition, reference_snapshot


def test_an_uncertified_day_is_refused(online_tables: OnlineTables, store: OnlineStore) -> None:
    artefact = online_tables.artefacts["recent_engagements_v1"]
    with pytest.raises(UncertifiedDayError, match="no watermark"):
        load_day(artefact, date(2026, 12, 25), online_tables.locations, store)


def test_loading_an_older_day_never_regresses(online_tables: OnlineTables, store: OnlineStore) -> None:
    artefact = online_tables.artefacts["recent_engagements_v1"]
    newest = load_day(artefact, DAYS[-1], online_tables.locations, store)
    older = load_day(artefact, DAYS[0], online_tables.locations, store)
    assert newest.written == newest.users and older.written == 0 < older.kept_newer
    state = store.get_state("recent_engagements_v1")
    assert state is not None and state.batch_day == DAYS[-1]
    users = read_snapshot("recent_engagements_v1", DAYS[-1], online_tables.locations).get_column("user_id")
    records = store.read_users_sync("recent_engagements_v1", [str(u) for u in users.unique().to_list()])
    assert {decode_blob(r.batch).day for r in records if r.batch} == {DAYS[-1]}


def test_a_user_who_leaves_the_snapshot_is_removed(online_tables: OnlineTables, store: OnlineStore) -> None:
    artefact = online_tables.artefacts["recent_searches_v1"]
    snapshot = read_snapshot("recent_searches_v1", DAYS[-1], online_tables.locations)
    gone = snapshot.get_column("user_id")[0]
    load_day(artefact, DAYS[-2], online_tables.locations, store)
    result = load_snapshot(artefact, DAYS[-1], snapshot.filter(pl.col("user_id") != gone), store,
                           built_by=artefact.content_hash or "")
    assert result.removed >= 1
    assert store.read_users_sync("recent_searches_v1", [str(gone)])[0].batch is None


def test_online_load_cli(online_tables: OnlineTables, published: Published, tmp_path: Any,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_ARTEFACT_STORE", published.store_url)
    monkeypatch.setenv("FP_TABLES_ROOT", online_tables.locations.tables_root)
    monkeypatch.setenv("FP_ONLINE_STORE", str(tmp_path / "online.sqlite"))
    ok = CliRunner().invoke(cli, ["online-load", "--env", "dev", "--feature", "recent_searches_v1",
                                  "--date", DAYS[-1].isoformat()])
    assert ok.exit_code == 0, ok.output
    assert "written" in ok.output
    refused = CliRunner().invoke(cli, ["online-load", "--env", "dev", "--feature", "recent_searches_v1",
                                       "--date", "2030-01-01"])
    assert refused.exit_code == 1 and "no watermark" in refused.output
    store = SqliteOnlineStore(tmp_path / "online.sqlite")
    state = store.get_state("recent_searches_v1")
    assert state is not None and state.batch_day == DAYS[-1]


@pytest.mark.parametrize("feature_id", FEATURES)
def test_parity_batch_online_http_training_and_oracle(
    feature_id: str, online_tables: OnlineTables, published: Published, demo: Demo, tmp_path: Any
) -> None:
    artefact = online_tables.artefacts[feature_id]
    day = DAYS[-1]
    instant = day_end(day)
    locations: TableLocations = online_tables.locations
    fields = [c for c in read_snapshot(feature_id, day, locations).columns if c not in ("user_id", "position")]

    # 1. batch: the certified snapshot
    snapshot = read_snapshot(feature_id, day, locations)
    users = sorted(snapshot.get_column("user_id").unique().to_list())
    batch = {u: snapshot.filter(pl.col("user_id") == u).sort("position").select(fields).to_dicts() for u in users}

    # 2. online, over HTTP
    store = SqliteOnlineStore(tmp_path / "online.sqlite")
    load_day(artefact, day, locations, store)
    with TestClient(make_app(published.store, store, clock=lambda: instant)) as client:
        document = client.post(f"/v1/features/{feature_id}/sequences", json={"users": users}).json()
    served = {r["user"]: events_frame({"schema": document["schema"], "events": r["events"]}).select(fields).to_dicts()
              for r in document["results"]}

    # 3. a training set at the same instant
    examples = pl.DataFrame({"user_id": users, "timestamp": [instant] * len(users)},
                            schema={"user_id": pl.Int64, "timestamp": pl.Datetime("us", "UTC")})
    training = build_training_set(artefact, examples, locations)
    trained = {row["user_id"]: [{f: e[f] for f in fields} for e in row[SEQUENCE]] for row in training.to_dicts()}

    # 4. the oracle, by brute force from the raw files
    events_by_day = {}
    for d in DAYS:
        raw, lookups = raw_inputs(artefact, demo.root, d)
        events_by_day[d] = reference_partition(artefact, d, raw, lookups)[0]
    oracle: dict[Any, list[dict[str, Any]]] = {}
    for row in sorted(reference_snapshot(artefact, events_by_day, day), key=lambda r: r["position"]):
        oracle.setdefault(row["user_id"], []).append({f: row[f] for f in fields})

    assert set(oracle) == set(users)
    for user in users:
        expected = canonical_rows(oracle[user])
        assert canonical_rows(batch[user]) == expected, user
        assert canonical_rows(served[user]) == expected, user
        assert canonical_rows(trained[user]) == expected, user
        assert [e["event_id"] for e in served[user]] == [e["event_id"] for e in oracle[user]]
