"""Discovery imports a config package and finds every config object in it, afresh on each run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.compiler import compile_configs
from feature_platform.compiler.discovery import ConfigPackageError, discover
from tests.compiler._helpers import write_package

_SOURCES = """
from feature_platform.authoring import Column, Source, StreamOrigin

COLUMNS = (Column("event_id", "string"), Column("user_id", "int64"), Column("ts_ms", "int64"))


def events_source(name):
    return Source(
        name=name, kind="events", columns=COLUMNS, stream=StreamOrigin(stream=name), timestamp_column="ts_ms"
    )


events = Source(
    name="events", kind="events", columns=COLUMNS, stream=StreamOrigin(stream="e"), timestamp_column="ts_ms"
)
"""

_GENERATED = """
from feature_platform.authoring import EventType, col, from_epoch_ms

from gen_configs.sources import events, events_source

MAPPING = {"event_id": col("event_id"), "user_id": col("user_id"), "timestamp": from_epoch_ms(col("ts_ms"))}

PER_REGION = [events_source(f"events_{region}") for region in ("eu", "us")]
BY_ACTION = {
    action: EventType(name=action, source=events, filter=col("event_id") != "", fields=MAPPING)
    for action in ("click", "save")
}
"""


def test_objects_in_globals_lists_and_dicts_are_found_once(tmp_path: Path) -> None:
    package = write_package(tmp_path, "gen_configs", {"sources": _SOURCES, "generated": _GENERATED})

    found = discover(package)

    assert found.issues == []
    names = [(d.kind.key, d.obj.name) for d in found.objects]
    # `events` is visible from both modules but is one object; objects are sorted by kind, then name
    assert names == [
        ("event_type", "click"),
        ("event_type", "save"),
        ("source", "events"),
        ("source", "events_eu"),
        ("source", "events_us"),
    ]
    events = next(d for d in found.objects if d.obj.name == "events")
    assert Path(events.file).name == "sources.py"  # where it was defined, not where it was first seen


def test_definition_sites_point_at_the_constructor_calls(tmp_path: Path) -> None:
    package = write_package(tmp_path, "gen_configs", {"sources": _SOURCES, "generated": _GENERATED})
    sources = (package / "sources.py").read_text().splitlines()
    generated = (package / "generated.py").read_text().splitlines()

    by_name = {d.obj.name: d for d in discover(package).objects}

    def line_of(lines: list[str], text: str) -> int:
        return next(n for n, line in enumerate(lines, start=1) if text in line)

    assert by_name["events"].line == line_of(sources, "events = Source(")
    assert by_name["events_eu"].line == line_of(sources, "return Source(")  # the helper builds it
    assert by_name["click"].line == line_of(generated, "action: EventType(")
    assert by_name["click"].file == by_name["save"].file == str(package / "generated.py")


def test_rediscovery_sees_an_edit_made_within_the_same_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python trusts a .pyc whose source has the same size and mtime second; discovery must not."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    package = write_package(tmp_path, "edit_configs", {"sources": _SOURCES})
    module = package / "sources.py"
    stamp = os.stat(module).st_mtime_ns
    assert [d.obj.name for d in discover(package).objects] == ["events"]

    module.write_text(module.read_text().replace('name="events"', 'name="evenzs"'))  # same size
    os.utime(module, ns=(stamp, stamp))  # same mtime, as if saved within the same second

    assert "evenzs" in [d.obj.name for d in discover(package).objects]


def test_a_directory_without_init_is_not_a_config_package(tmp_path: Path) -> None:
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "configs.py").write_text("X = 1\n")

    with pytest.raises(ConfigPackageError, match=r"needs an __init__\.py"):
        compile_configs(tmp_path / "loose")

    result = CliRunner().invoke(cli, ["validate", "--configs", str(tmp_path / "loose")])
    assert result.exit_code == 1
    assert "needs an __init__.py" in result.stderr
    assert "Traceback" not in result.output


def test_discovery_leaves_the_import_system_as_it_found_it(tmp_path: Path) -> None:
    package = write_package(tmp_path, "tidy_configs", {"sources": _SOURCES})
    path_before, meta_before = list(sys.path), list(sys.meta_path)

    discover(package)

    assert sys.path == path_before
    assert sys.meta_path == meta_before


@pytest.mark.timeout(60)  # without the check, opening the FIFO hangs: fail this test, not the session
@pytest.mark.parametrize("how", ["fifo", "symlink to a fifo", "dangling symlink"])
def test_a_module_that_is_not_a_regular_file_is_refused_before_it_is_opened(how: str, tmp_path: Path) -> None:
    package = write_package(tmp_path, "fifo_configs", {"sources": _SOURCES})
    fifo = tmp_path / "a_fifo"
    if how == "fifo":
        os.mkfifo(package / "pipe.py")  # opening it would block forever, before any import timeout starts
    elif how == "symlink to a fifo":
        os.mkfifo(fifo)
        (package / "pipe.py").symlink_to(fifo)
    else:
        (package / "pipe.py").symlink_to(tmp_path / "missing.py")

    with pytest.raises(ConfigPackageError, match=r"pipe\.py"):
        discover(package, import_timeout=5)

    result = CliRunner().invoke(cli, ["validate", "--configs", str(package)])
    assert result.exit_code == 1, result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and str(package / "pipe.py") in error_lines[0], result.output
    assert "Traceback" not in result.output


def test_a_directory_named_like_a_module_is_no_module(tmp_path: Path) -> None:
    package = write_package(tmp_path, "dir_configs", {"sources": _SOURCES})
    (package / "data.py").mkdir()
    assert [d.obj.name for d in discover(package).objects] == ["events"]
