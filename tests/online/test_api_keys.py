"""API keys: stored hashed (``hash-api-key`` prints the hash; a plain key in the configuration is refused),
configured by file and inline env (merged), enforced by a real server with auth on (401 / 403 / 200), and a
keys file that does not parse stops the server at start-up with one line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.runtimes.batch import read_snapshot
from feature_platform.runtimes.online import SqliteOnlineStore, load_day
from feature_platform.runtimes.serve import ApiKeysError, Authoriser, load_api_keys
from feature_platform.settings import PlatformSettings
from tests.online.conftest import OnlineTables
from tests.online.server import CLEAN_EXIT, ServerProcess, own_artefact_store, server_env

SEARCH_KEY = "search-ranker-key-1c0ffee"
RANKER_KEY = "homefeed-ranker-key-2beef"


def _hashed(key: str) -> str:
    """What an operator does: ``feature-platform hash-api-key KEY``."""
    result = CliRunner().invoke(cli, ["hash-api-key", key])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_hash_api_key_prints_the_sha256_and_never_the_key() -> None:
    printed = _hashed(SEARCH_KEY)
    assert printed == hashlib.sha256(SEARCH_KEY.encode()).hexdigest()
    assert SEARCH_KEY not in printed


def _keys_file(path: Path) -> Path:
    path.write_text(json.dumps({"keys": [
        {"name": "search-ranker", "sha256": _hashed(SEARCH_KEY), "features": ["recent_searches"]}]}))
    return path


def _inline_keys() -> str:
    return json.dumps({"keys": [{"name": "homefeed-ranker", "sha256": _hashed(RANKER_KEY), "features": ["*"]}]})


def test_keys_file_and_inline_env_are_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_SERVE_API_KEYS_FILE", str(_keys_file(tmp_path / "keys.json")))
    monkeypatch.setenv("FP_SERVE_API_KEYS", _inline_keys())
    settings = PlatformSettings()
    keys = load_api_keys(settings.serve_api_keys_file, settings.serve_api_keys)
    assert [k.name for k in keys.keys] == ["search-ranker", "homefeed-ranker"]
    authoriser = Authoriser(keys, enabled=True)
    assert authoriser.decide(SEARCH_KEY, "recent_searches_v1", "recent_searches").status == 200  # from the file
    assert authoriser.decide(SEARCH_KEY, "recent_engagements_v1", "recent_engagements").status == 403
    assert authoriser.decide(RANKER_KEY, "recent_engagements_v1", "recent_engagements").status == 200  # from env
    assert authoriser.decide(_hashed(RANKER_KEY), "recent_searches_v1", "recent_searches").status == 401  # the hash
    # is not a key: what is stored cannot be replayed to authenticate


@pytest.mark.parametrize(("document", "says"), [
    ({"keys": [{"name": "x", "key": SEARCH_KEY, "features": ["*"]}]}, "keys[0].key: unknown field"),
    ({"keys": [{"name": "x", "sha256": SEARCH_KEY, "features": ["*"]}]}, "keys[0].sha256: not a sha256 digest"),
    ({"keys": [{"name": "x", "sha256": hashlib.sha256(b"k").hexdigest().upper()}]}, "not a sha256 digest"),
])
def test_a_plain_key_in_the_configuration_is_refused(tmp_path: Path, document: object, says: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document))
    for source in ((path, None), (None, json.dumps(document))):
        with pytest.raises(ApiKeysError) as refused:
            load_api_keys(*source)
        message = str(refused.value)
        assert says in message and "hash-api-key" in message and "\n" not in message


@pytest.mark.parametrize(("content", "says"), [
    ('{"keys": [{"name": "x", "sha256": ', "not valid JSON"),
    ('{"keys": [{"name": "x", "key": "plain"}]}', "keys[0].key: unknown field"),
    (None, "cannot read the API keys file (No such file or directory)"),
    ("fifo", "the API keys file is not a regular file (a FIFO); name a JSON file"),  # was: serve hung, silent
    ("link to fifo", "the API keys file is not a regular file (a FIFO); name a JSON file"),
    ("directory", "the API keys file is not a regular file (a directory); name a JSON file"),
])
def test_a_malformed_keys_file_stops_the_server_at_start_up_with_one_line(
    tmp_path: Path, online_tables: OnlineTables, content: str | None, says: str
) -> None:
    path = tmp_path / "keys.json"
    if content == "fifo":
        os.mkfifo(path)
    elif content == "link to fifo":
        os.mkfifo(tmp_path / "pipe")
        path.symlink_to(tmp_path / "pipe")
    elif content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    env = {**server_env(tmp_path, str(tmp_path / "artefacts"), str(tmp_path / "online.sqlite"), online_tables,
                        auth=True), "FP_SERVE_API_KEYS_FILE": str(path)}
    done = subprocess.run(
        [sys.executable, "-c", "from feature_platform.cli.main import main; main()", "serve", "--env", "dev",
         "--port", "1"],  # never bound: start-up stops before serving
        env={**os.environ, **env}, capture_output=True, timeout=120, check=False,
    )
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: FP_SERVE_API_KEYS_FILE={path}: ") and says in lines[0]
    assert not (tmp_path / "online.sqlite").exists()  # refused before anything was opened


def test_a_real_server_with_auth_on_enforces_keys_and_grants(tmp_path: Path, online_tables: OnlineTables) -> None:
    store_url, _ = own_artefact_store(tmp_path)
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    day = online_tables.days[-1]
    for feature_id in ("recent_searches_v1", "recent_engagements_v1"):
        load_day(online_tables.artefacts[feature_id], day, online_tables.locations, online)
    online.close()
    keys_file = _keys_file(tmp_path / "keys.json")
    assert SEARCH_KEY not in keys_file.read_text()
    env = {**server_env(tmp_path, store_url, str(tmp_path / "online.sqlite"), online_tables, auth=True),
           "FP_SERVE_API_KEYS_FILE": str(keys_file), "FP_SERVE_API_KEYS": _inline_keys()}
    user = read_snapshot("recent_searches_v1", day, online_tables.locations).get_column("user_id")[0]
    searches = f"/v1/features/recent_searches/users/{user}/sequence"
    engagements = f"/v1/features/recent_engagements_v1/users/{user}/sequence"
    server = ServerProcess(env)
    try:
        missing = server.get(searches)
        assert missing.status_code == 401 and missing.json()["error"] == "unauthenticated"
        assert server.get(searches, headers={"Authorization": "Bearer not-a-key"}).status_code == 401
        forbidden = server.get(engagements, headers={"Authorization": f"Bearer {SEARCH_KEY}"})
        assert forbidden.status_code == 403 and "no grant" in forbidden.json()["message"]
        granted = server.get(searches, headers={"Authorization": f"Bearer {SEARCH_KEY}"})  # the file's key
        assert granted.status_code == 200 and granted.json()["events"]
        everything = server.get(engagements, headers={"X-API-Key": RANKER_KEY})  # the inline env's key
        assert everything.status_code == 200 and everything.json()["events"]
        many = server.post_json("/v1/features/recent_engagements/sequences", {"users": [user]})
        assert many.status_code == 401
        assert server.get("/healthz").status_code == 200  # health and readiness need no key
        assert server.get("/readyz").status_code == 200
    finally:
        assert server.stop() in CLEAN_EXIT
