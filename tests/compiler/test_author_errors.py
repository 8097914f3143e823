"""Issue 12, errors a config author can act on: each problem reported once, where it is, never hidden.

The fixture corpus (test_invalid_configs.py) holds one package per class; these tests cover the variants a
fixture cannot: a value shared as a module constant or returned by a helper, a helper function that
blocks, a process that ends itself or crashes or stalls, and objects whose own errors used to hide behind
an invalid source or event type.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_platform.compiler import compile_configs, discovery
from feature_platform.compiler.issues import ValidationIssue
from tests.compiler._helpers import write_package

_SOURCE = '''
from datetime import timedelta
from feature_platform.authoring import (Column, EventType, Freshness, PluginCall, SequenceFeature, Source,
                                        StreamOrigin, col, from_epoch_ms)

events = Source(name="events", kind="events", columns=(Column("event_id", "string"), Column("user_id", "int64"),
                Column("ts_ms", "int64"), Column("query", "string")), stream=StreamOrigin(stream="e"),
                timestamp_column="ts_ms")
COMMON = {"event_id": col("event_id"), "user_id": col("user_id"), "timestamp": from_epoch_ms(col("ts_ms")),
          "query": col("query")}
'''


def _line(package: Path, module: str, text: str) -> int:
    lines = (package / f"{module}.py").read_text().splitlines()
    (number,) = [n for n, line in enumerate(lines, start=1) if text in line]
    return number


def _event_type_module(package: str, name: str, params: str) -> str:
    return (f"from feature_platform.authoring import EventType, PluginCall\n"
            f"from {package}._shared import COMMON, events, PARAMS, params\n\n"
            f"{name} = EventType(name='{name}', source=events, fields=COMMON,\n"
            f"                   executor=PluginCall(plugin='query_normaliser', params={params}))\n")


# ---- a value built once is wrong once, where it is built ------------------------------------------------

@pytest.mark.parametrize(("params", "marker"), [
    ("PARAMS", '"max_chars": True,  # constant'),  # a module constant another module imports
    ("params()", '"max_chars": True,  # returned'),  # a dict literal a helper returns
])
def test_plugin_parameters_shared_by_two_event_types_are_one_issue_at_the_helper(
    params: str, marker: str, tmp_path: Path
) -> None:
    shared = _SOURCE + '''
PARAMS = {
    "input_field": "query",
    "max_chars": True,  # constant
}


def params():
    return {
        "input_field": "query",
        "max_chars": True,  # returned
    }
'''
    package = write_package(tmp_path, "shared_params", {
        "_shared": shared,
        "searches": _event_type_module("shared_params", "search", params),
        "suggestions": _event_type_module("shared_params", "suggestion", params),
    })
    (issue,) = compile_configs(package).issues
    assert (Path(issue.file).name, issue.line) == ("_shared.py", _line(package, "_shared", marker))
    assert (issue.kind, issue.name) == ("event type", "search")
    assert "max_chars: Input should be a valid integer (got true)" in issue.message
    assert "and 1 more use (event type 'suggestion' at " in issue.hint
    assert "suggestions.py:4" in issue.hint


def test_a_helper_value_assigned_before_it_is_returned_is_blamed_where_it_is_built(tmp_path: Path) -> None:
    shared = _SOURCE + '''

def freshness():
    profile = Freshness(
        streaming_max_lag=timedelta(seconds=-5),  # the lag
        batch_max_lag=timedelta(hours=30),
    )
    return profile
'''
    feature = ("from datetime import timedelta\nfrom feature_platform.authoring import EventType, SequenceFeature\n"
               "from lagged._shared import COMMON, events, freshness\n\n"
               "click = EventType(name='click', source=events, fields=COMMON)\n"
               "{name} = SequenceFeature(name='{name}', event_types=(click,), max_length=5, fields=(),\n"
               "                         retention=timedelta(days=3), freshness=freshness())\n")
    package = write_package(tmp_path, "lagged", {"_shared": shared, "a": feature.format(name="a")})
    (issue,) = compile_configs(package).issues
    assert (Path(issue.file).name, issue.line) == ("_shared.py", _line(package, "_shared", "# the lag"))
    assert "freshness.streaming_max_lag must be positive" in issue.message
    assert "the value is built here and used by sequence feature 'a' at " in issue.hint


def test_a_shared_value_refused_when_its_users_are_built_is_one_issue_at_the_helper(tmp_path: Path) -> None:
    """A Python callable in a shared mapping is refused as each event type is built (at import): one issue,
    at the entry in the helper, naming the modules that used it."""
    shared = _SOURCE + '''
MAPPING = {
    "event_id": col("event_id"),
    "user_id": col("user_id"),
    "timestamp": from_epoch_ms(col("ts_ms")),
    "query": lambda row: row["query"].lower(),  # the lambda
}
'''
    module = ("from feature_platform.authoring import EventType\n"
              "from callable_shared._shared import MAPPING, events\n\n"
              "{name} = EventType(name='{name}', source=events, fields=MAPPING)\n")
    package = write_package(tmp_path, "callable_shared", {
        "_shared": shared, "clicks": module.format(name="click"), "views": module.format(name="view"),
    })
    (issue,) = compile_configs(package).issues
    assert (Path(issue.file).name, issue.line) == ("_shared.py", _line(package, "_shared", "# the lambda"))
    assert (issue.kind, issue.name) == ("event type", "click")
    assert "field 'fields.query' holds a Python callable" in issue.message
    assert "callable_shared.clicks, callable_shared.views call(s) this code" in issue.hint


def test_errors_that_differ_per_caller_of_a_helper_are_each_reported(tmp_path: Path) -> None:
    """The helper is where the value is built, but what each caller passed makes a different error."""
    shared = _SOURCE + '''

def freshness(lag):
    return Freshness(streaming_max_lag=lag,  # the lag
                     batch_max_lag=timedelta(hours=30))
'''
    features = '''
from datetime import timedelta
from feature_platform.authoring import EventType, SequenceFeature
from per_caller._shared import COMMON, events, freshness

click = EventType(name="click", source=events, fields=COMMON)
a = SequenceFeature(name="a", event_types=(click,), max_length=5, fields=(), retention=timedelta(days=3),
                    freshness=freshness(timedelta(milliseconds=500)))
b = SequenceFeature(name="b", event_types=(click,), max_length=5, fields=(), retention=timedelta(days=3),
                    freshness=freshness(timedelta(milliseconds=250)))
'''
    package = write_package(tmp_path, "per_caller", {"_shared": shared, "features": features})
    issues = compile_configs(package).issues
    line = _line(package, "_shared", "# the lag")
    assert [(Path(i.file).name, i.name, i.line) for i in issues] == [("_shared.py", n, line) for n in ("a", "b")]
    assert ["got 0.5 s" in issues[0].message, "got 0.25 s" in issues[1].message] == [True, True]


# ---- a module or function that blocks costs one timeout -------------------------------------------------

def test_a_helper_function_that_blocks_is_not_run_again_by_its_other_callers(tmp_path: Path) -> None:
    """Each call of the blocking helper leaves a mark before it blocks: the second caller never gets that far
    (it is a follow-on of the one timeout), so the import timeouts do not add up."""
    marks = tmp_path / "marks"
    marks.mkdir()
    helper = f'''
import threading
from pathlib import Path


def wait_for_service(caller):
    Path({str(marks)!r}, caller).touch()
    threading.Event().wait()  # blocks
'''
    callers = {f"m{i}": f"from blocking._helper import wait_for_service\n\nwait_for_service('m{i}')\n" for i in (1, 2)}
    package = write_package(tmp_path, "blocking", {"_helper": helper, **callers})
    (issue,) = compile_configs(package, import_timeout=1).issues
    assert (Path(issue.file).name, issue.line) == ("_helper.py", _line(package, "_helper", "# blocks"))
    assert "did not finish importing within 1 s: it blocks here, in wait_for_service()" in issue.message
    assert "blocking.m1, blocking.m2 call(s) this code" in issue.hint
    assert sorted(p.name for p in marks.iterdir()) == ["m1"]


def test_a_subpackage_that_blocks_is_one_issue_however_its_modules_are_imported(tmp_path: Path) -> None:
    """`from pkg.sub.a import X` holds pkg.sub.a's import lock while pkg.sub blocks: a later `import
    pkg.sub.a` must not wait on it for another timeout (and be reported as blocking itself)."""
    package = write_package(tmp_path, "subhang", {
        "b": "from subhang.sub.a import X\n",
        "c": "import subhang.sub.a\n\nY = subhang.sub.a.X\n",
    })
    write_package(package, "sub", {"a": "X = 1\n"})
    (package / "sub" / "__init__.py").write_text("import threading\n\nthreading.Event().wait()  # blocks\n")
    (issue,) = compile_configs(package, import_timeout=1).issues
    assert (issue.name, issue.line) == ("subhang.sub", 3)
    assert "not validated either: subhang.b, subhang.c, subhang.sub.a" in issue.hint


# ---- a process that ends itself, crashes or stalls is blamed at its line --------------------------------

@pytest.mark.parametrize(("code", "message"), [
    ("import os\nimport signal\n\nX = 1\nos.kill(os.getpid(), signal.SIGKILL)  # here\n",
     "ended the import process: it called os.kill() here (exit code -9)"),
    ("import ctypes\n\nX = 1\nctypes.string_at(0)  # here\n", "ended the import process here (exit code -11: a crash"),
    ("import os\n\nX = 1\nos.abort()  # here\n", "ended the import process: it called os.abort() here (exit code -6)"),
])
def test_a_config_that_ends_the_import_process_is_blamed_at_its_line(code: str, message: str, tmp_path: Path) -> None:
    package = write_package(tmp_path, "ender", {"a_ok": "X = 1\n", "b_ends": code})
    result = compile_configs(package)
    (issue,) = result.issues
    assert (issue.name, issue.line) == ("ender.b_ends", _line(package, "b_ends", "# here"))
    assert message in issue.message
    assert not result.artefacts


def test_a_kill_that_returns_does_not_blame_a_later_crash_on_it(tmp_path: Path) -> None:
    code = "import ctypes\nimport os\n\nos.kill(os.getpid(), 0)\nctypes.string_at(0)  # here\n"
    package = write_package(tmp_path, "ender2", {"b_ends": code})
    (issue,) = compile_configs(package).issues
    assert issue.line == _line(package, "b_ends", "# here")
    assert "os.kill" not in issue.message


def test_a_module_that_stalls_the_whole_import_process_is_blamed_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A C call holding the interpreter stops the child's own timer: the parent's per-module wait ends it."""
    monkeypatch.setattr(discovery, "_STALL_GRACE", 1.0)
    code = 'import re\n\nX = 1\nre.match(r"(a+)+$", "a" * 64 + "b")  # here\n'
    package = write_package(tmp_path, "staller", {"stalls": code})
    (issue,) = compile_configs(package, import_timeout=1).issues
    assert (issue.name, issue.line) == ("staller.stalls", _line(package, "stalls", "# here"))
    assert "did not finish importing within 1 s (it stalls the whole import process here" in issue.message


def test_an_end_whose_line_cannot_be_known_names_the_module_without_a_line_0(tmp_path: Path) -> None:
    """Killed from outside (here by a shell it starts), the child can say nothing: the module, no line."""
    code = "import os\n\nos.system(f'kill -9 {os.getpid()}')\n"
    package = write_package(tmp_path, "killed", {"victim": code})
    (issue,) = compile_configs(package).issues
    assert issue.name == "killed.victim"
    assert issue.file.endswith("killed/victim.py")
    assert issue.render().startswith(f"{issue.file}: module 'killed.victim': module killed.victim ended the import")


def test_an_issue_without_a_line_renders_without_one() -> None:
    issue = ValidationIssue(file="configs/a.py", line=0, kind="module", name="a", message="m")
    assert issue.render() == "configs/a.py: module 'a': m"
    assert ValidationIssue(file="a.py", line=3, kind="k", name="n", message="m").render() == "a.py:3: k 'n': m"


# ---- an object's own errors are not hidden behind a dependency's ----------------------------------------

_EVENT_TYPE = '''
from datetime import timedelta
from feature_platform.authoring import (BatchOrigin, Column, EventType, Freshness, SequenceFeature, Source,
                                        StreamOrigin, col, from_epoch_ms)

items = Source(name="items", kind="lookup", columns=(Column("item_id", "string"),), batch=BatchOrigin(path="i"),
               key_column="item_id")
click = EventType(name="click", source=SOURCE,
                  fields={"event_id": col("event_id"), "user_id": col("user_id")})  # no timestamp
'''


@pytest.mark.parametrize(("source", "source_error"), [
    ('"nowhere"', "unknown source 'nowhere'"),
    ("items", "source 'items' is a lookup table"),
])
def test_an_event_types_own_errors_are_reported_whatever_its_source(
    source: str, source_error: str, tmp_path: Path
) -> None:
    package = write_package(tmp_path, "own_errors", {"configs": _EVENT_TYPE.replace("SOURCE", source)})
    messages = sorted(i.message for i in compile_configs(package).issues if i.name == "click")
    assert len(messages) == 2, messages
    assert any(source_error in m for m in messages)
    assert any("missing required field 'timestamp' in the mapping" in m for m in messages)


def test_a_features_own_errors_are_reported_behind_an_invalid_event_type(tmp_path: Path) -> None:
    configs = _SOURCE + '''
click = EventType(name="click", source=events, fields={**COMMON, "bad": col("nope")})
view = EventType(name="view", source=events, fields=COMMON)
s = SequenceFeature(name="s", event_types=(click, view), max_length=5, retention=timedelta(days=3),
                    fields=("query", "query"), dedup_by=("missing",),
                    freshness=Freshness(streaming_max_lag=timedelta(minutes=5), batch_max_lag=timedelta(hours=30)))
'''
    issues = compile_configs(write_package(tmp_path, "feature_own", {"configs": configs})).issues
    by_name = {i.name: i for i in issues}
    assert sorted(by_name) == ["click", "s"], issues
    assert by_name["s"].message == "projected field 'query' is listed twice"
    assert "unknown field 'nope'" in by_name["click"].message
    # "dedup_by field 'missing' is not produced by event type(s) view" may only follow from click's error
    assert "1 follow-on error suppressed (in sequence feature 's')" in by_name["click"].hint
