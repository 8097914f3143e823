"""The valid fixture repo compiles to the artefacts its configs describe, value by value."""

from __future__ import annotations

import hashlib

import pytest

from feature_platform import __version__
from feature_platform.artefact import FORMAT_VERSION, Artefact, ColumnSpec, DType, parse_artefact
from feature_platform.compiler import CompileResult, compile_configs
from tests.compiler._helpers import VALID_FIXTURE


@pytest.fixture(scope="module")
def result() -> CompileResult:
    compiled = compile_configs(VALID_FIXTURE)
    assert compiled.ok, compiled.issues
    return compiled


@pytest.fixture(scope="module")
def activity(result: CompileResult) -> Artefact:
    return result.artefacts["recent_item_activity_v1"].artefact


@pytest.fixture(scope="module")
def searches(result: CompileResult) -> Artefact:
    return result.artefacts["recent_searches_v1"].artefact


def _columns(columns: tuple[ColumnSpec, ...]) -> list[tuple[str, DType, bool]]:
    return [(c.name, c.dtype, c.nullable) for c in columns]


def test_discovers_every_object_of_the_fixture(result: CompileResult) -> None:
    assert result.discovery is not None
    by_kind: dict[str, list[str]] = {}
    for item in result.discovery.objects:
        by_kind.setdefault(item.kind.key, []).append(item.obj.name)
    assert by_kind == {
        "enrichment": ["item_info", "platform_context"],
        "event_type": ["purchase", "search", "view"],
        "sequence_feature": ["recent_item_activity", "recent_searches"],
        "source": ["app_events", "item_features"],
    }


def test_one_artefact_per_sequence_feature(result: CompileResult) -> None:
    assert list(result.artefacts) == ["recent_item_activity_v1", "recent_searches_v1"]
    assert result.manifest is not None
    assert list(result.manifest.features) == ["recent_item_activity_v1", "recent_searches_v1"]


def test_each_artefact_carries_exactly_its_closure(activity: Artefact, searches: Artefact) -> None:
    assert list(activity.event_types) == ["purchase", "view"]
    assert list(activity.enrichments) == ["item_info", "platform_context"]
    assert list(activity.sources) == ["app_events", "item_features"]

    assert list(searches.event_types) == ["search"]
    assert list(searches.enrichments) == ["platform_context"]
    assert list(searches.sources) == ["app_events"]


def test_manifest_entries_describe_the_artefacts(result: CompileResult) -> None:
    assert result.manifest is not None
    entry = result.manifest.features["recent_searches_v1"]
    sealed = result.artefacts["recent_searches_v1"]

    assert entry.path == "features/recent_searches_v1.json"
    assert entry.content_hash == sealed.content_hash
    assert entry.config_hash == sealed.artefact.config_hash
    assert (entry.name, entry.version, entry.lifecycle) == ("recent_searches", 1, "staging")
    assert entry.owners == ("team-fixtures",)
    assert (entry.event_types, entry.enrichments, entry.sources) == (
        ("search",),
        ("platform_context",),
        ("app_events",),
    )
    assert result.manifest.format_version == FORMAT_VERSION
    assert result.manifest.compiler_version == __version__


def test_output_schema_of_a_sequence_element(activity: Artefact, searches: Artefact) -> None:
    # keys first, then the projection in the order the config lists it; a field only some event types
    # produce (dwell_bucket: views only) or that comes from an enrichment is nullable
    assert _columns(activity.feature.fields) == [
        ("event_id", DType.STRING, False),
        ("timestamp", DType.TIMESTAMP, False),
        ("event_type", DType.STRING, False),
        ("item_id", DType.INT64, True),
        ("item_category", DType.STRING, True),
        ("item_price", DType.FLOAT64, True),
        ("dwell_bucket", DType.INT32, True),
        ("is_mobile", DType.BOOL, True),
    ]
    assert _columns(searches.feature.fields) == [
        ("event_id", DType.STRING, False),
        ("timestamp", DType.TIMESTAMP, False),
        ("event_type", DType.STRING, False),
        ("query_norm", DType.STRING, True),
        ("query_tokens", DType.INT32, True),
        ("platform", DType.STRING, True),
        ("hour_of_day", DType.INT32, True),
    ]
    assert activity.feature.entity_key == ColumnSpec(name="user_id", dtype=DType.INT64, nullable=False)


def test_contract_values_of_the_features(activity: Artefact, searches: Artefact) -> None:
    feature = activity.feature
    assert feature.id == "recent_item_activity_v1"
    assert (feature.name, feature.version, feature.lifecycle) == ("recent_item_activity", 1, "production")
    assert feature.event_types == ("purchase", "view")
    assert feature.max_length == 200
    assert feature.retention_seconds == 30 * 24 * 3600
    assert feature.order == "recent_first"
    assert feature.dedup_by == ("event_id",)
    assert feature.serving_default_length == 50
    assert feature.tags == {"consumer": "fixture-ranker"}
    assert feature.freshness.streaming_max_lag_seconds == 300
    assert feature.freshness.batch_max_lag_seconds == 30 * 3600
    assert feature.freshness.batch_deadline_cron == "0 6 * * *"

    assert searches.feature.retention_seconds == 14 * 24 * 3600
    assert searches.feature.dedup_by == ("query_norm",)
    assert searches.feature.serving_default_length is None


