"""Issue 12 on the compile plane: bad input never reads as "valid", and errors say what to fix where.

The fixture corpus (test_invalid_configs.py) covers one way of being wrong per package; these tests cover
what a fixture cannot: the CLI's exit code, a process that ends itself, validator state in the parent,
parity with the runtimes' cron parser, and messages for the classic Python slips.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from feature_platform.authoring import Freshness, SequenceFeature, col
from feature_platform.authoring._base import ConfigObjectError
from feature_platform.cli.main import cli
from feature_platform.compiler import compile_configs, resolve
from feature_platform.compiler.cron import cron_problem
from feature_platform.errors import ConfigDefinitionError
from feature_platform.plugins import plugin_names
from tests.compiler._helpers import INVALID, VALID_FIXTURE, write_package


@pytest.mark.parametrize("command", ["validate", "compile"])
def test_sys_exit_at_import_fails_validate_and_compile_with_exit_2(command: str, tmp_path: Path) -> None:
    args = [command, "--configs", str(INVALID / "bad_import_sys_exit")]
    if command == "compile":
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "called sys.exit(0)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_empty_package_is_an_error_not_valid_nothing() -> None:
    result = CliRunner().invoke(cli, ["validate", "--configs", str(INVALID / "bad_empty_package")])
    assert result.exit_code == 2
    assert "no config objects found" in result.stderr
    assert "valid:" not in result.output


@pytest.mark.parametrize("command", ["validate", "compile"])
def test_a_package_without_sequence_features_is_an_error_and_compile_leaves_nothing(
    command: str, tmp_path: Path
) -> None:
    args = [command, "--configs", str(INVALID / "bad_no_sequence_feature")]
    if command == "compile":
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "no SequenceFeature defined: nothing to compile" in result.stderr
    assert "valid:" not in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no out link, no empty .out.builds


def test_os_exit_at_import_is_reported_and_nothing_compiles(tmp_path: Path) -> None:
    package = write_package(tmp_path, "osexit_configs", {"a_ok": "X = 1\n", "b_exits": "import os\nos._exit(0)\n"})
    result = compile_configs(package)
    assert not result.ok
    (issue,) = result.issues
    assert issue.name == "osexit_configs.b_exits"
    assert "ended the import process" in issue.message


def test_a_hang_names_the_line_it_blocks_on_and_other_modules_are_still_validated(tmp_path: Path) -> None:
    package = write_package(tmp_path, "hang_configs", {
        "a_hangs": "import time\n\nwhile True:\n    time.sleep(0.05)\n",
        "b_bad": "from feature_platform.authoring import SequenceFeature\n\nX = SequenceFeature(name='x')\n",
    })
    issues = compile_configs(package, import_timeout=0.5).issues
    hang = next(i for i in issues if i.name == "hang_configs.a_hangs")
    assert hang.line == 4
    assert any(i.name == "x" and "event_types" in i.message for i in issues)


def test_config_code_never_runs_in_the_validating_process(tmp_path: Path) -> None:
    """A config that widens the limits or registers a plugin changes nothing here."""
    before_range = resolve.MAX_LENGTH_RANGE
    compile_configs(INVALID / "bad_monkeypatched_limits")
    compile_configs(INVALID / "bad_plugin_from_config")
    assert before_range == resolve.MAX_LENGTH_RANGE
    assert "shortcut" not in plugin_names()


def test_objects_in_nested_containers_are_discovered(tmp_path: Path) -> None:
    source = """
from feature_platform.authoring import Column, Source, StreamOrigin

ALL = {"eu": [Source(name="events_eu", kind="events", columns=(Column("ts", "int64"),),
                     stream=StreamOrigin(stream="e"), timestamp_column="ts")]}
