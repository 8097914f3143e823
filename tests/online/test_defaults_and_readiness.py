"""The embedded default (SQLite in WAL mode under ``FP_DATA_DIR`` when ``FP_ONLINE_STORE`` is unset) and
``/readyz`` (ready only once an artefact is loaded and the store answers)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from feature_platform.cli.main import cli
from feature_platform.runtimes.online import FeatureState, SqliteOnlineStore, open_online_store_from_settings
from feature_platform.settings import PlatformSettings
from feature_platform.store import open_store
from tests.batch.conftest import Published
from tests.online.conftest import OnlineTables
from tests.online.helpers import ENV, make_app

FEATURE = "recent_searches_v1"


def _journal_mode(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        db.close()


def test_without_fp_online_store_the_store_is_one_sqlite_file_in_wal_mode_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FP_ONLINE_STORE", raising=False)
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path / "data"))
    settings = PlatformSettings()
    assert settings.online_store is None
    store = open_online_store_from_settings(settings)
    try:
        assert isinstance(store, SqliteOnlineStore)
        store.put_state(FeatureState(feature_id=FEATURE, batch_users=1))
    finally:
        store.close()
    path = tmp_path / "data" / "online.sqlite"
    assert path.is_file()
    assert _journal_mode(path) == "wal"  # persistent in the file: a reader in another process reads during a load


def test_online_load_without_fp_online_store_writes_the_default_file(
    online_tables: OnlineTables, published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FP_ONLINE_STORE", raising=False)
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FP_ARTEFACT_STORE", published.store_url)
    monkeypatch.setenv("FP_TABLES_ROOT", online_tables.locations.tables_root)
    result = CliRunner().invoke(cli, ["online-load", "--env", ENV, "--feature", FEATURE])
    assert result.exit_code == 0, result.output
    path = tmp_path / "data" / "online.sqlite"
    assert f"sqlite {path}" in result.output
    assert _journal_mode(path) == "wal"
    store = SqliteOnlineStore(path)
    try:
        state = store.get_state(FEATURE)
        assert state is not None and state.batch_day == online_tables.days[-1]
    finally:
        store.close()


def test_readyz_is_not_ready_until_an_artefact_is_loaded(tmp_path: Path, published: Published) -> None:
    store = open_store(str(tmp_path / "artefacts"))  # an environment with nothing published yet
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    now = datetime.now(UTC)
    app = make_app(store, online, clock=lambda: now)
    with TestClient(app) as client:
        empty = client.get("/readyz")
        assert empty.status_code == 503 and empty.headers["retry-after"] == "1"
        assert empty.json()["message"] == "no artefact loaded"
        assert client.get("/healthz").status_code == 200  # alive, just not ready

        live = published.store.current(ENV, FEATURE)
        assert live is not None
        store.put_artefact(published.store.get_artefact_bytes(live.to_hash))
        store.publish(ENV, FEATURE, live.to_hash, actor="tests")
        assert client.get("/readyz").status_code == 503  # published, not loaded yet
        app.state.serve.live.refresh()  # what the reload loop runs every FP_SERVE_RELOAD_SECONDS
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "features": [FEATURE]}

    # A server whose environment has a live artefact is still not ready before start-up loads it.
    second = make_app(store, online, clock=lambda: now)
    before = TestClient(second)  # no lifespan: nothing loaded yet
    assert before.get("/readyz").json()["message"] == "no artefact loaded"
    with TestClient(second) as started:
        assert started.get("/readyz").status_code == 200
    online.close()
