"""Config objects: closed, frozen, strict models that remember their definition site and refuse code."""

from __future__ import annotations

import inspect
from datetime import timedelta
from pathlib import Path

import pytest

from feature_platform.authoring import (
    Column,
    EventType,
    Freshness,
    Lifecycle,
    PluginCall,
    SequenceFeature,
    Source,
    StreamOrigin,
    col,
    from_epoch_ms,
)
from feature_platform.authoring._base import ConfigObjectError
from feature_platform.errors import ConfigDefinitionError, FeaturePlatformError

FRESHNESS = Freshness(streaming_max_lag=timedelta(minutes=5), batch_max_lag=timedelta(hours=1))
MAPPING = {"event_id": col("event_id"), "user_id": col("user_id"), "timestamp": from_epoch_ms(col("ts_ms"))}


def _sequence(**overrides: object) -> SequenceFeature:
    fields: dict[str, object] = {
        "name": "recent",
        "event_types": ("click",),
        "max_length": 10,
        "retention": timedelta(days=1),
        "fields": (),
        "freshness": FRESHNESS,
    }
    return SequenceFeature(**{**fields, **overrides})  # type: ignore[arg-type]


def test_an_object_remembers_the_line_that_built_it() -> None:
    line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    source = Source(
        name="events",
        kind="events",
        columns=(Column("event_id", "string"),),
        stream=StreamOrigin(stream="events"),
        timestamp_column="event_id",
    )

    assert source.defined_at.line == line
    assert Path(source.defined_at.file).resolve() == Path(__file__).resolve()
    assert str(source.defined_at) == f"{source.defined_at.file}:{line}"


def test_references_accept_an_object_or_its_name() -> None:
    events = Source(name="events", kind="events", columns=(), stream=StreamOrigin(stream="e"))

    by_object = EventType(name="click", source=events, fields=MAPPING)
    by_name = EventType(name="click", source="events", fields=MAPPING)

    assert by_object.source == by_name.source == "events"


def test_objects_are_frozen_and_say_so_in_one_line() -> None:
    sequence = _sequence()
    with pytest.raises(ConfigDefinitionError) as caught:
        sequence.max_length = 20  # type: ignore[misc]
    assert str(caught.value) == ("config objects are frozen: build a new one (e.g. SequenceFeature(...)) instead "
                                 "of assigning max_length")
    with pytest.raises(ConfigDefinitionError, match="instead of assigning batch_max_lag"):
        FRESHNESS.batch_max_lag = timedelta(hours=2)  # type: ignore[misc]
    with pytest.raises(ConfigDefinitionError, match="instead of deleting fields"):
        del sequence.fields
    assert sequence.max_length == 10


def test_a_lambda_is_refused_with_the_config_executor_boundary_explained() -> None:
    line = inspect.currentframe().f_lineno + 2  # type: ignore[union-attr]
    with pytest.raises(ConfigObjectError) as caught:
        EventType(name="click", source="events", filter=lambda row: row["action"] == "click", fields=MAPPING)

    error = caught.value
    assert (error.kind, error.name, error.site.line) == ("event type", "click", line)
    assert "field 'filter' holds a Python callable" in error.problem
    assert "executor plugin" in error.problem
    assert str(error).startswith(f"event type 'click' ({error.site}): ")
    assert isinstance(error, ConfigDefinitionError)
    assert isinstance(error, FeaturePlatformError)


@pytest.mark.parametrize(
    ("where", "value", "complaint"),
    [
        ("fields", {**MAPPING, "bad": print}, "field 'fields.bad' holds a Python callable"),
        ("fields", {**MAPPING, "bad": {1, 2}}, "arbitrary Python object of type set"),
        ("enrichments", (Path("item_embedding"),), "field 'enrichments[0]' holds an arbitrary Python object"),
        ("description", type("Helper", (), {})(), "arbitrary Python object of type Helper"),
    ],
    ids=["builtin_function", "set", "path_in_tuple", "instance"],
)
def test_arbitrary_objects_are_refused_naming_where_they_sit(
    where: str, value: object, complaint: str
) -> None:
    arguments: dict[str, object] = {"name": "click", "source": "events", "fields": MAPPING, where: value}

    with pytest.raises(ConfigObjectError) as caught:
        EventType(**arguments)  # type: ignore[arg-type]

    assert complaint in caught.value.problem
    assert "executor plugin" in caught.value.problem


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"max_length": "10"}, "max_length: Input should be a valid integer"),
        ({"max_lenght": 10}, "unknown parameter 'max_lenght'; did you mean 'max_length'?"),
        ({"lifecycle": "prod"}, "lifecycle: 'prod' is not one of 'experimental', 'staging', 'production'"),
        ({"event_types": "click"}, "a one-element tuple needs a trailing comma: ('click',)"),
        ({"name": 7}, "name: Input should be a valid string"),
    ],
    ids=["string_for_int", "typo_key", "unknown_lifecycle", "string_for_tuple", "int_name"],
)
def test_schema_errors_name_the_object_and_the_field(overrides: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigObjectError) as caught:
        _sequence(**overrides)

    assert caught.value.kind == "sequence feature"
    assert complaint in caught.value.problem


def test_a_missing_required_field_is_named() -> None:
    with pytest.raises(ConfigObjectError, match="max_length: Field required"):
        SequenceFeature(
            name="recent", event_types=("click",), retention=timedelta(days=1), fields=(), freshness=FRESHNESS
        )  # type: ignore[call-arg]