"""
    found = compile_configs(write_package(tmp_path, "nested_configs", {"sources": source})).discovery
    assert found is not None
    assert [d.obj.name for d in found.objects] == ["events_eu"]


def test_valid_configs_still_compile_and_validate_is_fast() -> None:
    import time

    start = time.perf_counter()
    result = compile_configs(VALID_FIXTURE)
    assert result.ok, result.issues
    assert time.perf_counter() - start < 10  # a child process, not a new interpreter per module


# ---- validate the way the runtimes parse ---------------------------------------------------------------

@pytest.mark.parametrize("cron", [
    "0 6 * * *", "*/15 * * * *", "0 0 1 * *", "30 2 * * mon-fri", "0 0 29 2 *", "0 8,20 * * 1-5", "0 6 * jan *",
    "61 25 * * *", "0 24 * * *", "0 0 31 2 *", "0 0 30 2 *", "* * * *", "0 0 * * 8", "0 6 ? * *", "0 0 L * *",
    "0 0 1W * *", "0 6 * * 1#2", "0 6  * * *", "5-1 * * * *", "*/0 * * * *", "0 0 0 * *", "0 0 * 13 *",
])
def test_a_cron_the_compiler_accepts_loads_in_dagster(cron: str) -> None:
    """Anything validation accepts must load in the code location (Dagster's own cron parser)."""
    from dagster._utils.schedules import get_smallest_cron_interval, is_valid_cron_string

    if cron_problem(cron) == "":
        assert is_valid_cron_string(cron), cron
        get_smallest_cron_interval(cron)


def test_the_issue_example_cron_is_refused() -> None:
    assert "minute '61' is out of range" in cron_problem("61 25 * * *")


# ---- messages in the author's words --------------------------------------------------------------------

def test_a_string_where_a_tuple_belongs_hints_at_the_missing_comma() -> None:
    with pytest.raises(ConfigObjectError, match=r"trailing comma: \('click',\)"):
        SequenceFeature(name="s", event_types=("click"), max_length=1, retention=1, fields=(),
                        freshness=None)  # type: ignore[arg-type]


def test_in_on_an_expression_says_what_to_use_instead() -> None:
    with pytest.raises(ConfigDefinitionError, match=r"\.str\.contains\('x'\)"):
        "x" in col("query")  # noqa: B015


def test_a_bare_number_for_a_duration_is_refused() -> None:
    with pytest.raises(ConfigDefinitionError, match=r"read as 90 seconds"):
        Freshness(streaming_max_lag=90, batch_max_lag=90)  # type: ignore[arg-type]


def test_no_pydantic_urls_or_enum_reprs_in_messages() -> None:
    for case in ("bad_plugin_unknown_param", "bad_plugin_param_bool", "bad_retention_bare_number"):
        for issue in compile_configs(INVALID / case).issues:
            assert "errors.pydantic.dev" not in issue.message
            assert "<DType." not in issue.message


def test_an_enrichment_used_before_the_one_providing_its_field_gets_a_hint(tmp_path: Path) -> None:
    configs = '''
from feature_platform.authoring import (Column, DerivedEnrichment, EventType, LookupEnrichment, Source,
                                        BatchOrigin, StreamOrigin, col, from_epoch_ms)

events = Source(name="events", kind="events", columns=(Column("event_id", "string"), Column("user_id", "int64"),
                Column("ts_ms", "int64")), stream=StreamOrigin(stream="e"), timestamp_column="ts_ms")
items = Source(name="items", kind="lookup", columns=(Column("item_id", "string"), Column("cat", "string")),
               batch=BatchOrigin(path="items"), key_column="item_id")
make_item = DerivedEnrichment(name="make_item", fields={"item_id": col("event_id")})
item_cat = LookupEnrichment(name="item_cat", source=items, on="item_id", columns={"cat": "cat"})
click = EventType(name="click", source=events, enrichments=(item_cat, make_item),
                  fields={"event_id": col("event_id"), "user_id": col("user_id"),
                          "timestamp": from_epoch_ms(col("ts_ms"))})
'''
    issues = compile_configs(write_package(tmp_path, "order_configs", {"configs": configs})).issues
    (issue,) = [i for i in issues if i.name == "item_cat"]
    assert "listed later" in issue.hint


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from feature_platform.authoring import col\n\nX = coll('a')\n",
         "NameError: name 'coll' is not defined; did you mean 'col'?"),
        ("from feature_platform.authoring import SequenceFeatur\n",
         "cannot import name 'SequenceFeatur' from 'feature_platform.authoring'"),
        ("from feature_platform import authoring\n\nX = authoring.EventTyp\n",
         "has no attribute 'EventTyp'; did you mean 'EventType'?"),
        ("from feature_platform.authoring import DType\n\nX = DType.INT46\n",
         "DType has no member 'INT46'; did you mean 'INT64'?"),
        ("from feature_platform.authoring import Lifecycle\n\nX = Lifecycle.production\n",
         "Lifecycle has no member 'production'; did you mean 'PRODUCTION'?"),
    ],
)
def test_a_misspelt_name_at_import_gets_did_you_mean(source: str, expected: str, tmp_path: Path) -> None:
    (issue,) = compile_configs(write_package(tmp_path, "typo_configs", {"configs": source})).issues
    assert expected in issue.message
    if "SequenceFeatur" in source:
        assert issue.message.endswith("did you mean 'SequenceFeature'?")


