"""Every FP_* setting with a value the platform cannot use is one line naming the variable, never pydantic's
multi-line dump, in the library and on the command line (where it is an `error: …` line and exit 1)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from feature_platform.settings import DEFERRABLE, PlatformSettings, SettingsError
from tests.conftest import REPO_ROOT

BIN = REPO_ROOT / ".venv" / "bin" / "feature-platform"

BAD_VALUES: dict[str, list[str]] = {
    "artefact_store": ["s3://Bad_Bucket/x"],
    "s3_endpoint_url": ["minio:9000"],
    "raw_data_root": ["s3://a/x"],
    "tables_root": ["s3://xn--bucket/x"],
    "actor": ["two\nlines"],
    "online_store": ["redis://127.0.0.1:99999/0"],
    "event_log": ["redis://127.0.0.1:6379/abc"],
    "serve_auth": ["maybe", "2"],
    "serve_max_in_flight": ["0", "-3", "abc", "1.5"],
    "serve_reload_seconds": ["0", "-1", "nan", "inf", "abc"],
}
ANY_TEXT = {
    "data_dir": "a path",
    "configs_dir": "a path",
    "s3_region": "a region name botocore checks",
    "env": "the store refuses a bad name where an environment is used (`invalid environment …`)",
    "online_prefix": "any key prefix",
    "event_log_prefix": "any key prefix",
    "serve_api_keys_file": "a path, read (and checked) by serve",
    "serve_api_keys": "JSON, parsed (and checked) by serve",
}


def test_every_setting_has_bad_values_or_takes_any_text() -> None:
    assert set(BAD_VALUES) | set(ANY_TEXT) == set(PlatformSettings.model_fields)
    assert not set(BAD_VALUES) & set(ANY_TEXT)


CASES = [(field, value) for field, values in BAD_VALUES.items() for value in values]


@pytest.mark.parametrize(("field", "value"), CASES)
def test_a_bad_value_is_one_line_naming_the_variable(field: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    variable = f"FP_{field.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        PlatformSettings()
    message = str(caught.value)
    assert message.startswith(f"{variable}="), message
    assert "\n" not in message and "pydantic" not in message, message


@pytest.mark.parametrize(("field", "value"), CASES)
def test_deferred_a_bad_value_fails_only_where_it_is_read(
    field: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = f"FP_{field.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as strict:
        PlatformSettings()
    if field not in DEFERRABLE:  # where data and stores live: every command needs it, every command fails
        with pytest.raises(SettingsError) as not_deferred:
            PlatformSettings(defer_errors=True)
        assert str(not_deferred.value) == str(strict.value)
        return
    settings = PlatformSettings(defer_errors=True)  # what the CLI reads
    for other in PlatformSettings.model_fields:
        if other != field:
            getattr(settings, other)  # the other settings read as usual
    with pytest.raises(SettingsError) as deferred:
        getattr(settings, field)
    assert str(deferred.value) == str(strict.value)
    with pytest.raises(SettingsError, match=f"^{variable}="):
        settings.check()
    replaced = settings.model_copy(update={field: PlatformSettings.model_fields[field].default})
    replaced.check()  # a copy that sets the field has no error left
    with pytest.raises(SettingsError, match=f"^{variable}="):
        settings.model_copy(update={"env": "other"}).check()


def _run(args: list[str], tmp_path: Path, variable: str, value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FP_DATA_DIR": str(tmp_path / "data"), variable: value}
    for name in ("FP_ARTEFACT_STORE", "FP_TABLES_ROOT", "FP_RAW_DATA_ROOT", "FP_CONFIGS_DIR", "FP_DEBUG"):
        env.pop(name, None)
    return subprocess.run([str(BIN), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


SERVE_SETTINGS = ["FP_SERVE_MAX_IN_FLIGHT=0", "FP_SERVE_RELOAD_SECONDS=nan", "FP_SERVE_AUTH=maybe"]


@pytest.mark.parametrize("args", [["serve", "--port", "1"], ["stream", "--metrics-port", "1"]])
@pytest.mark.parametrize("setting", [*SERVE_SETTINGS, "FP_ONLINE_STORE=redis://h:0", "FP_S3_ENDPOINT_URL=minio"])
def test_a_server_prints_one_error_line_before_it_starts(args: list[str], setting: str, tmp_path: Path) -> None:
    variable, _, value = setting.partition("=")
    result = _run(args, tmp_path, variable, value)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "pydantic" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable}={value!r}"), result.stderr
    assert "serving" not in result.stdout


@pytest.mark.parametrize("args", [["validate"], ["plan", "--env", "dev"], ["history", "--feature", "x_v1"]])
@pytest.mark.parametrize("setting", [*SERVE_SETTINGS, "FP_ACTOR=two\nlines"])
def test_a_command_that_does_not_use_a_setting_does_not_fail_on_it(
    args: list[str], setting: str, tmp_path: Path
) -> None:
    variable, _, value = setting.partition("=")
    (tmp_path / "data" / "artefacts").mkdir(parents=True)  # an existing, empty store: `history` reads it
    result = _run(args, tmp_path, variable, value)
    assert result.returncode == 0, result.stderr
    assert variable not in result.stderr