def test_plugin_calls_take_json_parameters_only() -> None:
    assert PluginCall(plugin="dwell_bucketiser", params={"boundaries_ms": [1, 2]}).params == {
        "boundaries_ms": [1, 2]
    }
    with pytest.raises(ConfigDefinitionError, match=r"params\.fn: input was not a valid JSON value"):
        PluginCall(plugin="dwell_bucketiser", params={"fn": lambda x: x})


def test_columns_accept_positional_name_and_type() -> None:
    column = Column("user_id", "int64", nullable=False)
    assert (column.name, column.dtype, column.nullable) == ("user_id", "int64", False)


def test_feature_id_includes_the_version() -> None:
    assert _sequence(version=3, lifecycle=Lifecycle.STAGING).feature_id == "recent_v3"


def test_a_misspelt_keyword_is_not_also_reported_as_a_missing_field() -> None:
    """`max_lenght=10`: one error (the typo, with "did you mean"), not also "max_length: Field required"."""
    with pytest.raises(ConfigObjectError) as caught:
        SequenceFeature(name="recent", event_types=("click",), max_lenght=10, retention=timedelta(days=1),  # type: ignore[call-arg]
                        fields=(), freshness=FRESHNESS)
    assert "Field required" not in caught.value.problem, caught.value.problem
    assert caught.value.problem == "unknown parameter 'max_lenght'; did you mean 'max_length'?"


@pytest.mark.parametrize(
    ("call", "wrong"),
    [
        ('Column(\n    "ts",\n    "int64",\n    nulable=False,\n)', 'nulable=False'),
        ('StreamOrigin(\n    stream="events",\n    strem="x",\n)', 'strem="x"'),
        ('Freshness(\n    streaming_max_lag=timedelta(minutes=5),\n    batch_max_lag=90,\n)', "batch_max_lag=90"),
    ],
)
def test_a_value_model_blames_the_wrong_arguments_line_like_a_config_object(
    call: str, wrong: str, tmp_path: Path
) -> None:
    """Issue 12: Freshness(...), Column(...) and the other small models point at the argument, not their "(" line."""
    from feature_platform.compiler import compile_configs
    from tests.compiler._helpers import write_package

    source = (
        "from datetime import timedelta\n\n"
        "from feature_platform.authoring import Column, Freshness, StreamOrigin\n\n"
        f"VALUE = {call}\n"
    )
    package = write_package(tmp_path, "value_models", {"configs": source})
    (issue,) = compile_configs(package).issues
    lines = (package / "configs.py").read_text().splitlines()
    assert wrong in lines[issue.line - 1], (issue.line, issue.message)


def test_model_copy_and_model_construct_validate_like_the_constructor() -> None:
    """pydantic's versions skip validation: a misspelt key would vanish, a wrong type reach the compiler."""
    sequence = _sequence()
    line = inspect.currentframe().f_lineno + 2  # type: ignore[union-attr]
    with pytest.raises(ConfigObjectError) as caught:
        sequence.model_copy(update={"name": "short", "max_lenght": 5})
    assert caught.value.problem == "unknown parameter 'max_lenght'; did you mean 'max_length'?"
    assert (caught.value.name, caught.value.site.line) == ("short", line)
    with pytest.raises(ConfigObjectError, match="retention: a bare number"):
        sequence.model_copy(update={"retention": 90})
    with pytest.raises(ConfigDefinitionError, match="batch_max_lag: a bare number"):
        FRESHNESS.model_copy(update={"batch_max_lag": 3600})
    with pytest.raises(ConfigObjectError, match="retention: a bare number"):
        SequenceFeature.model_construct(name="raw", event_types=("click",), max_length=10, retention=90,
                                        fields=(), freshness=FRESHNESS)
    with pytest.raises(ConfigDefinitionError, match="dtype: 'int63' is not one of"):
        Column.model_construct(name="x", dtype="int63")

    short = sequence.model_copy(update={"name": "short", "max_length": 5}, deep=True)
    assert (short.name, short.max_length, short.event_types, short.freshness) == ("short", 5, ("click",), FRESHNESS)
    assert short.defined_at.line == inspect.currentframe().f_lineno - 2  # type: ignore[union-attr]
    built = SequenceFeature.model_construct(name="raw", event_types=("click",), max_length=10,
                                            retention=timedelta(days=1), fields=(), freshness=FRESHNESS)
    assert built.model_dump() == _sequence(name="raw").model_dump()


@pytest.mark.parametrize(
    ("value", "got"),
    [({"click", "view"}, "a set"), (frozenset({"click"}), "a set"), ((e for e in ("click",)), "a generator"),
     ({"click": 1}.keys(), "a dict view"), (iter(("click",)), "an iterator"), (map(str, ("click",)), "an iterator")],
)
def test_an_unordered_collection_where_a_tuple_is_expected_is_named_without_its_repr(value: object, got: str) -> None:
    with pytest.raises(ConfigObjectError) as caught:
        _sequence(event_types=value)
    problem = caught.value.problem
    assert problem.startswith(f"field 'event_types': expected a tuple, got {got}; {got} has no fixed order (")
    assert problem.endswith("write the values out as a tuple, (a, b, ...)")
    assert " at 0x" not in problem and "click" not in problem and "declarative" not in problem