def test_an_error_in_a_helper_is_reported_once_whatever_its_callers_pass(tmp_path: Path) -> None:
    """`or` in a helper called with different arguments from three modules: one error, the callers counted."""
    helper = "from feature_platform.authoring import col\n\ndef either(a, b):\n    return col(a).is_null() or col(b)\n"
    callers = {f"m{i}": f"from typo_or._helper import either\n\nX = either('a{i}', 'b')\n" for i in range(3)}
    issues = compile_configs(write_package(tmp_path, "typo_or", {"_helper": helper, **callers})).issues
    (issue,) = issues
    assert (issue.name, issue.line) == ("typo_or._helper", 4)
    assert "typo_or.m0, typo_or.m1, typo_or.m2 call(s) this code" in issue.hint


def test_a_misspelt_dedup_by_or_enrichment_input_field_gets_did_you_mean(tmp_path: Path) -> None:
    configs = """
from datetime import timedelta
from feature_platform.authoring import (Column, DerivedEnrichment, EventType, Freshness, SequenceFeature, Source,
                                        StreamOrigin, col, from_epoch_ms)

events = Source(name="events", kind="events", columns=(Column("event_id", "string"), Column("user_id", "int64"),
                Column("ts_ms", "int64"), Column("action", "string")), stream=StreamOrigin(stream="e"),
                timestamp_column="ts_ms")
hour = DerivedEnrichment(name="hour", fields={"hr": col("timestmp").dt.hour()})
click = EventType(name="click", source=events, enrichments=(hour,),
                  fields={"event_id": col("event_id"), "user_id": col("user_id"),
                          "timestamp": from_epoch_ms(col("ts_ms")), "act": col("action")})
s = SequenceFeature(name="s", event_types=(click,), max_length=10, retention=timedelta(days=3), fields=("act",),
                    dedup_by=("actt",),
                    freshness=Freshness(streaming_max_lag=timedelta(minutes=5), batch_max_lag=timedelta(hours=30)))
"""
    issues = compile_configs(write_package(tmp_path, "typo_fields", {"configs": configs})).issues
    (hour,) = [i for i in issues if i.name == "hour"]
    assert hour.message.endswith("unknown field 'timestmp' (available: act, event_id, event_type, timestamp, "
                                 "user_id); did you mean 'timestamp'?")
    fixed = configs.replace('col("timestmp")', 'col("timestamp")')
    (dedup,) = compile_configs(write_package(tmp_path, "typo_dedup", {"configs": fixed})).issues
    assert dedup.message == "dedup_by field 'actt' is not produced by event type(s) click; did you mean 'act'?"


def test_a_blank_owner_is_refused(tmp_path: Path) -> None:
    configs = """
from feature_platform.authoring import Column, Source, StreamOrigin

events = Source(name="events", kind="events", owners=("team-a", "  "), columns=(Column("ts", "int64"),),
                stream=StreamOrigin(stream="e"), timestamp_column="ts")
"""
    (issue,) = compile_configs(write_package(tmp_path, "blank_owner", {"configs": configs})).issues
    assert issue.message == "owner '  ' is blank"


