"""Every user mistake on the command line gets a one-line message and a non-zero exit, never a traceback
(unless ``--debug`` asks for one). Runs the real console script, as a person would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

BIN = REPO_ROOT / ".venv" / "bin" / "feature-platform"


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FP_DATA_DIR": str(tmp_path / "data")}
    for name in ("FP_ARTEFACT_STORE", "FP_TABLES_ROOT", "FP_RAW_DATA_ROOT", "FP_CONFIGS_DIR", "FP_DEBUG"):
        env.pop(name, None)
    return subprocess.run([str(BIN), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain-file"
    path.write_text("not a directory")
    return path


CASES = {
    "batch-index of a feature never published": (
        ["batch-index", "--feature", "nope_v1", "--date", "2026-11-01"],
        "has no live version",
    ),
    "training-set of a feature never published": (
        ["training-set", "--feature", "nope_v1", "--examples", "{file}", "--out", "{tmp}/out.parquet"],
        "has no live version",
    ),
    "compile into a path under a file": (["compile", "--out", "{file}/compiled"], "error:"),
    "schema into a path under a file": (["schema", "--out", "{file}/schema.json"], "error:"),
    "history of a store that is a file": (["history", "--feature", "x_v1"], "error:"),
    "online-load of a day that is not certified": (
        ["online-load", "--feature", "nope_v1", "--date", "2026-11-01"],
        "error:",
    ),
    "store verify of a store that is a file": (["store", "verify"], "error:"),
    "store repair in a store that does not exist": (["store", "repair", "--feature", "nope_v1"], "does not exist"),
    "demo-data into a path under a file": (["demo-data", "--out", "{file}/demo", "--events", "100"], "error:"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_cli_error_is_one_line_not_a_traceback(case: str, tmp_path: Path, a_file: Path) -> None:
    args, expected = CASES[case]
    args = [a.format(file=a_file, tmp=tmp_path) for a in args]
    if case.endswith("of a store that is a file"):
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "artefacts").write_text("a file where the store should be")
    result = _run(args, tmp_path)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert expected in output, output
    if expected in ("error:", "Error:"):
        assert result.returncode == 1, output
        assert len([line for line in result.stderr.splitlines() if line.startswith(expected)]) == 1, output


def test_debug_shows_the_traceback(tmp_path: Path, a_file: Path) -> None:
    result = _run(["--debug", "schema", "--out", f"{a_file}/schema.json"], tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_debug_shows_the_traceback_of_demo_data_too(tmp_path: Path, a_file: Path) -> None:
    result = _run(["--debug", "demo-data", "--out", f"{a_file}/demo", "--events", "100"], tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["history", "--feature", "x_v1"],
        ["store", "repair", "--feature", "x_v1"],
        ["plan", "--configs", "tests/fixtures/valid/fixture_configs"],
    ],
)
def test_a_bad_s3_endpoint_is_one_line_naming_the_variable(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_S3_ENDPOINT_URL", "localhost:9000")
    monkeypatch.setenv("FP_ARTEFACT_STORE", "s3://bucket/artefacts")
    env = {**os.environ, "FP_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([str(BIN), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip() == (
        "error: FP_S3_ENDPOINT_URL='localhost:9000' needs a scheme: http://localhost:9000 or https://localhost:9000"
    )


def test_what_a_config_prints_at_import_goes_to_stderr_not_into_json_output(tmp_path: Path) -> None:
    import json
    import shutil

    configs = tmp_path / "fixture_configs"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "valid" / "fixture_configs", configs)
    with (configs / "sources.py").open("a") as module:
        module.write('\nprint("hello from a config module")\n')
    result = _run(["plan", "--configs", str(configs), "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["diffs"]
    assert "hello from a config module" in result.stderr


def test_plan_against_a_store_under_a_regular_file_is_one_line_not_added(tmp_path: Path, a_file: Path) -> None:
    """The store root below a regular file (ENOTDIR) is unreadable, not empty: no "Added", exit 1."""
    env = {**os.environ, "FP_DATA_DIR": str(tmp_path / "data"), "FP_ARTEFACT_STORE": f"{a_file}/store"}
    env.pop("FP_DEBUG", None)
    result = subprocess.run(
        [str(BIN), "plan", "--configs", "tests/fixtures/valid/fixture_configs"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Added" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{a_file}/store" in errors[0] and "Not a directory" in errors[0], result.stderr


def test_plan_with_an_audit_folder_replaced_by_a_file_is_one_line(tmp_path: Path) -> None:
    import json

    store = tmp_path / "data" / "artefacts"
    configs = "tests/fixtures/valid/fixture_configs"
    plan = _run(["plan", "--configs", configs, "--format", "json"], tmp_path)
    assert plan.returncode == 0, plan.stderr
    features = [d["feature_id"] for d in json.loads(plan.stdout)["diffs"]]
    audit = store / "envs" / "dev" / "audit"
    audit.mkdir(parents=True, exist_ok=True)
    for feature in features:
        (audit / feature).write_text("a file where the audit folder should be")
    result = _run(["plan", "--configs", configs], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1, result.stderr


@pytest.mark.parametrize(
    ("variable", "url", "args", "problem"),
    [
        ("FP_EVENT_LOG", "redis://127.0.0.1:99999/0", ["replay", "--source", "engagement_events", "--date",
                                                       "2026-11-01"], "the port must be a number from 1 to 65535"),
        ("FP_EVENT_LOG", "redis://127.0.0.1:6379/abc", ["replay", "--source", "engagement_events", "--date",
                                                        "2026-11-01"], "names DB 'abc'"),
        ("FP_ONLINE_STORE", "redis://127.0.0.1:99999/0", ["serve", "--port", "1"],
         "the port must be a number from 1 to 65535"),
    ],
)  # fmt: skip
def test_a_bad_redis_url_is_one_line_naming_the_variable(
    variable: str, url: str, args: list[str], problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, url)
    result = _run(args, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith(f"error: {variable}={url!r} "), result.stderr
    assert problem in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("command", ["validate", "compile", "publish"])
@pytest.mark.parametrize("ending", ["sys.exit(0)", "os._exit(0)"])
def test_a_config_ending_the_process_at_import_fails_naming_its_module_and_line(
    command: str, ending: str, tmp_path: Path
) -> None:
    """Exit code 0 from a config module (sys.exit(0), os._exit(0)) must never read as "valid" in CI."""
    import shutil

    configs = tmp_path / "ending_configs"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "valid" / "fixture_configs", configs)
    (configs / "zz_exits.py").write_text(f"import os\nimport sys\n\n{ending}\n")
    args = [command, "--configs", str(configs)]
    if command == "compile":
        args += ["--out", str(tmp_path / "out")]
    result = _run(args, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{configs}/zz_exits.py:4: module 'ending_configs.zz_exits': " in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "data" / "artefacts").exists()  # nothing published


@pytest.mark.parametrize(
    "args",
    [
        ["schema", "--out", "{fifo}"],
        ["training-set", "--feature", "nope_v1", "--examples", "{file}", "--out", "{fifo}"],
    ],
)
def test_an_output_that_is_a_pipe_or_a_device_is_refused_never_replaced(
    args: list[str], tmp_path: Path, a_file: Path
) -> None:
    """The staged write renames a file over --out: over /dev/null (run as root) that replaced the device with a
    regular file. A pipe stands for every special file here (making a device node needs privileges)."""
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = _run([a.format(fifo=fifo, file=a_file) for a in args], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(
        f"{fifo} is not a regular file (a device, a pipe or a socket): writing would replace it with a file; "
        "name a regular file"
    ), result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the pipe
