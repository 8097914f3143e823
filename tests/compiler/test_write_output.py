"""`write_output`: the output is a symlink swapped atomically between complete, immutable build folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feature_platform.compiler import CompileResult, compile_configs, write_output
from feature_platform.errors import FeaturePlatformError
from tests.compiler._helpers import INVALID, compiled_files, read_tree, write_package

_CONFIG = """
from datetime import timedelta

from feature_platform.authoring import Column, EventType, Freshness, SequenceFeature, Source, StreamOrigin
from feature_platform.authoring import col, from_epoch_ms

MAPPING = {{"event_id": col("event_id"), "user_id": col("user_id"), "timestamp": from_epoch_ms(col("ts_ms"))}}

events = Source(
    name="events", kind="events", stream=StreamOrigin(stream="events"), timestamp_column="ts_ms",
    columns=(Column("event_id", "string"), Column("user_id", "int64"), Column("ts_ms", "int64")),
)
click = EventType(
    name="click", source=events,
    fields=MAPPING,
)
recent_clicks = SequenceFeature(
    name="recent_clicks", event_types=(click,), max_length={max_length}, retention=timedelta(days=7),
    fields=(),
    freshness=Freshness(streaming_max_lag=timedelta(minutes=1), batch_max_lag=timedelta(days=1)),
)
"""


def _compile(tmp_path: Path, max_length: int) -> CompileResult:
    """Compile the same package, edited in place to a given max_length (as a user edits their repo)."""
    package = write_package(
        tmp_path / "repo", "swap_configs", {"configs": _CONFIG.format(max_length=max_length)}
    )
    result = compile_configs(package)
    assert result.ok, result.issues
    return result


def _builds(out: Path) -> list[str]:
    return sorted(p.name for p in (out.parent / f".{out.name}.builds").iterdir())


def test_output_is_a_symlink_to_a_complete_build_folder(tmp_path: Path) -> None:
    result = _compile(tmp_path, max_length=10)
    out = tmp_path / "compiled"

    build = write_output(result, out)

    assert out.is_symlink()
    assert (out.parent / os.readlink(out)).resolve() == build.resolve()
    assert not Path(os.readlink(out)).is_absolute()  # the output tree can be moved as a whole
    assert read_tree(out) == compiled_files(result)
    assert _builds(out) == [build.name]  # no staging folder left behind


def test_recompiling_after_a_change_swaps_the_link_and_keeps_the_previous_build(tmp_path: Path) -> None:
    out = tmp_path / "compiled"
    first = write_output(_compile(tmp_path, max_length=10), out)
    first_files = read_tree(out)

    changed = _compile(tmp_path, max_length=20)
    second = write_output(changed, out)

    assert second != first
    assert (out.parent / os.readlink(out)).resolve() == second.resolve()
    assert read_tree(out) == compiled_files(changed)
    assert read_tree(first) == first_files  # a reader still on the previous build sees it whole
    assert _builds(out) == sorted([first.name, second.name])


def test_recompiling_unchanged_configs_reuses_the_build(tmp_path: Path) -> None:
    out = tmp_path / "compiled"
    first = write_output(_compile(tmp_path, max_length=10), out)

    again = write_output(_compile(tmp_path, max_length=10), out)

    assert again == first
    assert _builds(out) == [first.name]


def test_old_builds_are_pruned_but_the_live_one_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "compiled"
    written = [write_output(_compile(tmp_path, max_length=n), out) for n in range(10, 17)]

    kept = _builds(out)
    assert len(kept) == 5
    assert written[-1].name in kept
    assert (out.parent / os.readlink(out)).resolve() == written[-1].resolve()


def test_a_failed_compile_leaves_the_link_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "compiled"
    good = write_output(_compile(tmp_path, max_length=10), out)
    link, files, builds = os.readlink(out), read_tree(out), _builds(out)

    failed = compile_configs(INVALID / "bad_max_length_zero")
    assert not failed.ok
    with pytest.raises(FeaturePlatformError, match="refusing to write a compile that has errors"):
        write_output(failed, out)

    assert os.readlink(out) == link
    assert read_tree(out) == files
    assert _builds(out) == builds == [good.name]


def test_an_existing_directory_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "compiled"
    out.mkdir()
    (out / "precious.txt").write_text("not a compile output")

    with pytest.raises(FeaturePlatformError, match="is not a compile output link"):
        write_output(_compile(tmp_path, max_length=10), out)

    assert (out / "precious.txt").read_text() == "not a compile output"


def test_a_write_that_fails_midway_leaves_no_staging_folder_and_the_link_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    out = tmp_path / "compiled"
    good = write_output(_compile(tmp_path, max_length=10), out)
    changed = _compile(tmp_path, max_length=20)
    real_write = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:
        if self.name == "manifest.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_output(changed, out)

    assert _builds(out) == [good.name]  # no half-written staging folder
    assert (out.parent / os.readlink(out)).resolve() == good.resolve()


def test_leftovers_of_a_killed_compile_are_swept_but_a_running_one_is_left_alone(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, live_pid = int(dead.stdout), os.getppid()
    out = tmp_path / "compiled"
    builds = tmp_path / ".compiled.builds"
    (builds / f".staging-abc123-{dead_pid}" / "artefacts").mkdir(parents=True)
    (builds / f".staging-abc123-{live_pid}").mkdir()
    (tmp_path / f".compiled.tmp-{dead_pid}").symlink_to("nowhere")

    build = write_output(_compile(tmp_path, max_length=10), out)

    assert _builds(out) == sorted([build.name, f".staging-abc123-{live_pid}"])
    assert not (tmp_path / f".compiled.tmp-{dead_pid}").is_symlink()


def test_schema_export_on_a_full_disk_is_one_line_and_leaves_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from click.testing import CliRunner

    import feature_platform.storage.local as local
    from feature_platform.cli.main import cli

    out = tmp_path / "schema.json"
    out.write_text('{"previous": true}\n')
    real_open = open

    def full_disk(local_path: str, data: bytes) -> None:  # half the bytes reach the disk, then it is full
        with real_open(local_path, "wb") as handle:
            handle.write(data[: len(data) // 2])
        exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), local_path)
        os.unlink(local_path)  # what _write_file does on failure, then the store error
        raise local.StoreError(f"cannot write {local_path}: {exc}") from exc

    monkeypatch.setattr(local, "_write_file", full_disk)
    result = CliRunner().invoke(cli, ["schema", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], result.output
    assert out.read_text() == '{"previous": true}\n'  # nothing half-written under the final name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.json"]  # and no staged file left


def test_schema_export_writes_the_json_schema(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from feature_platform.cli.main import cli

    out = tmp_path / "schema.json"
    result = CliRunner().invoke(cli, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["title"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.json"]


def _beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir())


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_an_existing_directory_or_file_is_refused_before_any_build_is_written(tmp_path: Path, kind: str) -> None:
    result = _compile(tmp_path, max_length=10)
    out = tmp_path / "out" / "compiled"
    out.parent.mkdir()
    if kind == "directory":
        out.mkdir()
    else:
        out.write_text("not a compile output")

    with pytest.raises(FeaturePlatformError, match="exists and is not a compile output link"):
        write_output(result, out)

    assert _beside(out) == ["compiled"]  # no orphaned .compiled.builds/<hash>/


@pytest.mark.parametrize("name", [".", ".."])
def test_an_output_ending_in_dot_or_dotdot_is_refused_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from click.testing import CliRunner

    from feature_platform.cli.main import cli

    package = write_package(tmp_path / "repo", "swap_configs", {"configs": _CONFIG.format(max_length=10)})
    work = tmp_path / "work" / "here"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = {p: _beside(p / "x") for p in (work, work.parent)}

    result = CliRunner().invoke(cli, ["compile", "--configs", str(package), "--out", name])

    assert result.exit_code == 1, result.output
    assert "must name the output link itself" in result.output
    assert "Traceback" not in result.output
    assert {p: _beside(p / "x") for p in (work, work.parent)} == before  # no '..builds' anywhere