_TYPO_BASE = """
from datetime import timedelta
from feature_platform.authoring import (Column, EventType, Freshness, PluginCall, SequenceFeature, Source,
                                        StreamOrigin, col, from_epoch_ms)

events = Source(name="events", kind="events", columns=(Column("event_id", "string"), Column("user_id", "int64"),
                Column("ts_ms", "int64"), Column("dwell_ms", "int64")), stream=StreamOrigin(stream="e"),
                timestamp_column="ts_ms")
view = EventType(name="view", source=events, executor=PluginCall(plugin=PLUGIN, params=PARAMS),
                 fields={"event_id": col("event_id"), "user_id": col("user_id"),
                         "timestamp": from_epoch_ms(col("ts_ms")), "dwell_ms": col("dwell_ms")})
s = SequenceFeature(name="s", event_types=(EVENT_TYPE,), max_length=10, retention=timedelta(days=3),
                    fields=(FIELD,),
                    freshness=Freshness(streaming_max_lag=timedelta(minutes=5), batch_max_lag=timedelta(hours=30)))
"""


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ({"PLUGIN": "'dwell_bucketizer'"}, "unknown plugin 'dwell_bucketizer'"),
        ({"PARAMS": "{'boundary_ms': [1, 2]}"}, "unknown parameter 'boundary_ms'; did you mean 'boundaries_ms'?"),
        ({"EVENT_TYPE": "'veiw'"}, "unknown event type 'veiw' (known: view); did you mean 'view'?"),
        ({"FIELD": "'dwell_bucktet'"}, "produced by none of its event types (view); did you mean 'dwell_bucket'?"),
    ],
)
def test_misspelt_references_and_plugin_parameters_get_did_you_mean(
    typo: dict[str, str], expected: str, tmp_path: Path
) -> None:
    values = {"PLUGIN": "'dwell_bucketiser'", "PARAMS": "{}", "EVENT_TYPE": "view", "FIELD": "'dwell_bucket'"}
    source = _TYPO_BASE
    for name, value in {**values, **typo}.items():
        source = source.replace(name, value)
    (issue,) = compile_configs(write_package(tmp_path, "typo_refs", {"configs": source})).issues
    assert expected in issue.message
    if "PLUGIN" in typo:
        assert issue.message.endswith("did you mean 'dwell_bucketiser'?")


@pytest.mark.parametrize("name", ["json", "pydantic", "feature_platform"])
def test_a_config_package_named_like_a_module_the_platform_needs_is_refused(name: str, tmp_path: Path) -> None:
    source = "from feature_platform.authoring import Column\n\nC = Column('a', 'int64')\n"
    result = compile_configs(write_package(tmp_path, name, {"configs": source}))
    (issue,) = result.issues
    assert (issue.kind, issue.name, issue.line) == ("package", name, 1)
    assert f"the config package's name '{name}' is also the name of" in issue.message
    assert not result.artefacts


