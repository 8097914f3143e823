"""`feature-platform validate` and `compile`: all errors at once, grouped by file, exit 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from feature_platform.cli.main import cli
from feature_platform.compiler import compile_configs
from tests.compiler._helpers import (
    EXAMPLE_CONFIGS,
    INVALID,
    VALID_FIXTURE,
    compiled_files,
    marker_line,
    read_tree,
)

MANY = INVALID / "bad_many_errors"
MANY_ERRORS = {
    "event_types.py": ["click", "view", "search"],
    "sequences.py": ["recent_clicks", "recent_views", "recent_actions"],
}


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _snapshot(out: Path) -> tuple[str, dict[str, bytes], list[str]]:
    """Where the output link points, what it holds, and which build folders exist beside it."""
    builds = sorted(p.name for p in (out.parent / f".{out.name}.builds").iterdir())
    return os.readlink(out), read_tree(out), builds


def test_validate_reports_every_error_grouped_by_file_and_exits_2() -> None:
    result = _run("validate", "--configs", str(MANY))

    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    headers = [
        n for n, text in enumerate(lines) if text and not text.startswith(" ") and text.endswith(".py")
    ]
    assert [lines[n].rsplit("/", 1)[-1] for n in headers] == ["event_types.py", "sequences.py"]
    bounds = [*headers, len(lines)]
    for group, (file, objects) in enumerate(MANY_ERRORS.items()):
        block = lines[bounds[group] + 1 : bounds[group + 1]]
        for name in objects:
            line = marker_line(MANY / file, f"# <- error: {name}")
            located = [text for text in block if text.startswith("  ") and f"{file}:{line}: " in text]
            assert len(located) == 1, (
                f"no '{file}:{line}' line for {name} under its file header:\n{result.stderr}"
            )
            assert f"'{name}'" in located[0]
    assert "6 errors in 2 files" in result.stderr
    assert "nothing was compiled or published" in result.stderr
    assert "valid:" not in result.stdout


def test_validate_console_script_exits_2_on_invalid_configs() -> None:
    script = Path(sys.executable).with_name("feature-platform")
    proc = subprocess.run(
        [str(script), "validate", "--configs", str(MANY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert proc.returncode == 2, proc.stderr
    assert "6 errors in 2 files" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_accepts_the_example_configs() -> None:
    result = _run("validate", "--configs", str(EXAMPLE_CONFIGS))

    assert result.exit_code == 0, result.output
    assert "valid: 3 enrichments, 4 event types, 3 sequence features, 4 sources" in result.stdout


def test_compile_writes_the_compiled_set(tmp_path: Path) -> None:
    out = tmp_path / "compiled"

    result = _run("compile", "--configs", str(VALID_FIXTURE), "--out", str(out))

    assert result.exit_code == 0, result.output
    assert "compiled 2 feature(s)" in result.stdout
    assert out.is_symlink()
    assert read_tree(out) == compiled_files(compile_configs(VALID_FIXTURE))


def test_compile_of_invalid_configs_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "compiled"

    result = _run("compile", "--configs", str(MANY), "--out", str(out))

    assert result.exit_code == 2
    assert "6 errors in 2 files" in result.stderr
    assert not out.exists()
    assert not out.is_symlink()
    assert list(tmp_path.iterdir()) == []


def test_compile_of_invalid_configs_leaves_the_previous_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "compiled"
    assert _run("compile", "--configs", str(VALID_FIXTURE), "--out", str(out)).exit_code == 0
    before = _snapshot(out)

    result = _run("compile", "--configs", str(MANY), "--out", str(out))

    assert result.exit_code == 2
    assert _snapshot(out) == before
