"""Options are refused when parsed, as one `error: …` line with click's usage exit code 2, instead of being
taken silently: an empty --env (an unset CI variable) never falls back to $FP_ENV or 'dev'; ports are 1-65535
(the OS takes 99999 modulo 65536, and 0 as any free port); hosts must be addresses this machine can listen
on; counts, offsets, rates and seconds have ranges (and no nan or inf)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from tests.conftest import REPO_ROOT


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path / "data"))
    for name in ("FP_ARTEFACT_STORE", "FP_TABLES_ROOT", "FP_RAW_DATA_ROOT", "FP_CONFIGS_DIR", "FP_DEBUG", "FP_ENV"):
        monkeypatch.delenv(name, raising=False)


def _refused(args: list[str], *expected: str) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Invalid value for"), result.output
    for text in expected:
        assert text in lines[0], result.output
    assert "Traceback" not in result.output
    return lines[0]


ENV_COMMANDS = {
    "plan": ["plan"],
    "publish": ["publish"],
    "rollback": ["rollback", "--feature", "x_v1"],
    "history": ["history", "--feature", "x_v1"],
    "batch-index": ["batch-index", "--feature", "x_v1", "--date", "2026-11-01"],
    "training-set": ["training-set", "--feature", "x_v1", "--examples", "e.parquet", "--out", "o.parquet"],
    "online-load": ["online-load", "--feature", "x_v1"],
    "serve": ["serve", "--no-auth"],
    "stream": ["stream"],
    "replay": ["replay", "--source", "s", "--date", "2026-11-01"],
    "store verify": ["store", "verify"],
    "store repair": ["store", "repair", "--feature", "x_v1"],
}


@pytest.mark.parametrize("command", sorted(ENV_COMMANDS))
@pytest.mark.parametrize("env", ["", " ", "../prod", "a/b"])
def test_an_invalid_env_is_refused_never_replaced_by_the_default(
    command: str, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_ENV", "dev")
    *group, name = command.split()
    _refused([*group, name, "--env", env, *ENV_COMMANDS[command][len(group) + 1:]], "'--env'",
             f"invalid environment {env!r}")


def test_every_command_taking_env_is_covered() -> None:
    def walk(group: object, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for name, command in getattr(group, "commands", {}).items():
            if hasattr(command, "commands"):
                found |= walk(command, f"{prefix}{name} ")
            elif any(param.name == "env" for param in command.params):
                found.add(f"{prefix}{name}")
        return found

    assert walk(cli) == set(ENV_COMMANDS)


@pytest.mark.parametrize(
    ("args", "option", "problem"),
    [
        (["serve", "--port", "99999"], "--port", "1<=x<=65535"),
        (["serve", "--port", "0"], "--port", "1<=x<=65535"),
        (["serve", "--port", "-1"], "--port", "1<=x<=65535"),
        (["stream", "--metrics-port", "0"], "--metrics-port", "1<=x<=65535"),
        (["serve", "--host", "bad host"], "--host", "holds spaces"),
        (["serve", "--host", ""], "--host", "'' is not a host name"),
        (["serve", "--host", "999.1.1.1"], "--host", "'999.1.1.1' is not a host name or address"),
        (["serve", "--host", "192.0.2.1"], "--host", "cannot listen on '192.0.2.1'"),  # TEST-NET-1: never local
        (["stream", "--metrics-host", "bad host"], "--metrics-host", "holds spaces"),
        (["stream", "--reload-seconds", "nan"], "--reload-seconds", "not a finite number"),
        (["stream", "--log-keep-seconds", "inf"], "--log-keep-seconds", "not a finite number"),
        (["replay", "--source", "s", "--date", "2026-11-01", "--rate", "-5"], "--rate", "x>=0.001"),
        (["replay", "--source", "s", "--date", "2026-11-01", "--rate", "0"], "--rate", "x>=0.001"),
        (["replay", "--source", "s", "--date", "2026-11-01", "--rate", "nan"], "--rate", "not a finite number"),
        (["replay", "--source", "s", "--date", "2026-11-01", "--offset", "-1"], "--offset", "x>=0"),
        (["replay", "--source", "s", "--date", "2026-11-01", "--limit", "0"], "--limit", "x>=1"),
        (["replay", "--source", "s", "--date", "2026-11-01", "--limit", "-3"], "--limit", "x>=1"),
    ],
)
def test_a_number_or_address_out_of_range_is_refused(args: list[str], option: str, problem: str) -> None:
    _refused(args, f"'{option}'", problem)


def test_serve_on_a_port_in_use_is_one_line_before_it_announces_serving() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--no-auth", "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert "serving" not in result.stdout


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--env="], "invalid environment ''"),
        (["--metrics-port", "0"], "--metrics-port must be from 1 to 65535"),
        (["--reload-seconds", "nan"], "--reload-seconds must be a finite number"),
        (["--log-keep-seconds", "-1"], "--log-keep-seconds must be a finite number"),
        (["--claim-idle-ms", "-1"], "--claim-idle-ms must be at least 0"),
    ],
)
def test_the_stream_entry_point_refuses_the_same(args: list[str], problem: str, tmp_path: Path) -> None:
    env = {**os.environ, "FP_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-m", "feature_platform.runtimes.stream", *args], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert problem in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_the_stream_entry_point_names_a_bad_setting(tmp_path: Path) -> None:
    env = {**os.environ, "FP_DATA_DIR": str(tmp_path / "data"), "FP_SERVE_AUTH": "maybe"}
    result = subprocess.run([sys.executable, "-m", "feature_platform.runtimes.stream"], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].endswith("error: FP_SERVE_AUTH='maybe': input should be a valid boolean, "
                                                   "unable to interpret input"), result.stderr
    assert "Traceback" not in result.stderr