def test_a_copy_of_a_config_package_under_the_same_name_is_not_shadowing(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(VALID_FIXTURE, tmp_path / VALID_FIXTURE.name)
    assert compile_configs(tmp_path / VALID_FIXTURE.name).ok


@pytest.mark.parametrize(("stream", "ok"), [("", False), ("a b", False), ("-x", False), ("ev\n", False),
                                            ("engagement_events", True), ("team.clicks:v2", True)])
def test_a_stream_name_the_stream_runtimes_cannot_key_is_refused(stream: str, ok: bool, tmp_path: Path) -> None:
    source = (
        "from feature_platform.authoring import Column, Source, StreamOrigin\n\n"
        f"events = Source(name='events', kind='events', columns=(Column('ts', 'int64'),),\n"
        f"                stream=StreamOrigin(stream={stream!r}), timestamp_column='ts')\n"
    )
    issues = compile_configs(write_package(tmp_path, "stream_names", {"configs": source})).issues
    assert [i.message for i in issues if "stream name" in i.message] == (
        [] if ok else [f"stream name {stream!r} must be 1-200 characters from letters, digits, '_', '.', ':' and '-', "
                       "starting with a letter or digit"]
    )


@pytest.mark.parametrize("value", ["-1", "0", "abc", "nan", "inf", "1e308", "3601"])
def test_a_bad_import_timeout_setting_is_refused_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feature_platform.errors import FeaturePlatformError

    monkeypatch.setenv("FP_CONFIG_IMPORT_TIMEOUT", value)
    with pytest.raises(FeaturePlatformError, match=f"FP_CONFIG_IMPORT_TIMEOUT='{value}' must be a positive number"):
        compile_configs(VALID_FIXTURE)


def test_a_huge_import_timeout_is_one_line_naming_the_variable_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1e308 s used to overflow math.ceil(timeout * 1e3) in the import wait with an OverflowError traceback."""
    monkeypatch.setenv("FP_CONFIG_IMPORT_TIMEOUT", "1e308")
    result = CliRunner().invoke(cli, ["validate", "--configs", str(VALID_FIXTURE)])
    assert result.exit_code == 1, result.output
    assert "FP_CONFIG_IMPORT_TIMEOUT='1e308' must be a positive number of seconds, at most 3600" in result.output
    assert "Traceback" not in result.output
    assert "OverflowError" not in result.output


def test_an_expression_nested_too_deep_is_refused_where_it_is_built(tmp_path: Path) -> None:
    """A loop chaining & 3000 times used to overflow the stack while sending the objects to the validator.
    The chain is built by the loop (a value built apart from the EventType call): it is blamed there."""
    source = """
from feature_platform.authoring import Column, EventType, Source, StreamOrigin, col, from_epoch_ms

events = Source(name="events", kind="events", stream=StreamOrigin(stream="e"), timestamp_column="ts_ms",
                columns=(Column("event_id", "string"), Column("user_id", "int64"), Column("ts_ms", "int64")))
condition = col("user_id") > 0
for i in range(3000):
    condition = condition & (col("user_id") != i)
click = EventType(name="click", source=events,
                  filter=condition,
                  fields={"event_id": col("event_id"), "user_id": col("user_id"),
                          "timestamp": from_epoch_ms(col("ts_ms"))})
"""
    package = write_package(tmp_path, "deep_configs", {"configs": source})
    (issue,) = compile_configs(package).issues
    lines = (package / "configs.py").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if "condition = condition &" in text)
    assert (issue.kind, issue.name, issue.line) == ("event type", "click", line)
    assert "holds an expression nested 3002 levels deep (at most 100)" in issue.message
    assert "Traceback" not in issue.message


def test_an_object_that_cannot_be_sent_to_the_validator_is_reported_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from feature_platform.authoring import Column, Source, StreamOrigin
    from feature_platform.compiler import discovery

    good = Source(name="good", kind="events", columns=(Column("ts", "int64"),), stream=StreamOrigin(stream="e"),
                  timestamp_column="ts")
    bad = good.model_copy(update={"name": "bad"})
    real_dumps = pickle.dumps

    def dumps(obj: object, *args: object, **kwargs: object) -> bytes:
        if getattr(obj, "name", None) == "bad":
            raise RecursionError("maximum recursion depth exceeded")
        return real_dumps(obj, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(discovery.pickle, "dumps", dumps)
    report = discovery._Report(objects=[(good, "m"), (bad, "m")])
    sent = discovery._restricted_loads(discovery._pickle_report(report))
    assert [o.name for o, _ in sent.objects] == ["good"]
    (issue,) = sent.issues
    assert issue.name == "bad"
    assert issue.message == "cannot be sent to the validator: RecursionError: maximum recursion depth exceeded"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("col('user_id') == 10**30", "integer literal 1000000000…(31 digits) is outside the 64-bit integer range"),
        ("col('user_id').is_in([1, 2**63])", "is_in() value 9223372036854775808 is outside the 64-bit integer range"),
        ("lit(-(2**63) - 1) < col('user_id')", "integer literal -9223372036854775809 is outside"),
    ],
)
def test_an_integer_literal_outside_int64_is_refused(expression: str, message: str, tmp_path: Path) -> None:
    """It used to pass validation and crash compile (orjson: Integer exceeds 64-bit range) with a traceback."""
    source = f"from feature_platform.authoring import col, lit\n\nX = {expression}\n"
    (issue,) = compile_configs(write_package(tmp_path, "big_ints", {"configs": source})).issues
    assert message in issue.message


def test_a_huge_version_or_plugin_parameter_is_refused_not_a_compile_crash(tmp_path: Path) -> None:
    source = _TYPO_BASE.replace("PLUGIN", "'dwell_bucketiser'").replace("PARAMS", "{'boundaries_ms': [1, 10**20]}")
    source = source.replace("EVENT_TYPE", "view").replace("FIELD", "'dwell_bucket'")
    source = source.replace("max_length=10,", "max_length=10, version=2**90,")
    issues = compile_configs(write_package(tmp_path, "big_params", {"configs": source})).issues
    messages = sorted(i.message for i in issues)
    assert "version must be between 1 and 2147483647, got 1237940039…(28 digits)" in messages
    assert any("hold the integer 100000000000000000000, outside the 64-bit range" in m for m in messages), messages
