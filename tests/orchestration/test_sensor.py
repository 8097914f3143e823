"""feature_config_sensor on a private copy of the configs that the tests edit."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from feature_platform.orchestration import feature_keys
from feature_platform.orchestration.keys import CONFIGS_KEY
from feature_platform.orchestration.sensors import SENSOR_NAME
from tests.orchestration.conftest import Platform, selection

ALL = ["recent_closeups_v1", "recent_engagements_v1", "recent_searches_v1"]

NEW_FEATURE = '''
recent_saves = SequenceFeature(
    name="recent_saves",
    description="Saves only.",
    owners=(HOMEFEED,),
    lifecycle=Lifecycle.EXPERIMENTAL,
    event_types=(save,),
    max_length=50,
    retention=timedelta(days=30),
    fields=("item_id",),
    freshness=STANDARD_FRESHNESS,
)
'''


def tick(platform: Platform, defs: dg.Definitions, cursor: str | None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    with dg.build_sensor_context(
        instance=platform.instance, cursor=cursor, definitions=defs, resources=defs.resources
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def requested(result: dg.SensorResult) -> dict[str, str]:
    """feature id → run key of each run request."""
    return {r.tags["feature_platform/feature"]: r.run_key or "" for r in result.run_requests or []}


def config_hashes(result: dg.SensorResult) -> dict[str, str]:
    assert result.cursor is not None
    return json.loads(result.cursor)["config_hashes"]


def test_first_tick_requests_every_feature_not_live_and_then_nothing(platform: Platform) -> None:
    defs = platform.defs()
    first = tick(platform, defs, None)

    assert sorted(requested(first)) == ALL
    hashes = config_hashes(first)
    for request in first.run_requests or []:
        fid = request.tags["feature_platform/feature"]
        assert request.run_key == f"{fid}:{hashes[fid]}:1"
        assert list(request.asset_selection or []) == list(feature_keys(fid).release)
        assert list(request.asset_check_keys or []) == list(feature_keys(fid).release_checks)

    second = tick(platform, defs, first.cursor)
    assert second.run_requests == []
    assert "no feature config changed" in str(second.skip_reason)


def test_first_tick_baseline_is_what_is_live(platform: Platform) -> None:
    defs = platform.defs()
    assert platform.run(selection(feature_keys("recent_engagements_v1").release), defs=defs).success

    result = tick(platform, defs, None)

    assert sorted(requested(result)) == ["recent_closeups_v1", "recent_searches_v1"]


def test_editing_a_shared_enrichment_requests_exactly_the_features_using_it(platform: Platform) -> None:
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    platform.edit("enrichments.py", 'description="The engaged pin\'s 32-d embedding."',
                  'description="The engaged pin\'s 32-d embedding (v2 model)."')

    result = tick(platform, defs, cursor)

    # item_embedding is used by save, click (recent_engagements) and closeup (recent_closeups), not search
    assert sorted(requested(result)) == ["recent_closeups_v1", "recent_engagements_v1"]
    assert all(key.endswith(":2") for key in requested(result).values())
    after = config_hashes(result)
    before = json.loads(cursor or "")["config_hashes"]
    assert after["recent_searches_v1"] == before["recent_searches_v1"]


def test_touching_a_file_without_changing_it_requests_nothing(platform: Platform) -> None:
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    path = platform.configs_dir / "enrichments.py"
    path.write_text(path.read_text() + "\n# a comment changes the file, not the configs\n")

    assert tick(platform, defs, cursor).run_requests == []


def test_reverting_a_change_publishes_the_old_config_again(platform: Platform) -> None:
    defs = platform.defs()
    first = tick(platform, defs, None)
    platform.edit("sequences.py", "max_length=100,\n    retention=timedelta(days=60)",
                  "max_length=120,\n    retention=timedelta(days=60)")
    changed = tick(platform, defs, first.cursor)
    platform.edit("sequences.py", "max_length=120,\n    retention=timedelta(days=60)",
                  "max_length=100,\n    retention=timedelta(days=60)")
    reverted = tick(platform, defs, changed.cursor)

    assert list(requested(changed)) == list(requested(reverted)) == ["recent_searches_v1"]
    assert requested(reverted)["recent_searches_v1"] != requested(first)["recent_searches_v1"]


def test_invalid_configs_request_the_validation_check_only_and_keep_the_cursor(platform: Platform) -> None:
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    platform.edit("event_types.py", 'filter=col("action") == "save"', 'filter=col("actionz") == "save"')

    result = tick(platform, defs, cursor)

    assert [list(r.asset_selection or []) for r in result.run_requests or []] == [[CONFIGS_KEY]]
    assert (result.run_requests or [])[0].run_key.startswith("feature_configs:invalid:")  # type: ignore[union-attr]
    assert result.cursor is None  # unchanged: the next valid tick diffs against the last valid state


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[dict[str, object]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        payload = {"data": {"reloadRepositoryLocation": {"__typename": "WorkspaceLocationEntry",
                                                         "name": "feature_platform", "loadStatus": "LOADING"}}}
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_webserver() -> Iterator[str]:
    _Recorder.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_feature_unknown_to_the_code_location_is_skipped_and_a_reload_is_requested(
    platform: Platform, fake_webserver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_DAGSTER_WEBSERVER_URL", fake_webserver)
    defs = platform.defs()
    cursor = tick(platform, defs, None).cursor
    with (platform.configs_dir / "sequences.py").open("a") as f:
        f.write(NEW_FEATURE)

    result = tick(platform, defs, cursor)

    assert result.run_requests == []
    assert "recent_saves_v1" in str(result.skip_reason) and "reload" in str(result.skip_reason)
    assert "recent_saves_v1" not in config_hashes(result)  # requested after the reload, not forgotten
    assert len(_Recorder.bodies) == 1
    assert "reloadRepositoryLocation" in str(_Recorder.bodies[0]["query"])
    assert _Recorder.bodies[0]["variables"] == {"name": "feature_platform"}

    reloaded = platform.defs()  # what the reload builds
    after = tick(platform, reloaded, result.cursor)
    assert list(requested(after)) == ["recent_saves_v1"]


def test_the_sensor_runs_by_default(platform: Platform) -> None:
    sensor = platform.defs().resolve_sensor_def(SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