def test_plugin_params_are_validated_with_defaults_filled_in(activity: Artefact, searches: Artefact) -> None:
    view = activity.event_types["view"].executor
    assert view is not None
    assert view.plugin == "dwell_bucketiser"
    assert view.params == {
        "input_field": "dwell_ms",
        "output_field": "dwell_bucket",
        "boundaries_ms": [500, 2000, 10000],
    }

    search = searches.event_types["search"].executor
    assert search is not None
    assert search.plugin == "query_normaliser"
    assert search.params == {
        "input_field": "query",
        "output_field": "query_norm",
        "token_count_field": "query_tokens",
        "max_chars": 128,
    }
    assert activity.event_types["purchase"].executor is None


def test_event_type_mapping_and_schema_after_plugin_and_enrichments(activity: Artefact) -> None:
    view = activity.event_types["view"]
    assert view.source == "app_events"
    assert view.enrichments == ("item_info", "platform_context")
    assert [(f.name, f.dtype) for f in view.fields] == [
        ("dwell_ms", DType.INT64),
        ("event_id", DType.STRING),
        ("item_id", DType.INT64),
        ("platform", DType.STRING),
        ("timestamp", DType.TIMESTAMP),
        ("user_id", DType.INT64),
    ]
    assert _columns(view.output_fields) == [
        ("dwell_bucket", DType.INT32, True),
        ("dwell_ms", DType.INT64, True),
        ("event_id", DType.STRING, False),
        ("event_type", DType.STRING, False),
        ("hour_of_day", DType.INT32, True),
        ("is_mobile", DType.BOOL, True),
        ("item_category", DType.STRING, True),
        ("item_id", DType.INT64, True),
        ("item_price", DType.FLOAT64, True),
        ("platform", DType.STRING, True),
        ("timestamp", DType.TIMESTAMP, False),
        ("user_id", DType.INT64, False),
    ]
    assert view.filter is not None
    assert view.filter.render() == "((col('action') == 'view') & is_not_null(col('item_id')))"


def test_enrichments_are_compiled_with_their_output_fields(activity: Artefact) -> None:
    lookup = activity.enrichments["item_info"]
    assert lookup.kind == "lookup"
    assert lookup.lifecycle == "production"
    assert lookup.lookup is not None
    assert (lookup.lookup.source, lookup.lookup.event_field) == ("item_features", "item_id")
    assert lookup.lookup.columns == {"item_category": "category", "item_price": "price"}
    assert [(c.name, c.dtype) for c in lookup.output_fields] == [
        ("item_category", DType.STRING),
        ("item_price", DType.FLOAT64),
    ]

    derived = activity.enrichments["platform_context"]
    assert derived.kind == "derived"
    assert derived.derived is not None
    assert [(f.name, f.dtype, f.expr.render()) for f in derived.derived] == [
        ("hour_of_day", DType.INT32, "ts_hour(col('timestamp'))"),
        ("is_mobile", DType.BOOL, "col('platform').is_in(['ios', 'android'])"),
    ]


def test_sources_carry_their_sorted_schema(activity: Artefact) -> None:
    events = activity.sources["app_events"]
    assert (events.kind, events.timestamp_column, events.key_column) == ("events", "ts_ms", None)
    assert [c.name for c in events.columns] == sorted(c.name for c in events.columns)
    assert events.batch is not None and events.batch.path == "app_events"
    assert events.stream is not None and events.stream.stream == "app_events"

    items = activity.sources["item_features"]
    assert (items.kind, items.key_column, items.stream) == ("lookup", "item_id", None)
    assert _columns(items.columns) == [
        ("category", DType.STRING, True),
        ("item_id", DType.INT64, False),
        ("price", DType.FLOAT64, True),
    ]


def test_artefacts_are_sealed_and_load_back(result: CompileResult) -> None:
    for feature_id, sealed in result.artefacts.items():
        loaded = parse_artefact(sealed.data, expected_hash=sealed.content_hash, origin=feature_id)
        assert loaded == sealed.artefact
        assert loaded.content_hash == sealed.content_hash
        assert loaded.format_version == FORMAT_VERSION
        assert loaded.compiler_version == __version__
        assert sealed.data.endswith(b"}\n")


def test_config_hash_ignores_the_compiler_version(result: CompileResult) -> None:
    """The config hash keys "did this definition change"; a compiler upgrade alone must not move it."""
    from feature_platform.compiler.build import config_hash

    artefact = result.artefacts["recent_searches_v1"].artefact
    bumped = artefact.model_copy(update={"compiler_version": "99.0.0", "content_hash": None})
    assert config_hash(bumped) == artefact.config_hash
    assert len(artefact.config_hash) == len(hashlib.sha256().hexdigest())
    changed = artefact.model_copy(update={"feature": artefact.feature.model_copy(update={"max_length": 49})})
    assert config_hash(changed) != artefact.config_hash
