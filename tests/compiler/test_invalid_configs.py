"""The invalid-config corpus: every way a config can be wrong is reported precisely, and all at once.

Each package under ``tests/fixtures/invalid/`` is broken in one way (``bad_import_failures``,
``bad_syntax_error`` and ``bad_many_errors`` hold several independent errors on purpose). For each one
the compiler must report exactly the listed issues, each with the config object's kind and name, its
file, the line of its constructor call (the line marked ``# <- error`` in the fixture) and a message
that says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from feature_platform.compiler import ValidationIssue, compile_configs, render_issues
from tests.compiler._helpers import INVALID, REPO_ROOT, marker_line


@dataclass(frozen=True)
class Expected:
    """One issue the compiler must report for a fixture package."""

    file: str
    kind: str
    name: str
    message: tuple[str, ...]
    marker: str = "# <- error"
    hint: str = ""


def _e(
    file: str, kind: str, name: str, *message: str, marker: str = "# <- error", hint: str = ""
) -> Expected:
    return Expected(file=file, kind=kind, name=name, message=message, marker=marker, hint=hint)


CASES: dict[str, list[Expected]] = {
    # cross-references
    "bad_unknown_event_type": [
        _e("configs.py", "sequence feature", "recent_clicks", "unknown event type 'clickz' (known: click)"),
    ],
    "bad_unknown_enrichment": [
        _e("configs.py", "event type", "click", "unknown enrichment 'item_embedding'"),
    ],
    "bad_unknown_source": [
        _e("configs.py", "event type", "click", "unknown source 'click_events' (known: events)"),
    ],
    "bad_unknown_field_in_filter": [
        _e(
            "configs.py",
            "event type",
            "click",
            "filter: unknown field 'acton' (available: action, event_id, ts_ms, user_id); did you mean 'action'?",
        ),
    ],
    "bad_unknown_field_in_mapping": [
        _e(
            "configs.py",
            "event type",
            "click",
            "field 'item_id': unknown field 'item_id' (available: event_id, pin_id, ts_ms, user_id)",
        ),
    ],
    "bad_unknown_lookup_column": [
        _e(
            "configs.py",
            "enrichment",
            "item_category",
            "unknown field(s) brand in lookup source 'items' (available: category, item_id)",
        ),
    ],
    "bad_unknown_lookup_column_used": [
        _e(
            "configs.py",
            "enrichment",
            "item_info",
            "unknown field(s) categroy in lookup source 'items' (available: category, item_id); "
            "did you mean 'category'?",
        ),
    ],
    "bad_unknown_plugin": [
        _e(
            "configs.py",
            "event type",
            "click",
            "unknown plugin 'dwell_bucketizer' (known: dwell_bucketiser, query_normaliser)",
        ),
    ],
    "bad_duplicate_name": [
        _e(
            "clicks.py",
            "source",
            "events",
            "duplicate source name 'events': also defined at",
            "bad_duplicate_name/app.py:3",
            hint="rename one of them",
        ),
    ],
    # expressions that do not type-check
    "bad_compare_string_to_number": [
        _e(
            "configs.py",
            "event type",
            "click",
            "filter: cannot compare string field 'action' with int64 literal 3 in (col('action') == 3)",
        ),
    ],
    "bad_arithmetic_on_string": [
        _e(
            "configs.py",
            "event type",
            "click",
            "field 'rank': arithmetic 'add' on string field 'position'",
            "use concat() to join strings",
        ),
    ],
    "bad_non_boolean_filter": [
        _e(
            "configs.py",
            "event type",
            "click",
            "filter must be boolean, but (col('dwell_ms') - 500) is int64",
        ),
    ],
    # plugin parameters checked against the plugin's model
    "bad_plugin_decreasing_boundaries": [
        _e(
            "configs.py",
            "event type",
            "click",
            "parameters for plugin 'dwell_bucketiser' do not fit its model: boundaries_ms",
            "strictly increasing, got [5000, 1000, 60000]",
            hint="DwellBucketParams",
        ),
    ],
    "bad_plugin_unknown_param": [
        _e(
            "configs.py",
            "enrichment",
            "query_norm",
            "parameters for plugin 'query_normaliser' do not fit its model: unknown parameter 'lowercase'",
        ),
    ],
    # ranges and invariants
    "bad_max_length_zero": [
        _e(
            "configs.py", "sequence feature", "recent_clicks", "max_length must be between 1 and 10000, got 0"
        ),
    ],
    "bad_max_length_too_large": [
        _e(
            "configs.py",
            "sequence feature",
            "recent_clicks",
            "max_length must be between 1 and 10000, got 100000",
        ),
    ],
    "bad_retention_negative": [
        _e("configs.py", "sequence feature", "recent_clicks", "retention must be positive", "got -30 days"),
    ],
    "bad_retention_fraction": [
        _e("configs.py", "sequence feature", "recent_clicks", "retention must be a whole number of seconds",
           "got 2592000.000001 s"),
    ],
    "bad_retention_too_long": [
        _e("configs.py", "sequence feature", "recent_clicks", "at most 1095 days, got 1460 days"),
    ],
    "bad_freshness_lag_exceeds_retention": [
        _e(
            "configs.py",
            "sequence feature",
            "recent_clicks",
            "freshness.batch_max_lag (1 day, 6:00:00) exceeds retention (1 day, 0:00:00)",
        ),
    ],
    "bad_freshness_nonpositive_lag": [
        _e("configs.py", "sequence feature", "recent_clicks", "freshness.streaming_max_lag must be positive"),
    ],
    "bad_event_type_listed_twice": [
        _e("configs.py", "sequence feature", "recent_clicks", "event type(s) listed twice: click"),
    ],
    # lifecycle rules
    "bad_lifecycle_experimental_enrichment": [
        _e(
            "configs.py",
            "sequence feature",
            "recent_clicks",
            "lifecycle violation: a production sequence uses experimental enrichment "
            "(via event type 'click') 'hour_of_day'",
            hint="promote 'hour_of_day'",
        ),
    ],
    "bad_lifecycle_experimental_event_type": [
        _e(
            "configs.py",
            "sequence feature",
            "recent_clicks",
            "lifecycle violation: a production sequence uses experimental event type 'click'",
        ),
    ],
    "bad_lifecycle_deprecated_event_type": [
        _e(
            "configs.py",
            "sequence feature",
            "recent_clicks",
            "lifecycle violation: a staging sequence uses deprecated event type 'click'",
        ),
    ],
    # projection
    "bad_projected_field_missing": [
        _e(
            "configs.py",
            "sequence feature",
            "recent_clicks",
            "projected field 'dwell_bucket' is produced by none of its event types (click)",
            hint="drop it from fields",
        ),
    ],
    # the config / executor boundary
    "bad_lambda_in_definition": [
        _e(
            "configs.py",
            "event type",
            "click",
            "field 'filter' holds a Python callable",
            "Configs are declarative",
            "belongs in an executor plugin",
        ),
    ],
    "bad_arbitrary_object": [
        _e(
            "configs.py",
            "event type",
            "click",
            "field 'fields.launch_day' holds an arbitrary Python object of type datetime",
            "belongs in an executor plugin",
        ),
    ],
    "bad_base_class_enrichment": [
        _e(
            "configs.py",
            "enrichment",
            "item_embedding",
            "Enrichment is a base class: build a LookupEnrichment, DerivedEnrichment or PluginEnrichment",
        ),
    ],
    # modules that do not import; the other modules are still validated
    "bad_import_failures": [
        _e(
            "missing_module.py",
            "module",
            "bad_import_failures.missing_module",
            "failed to import: ModuleNotFoundError: No module named 'does_not_exist'",
        ),
        _e(
            "name_error.py",
            "module",
            "bad_import_failures.name_error",
            "failed to import: NameError: name 'standard_columns' is not defined",
        ),
        _e("sequences.py", "sequence feature", "recent_orders", "unknown event type 'order'"),
    ],
    "bad_syntax_error": [
        _e("broken.py", "module", "bad_syntax_error.broken", "failed to import: SyntaxError"),
        _e("sources.py", "source", "items", "a lookup source needs key_column"),
    ],
    # several errors across two files: all of them in one run
    "bad_many_errors": [
        _e(
            "event_types.py",
            "event type",
            "click",
            "cannot compare string field 'action' with int64 literal 1",
            marker="# <- error: click",
        ),
        _e(
            "event_types.py",
            "event type",
            "view",
            "unknown enrichment 'item_vector'",
            marker="# <- error: view",
        ),
        _e(
            "event_types.py",
            "event type",
            "search",
            "unknown plugin 'query_normalizer'",
            marker="# <- error: search",
        ),
        _e(
            "sequences.py",
            "sequence feature",
            "recent_clicks",
            "max_length must be between 1 and 10000, got 0",
            marker="# <- error: recent_clicks",
        ),
        _e(
            "sequences.py",
            "sequence feature",
            "recent_views",
            "at most 1095 days, got 1825 days",
            marker="# <- error: recent_views",
        ),
        _e(
            "sequences.py",
            "sequence feature",
            "recent_actions",
            "unknown event type 'purchase'",
            marker="# <- error: recent_actions",
        ),
    ],
    # issue 12: import-time behaviour that must never read as "valid"
    "bad_import_sys_exit": [
        _e("exits.py", "module", "bad_import_sys_exit.exits", "called sys.exit(0) while being imported"),
    ],
    "bad_import_hangs": [
        _e("hangs.py", "module", "bad_import_hangs.hangs", "did not finish importing within 1 s"),
    ],
    "bad_empty_package": [
        _e("__init__.py", "package", "bad_empty_package", "no config objects found"),
    ],
    "bad_no_sequence_feature": [
        _e("__init__.py", "package", "bad_no_sequence_feature", "no SequenceFeature defined: nothing to compile"),
    ],
    "bad_freshness_keyword_typo": [
        _e("configs.py", "module", "bad_freshness_keyword_typo.configs",
           "Freshness(...): unknown parameter 'batch_max_lag_typo'; did you mean 'batch_max_lag'?"),
    ],
    "bad_import_broken_helper": [
        _e("_shared.py", "module", "bad_import_broken_helper._shared", "unknown parameter 'nulable'",
           "did you mean 'nullable'?", hint="importing it were not validated either"),
    ],
    "bad_monkeypatched_limits": [
        _e("configs.py", "sequence feature", "recent_clicks",
           "max_length must be between 1 and 10000, got 100000"),
    ],
    "bad_plugin_from_config": [
        _e("configs.py", "plugin", "shortcut", "plugins come only from the platform's code"),
    ],
    "bad_unreachable_object": [
        _e("configs.py", "sequence feature", "recent_clicks", "is defined but not reachable"),
    ],
    # issue 12: values validation accepted but the runtimes would not (or a reader would call wrong)
    "bad_name_trailing_newline": [
        _e("configs.py", "sequence feature", "recent_clicks\\n", "name 'recent_clicks\\n' must be snake_case"),
    ],
    "bad_cron_out_of_range": [
        _e("configs.py", "sequence feature", "recent_clicks", "'61 25 * * *' is not a valid cron",
           "minute '61' is out of range (0-59)"),
    ],
    "bad_production_without_owners": [
        _e("configs.py", "sequence feature", "recent_clicks", "a production sequence feature needs at least one owner"),
    ],
    "bad_freshness_sub_second": [
        _e("configs.py", "sequence feature", "recent_clicks", "streaming_max_lag must be a whole number of seconds",
           "got 0.5 s"),
    ],
    "bad_batch_lag_below_cadence": [
        _e("configs.py", "sequence feature", "recent_clicks",
           "batch_max_lag (1 hours) is shorter than the batch cadence"),
    ],
    "bad_timestamp_from_non_time_field": [
        _e("configs.py", "event type", "click", "field 'timestamp' must be computed from the source's timestamp_column "
           "'ts_ms', but reads dwell_ms"),
    ],
    "bad_source_path_dotdot": [
        _e("configs.py", "source", "events", "batch.path '../../secrets/events' must not contain '..'"),
    ],
    "bad_output_field_name": [
        _e("configs.py", "enrichment", "hour", "output field name '../hour' must be snake_case"),
    ],
    "bad_versioned_name": [
        _e("configs.py", "sequence feature", "recent_clicks_v2", "ends in a version suffix", "'recent_clicks_v2_v2'"),
    ],
    "bad_plugin_param_bool": [
        _e("configs.py", "event type", "click", "do not fit its model: max_chars: Input should be a valid integer",
           "(got true)"),
    ],
    # issue 12: "did you mean" for a misspelt enum member or dtype; `and` on expressions reported once
    "bad_enum_member_typo": [
        _e("configs.py", "module", "bad_enum_member_typo.configs",
           "Lifecycle has no member 'PRODUCTON'; did you mean 'PRODUCTION'?"),
    ],
    "bad_dtype_typo": [
        _e("configs.py", "module", "bad_dtype_typo.configs", "dtype: 'strng' is not one of", "did you mean 'string'?"),
    ],
    "bad_and_on_expressions": [
        _e("_shared.py", "module", "bad_and_on_expressions._shared", "use the operators & | ~ instead of and/or/not",
           hint="raised when bad_and_on_expressions.clicks, bad_and_on_expressions.views call(s) this code, so the "
                "objects defined there were not validated; module(s) importing it were not validated either: "
                "bad_and_on_expressions.sequences"),
    ],
    "bad_timestamp_column_typo": [
        _e("configs.py", "source", "events", "'ts_msec' is not one of its columns (event_id, user_id, ts_ms); "
           "did you mean 'ts_ms'?"),
    ],
    "bad_enrichment_listed_twice": [
        _e("configs.py", "event type", "click", "enrichment(s) listed twice: hour",
           hint="each enrichment applies once"),
    ],
    "bad_lookup_over_events_source": [
        _e("configs.py", "enrichment", "item_user",
           "source 'events' is an events source; a lookup needs kind='lookup'"),
    ],
    "bad_partition_key_path": [
        _e("configs.py", "source", "events", "batch.partition_key 'd/t' must be a column name"),
    ],
    "bad_expression_too_deep": [
        _e("configs.py", "event type", "click",
           "field 'filter' holds an expression nested 202 levels deep (at most 100)", ".is_in([...])"),
    ],
    "bad_retention_bare_number": [
        _e("configs.py", "sequence feature", "recent_clicks", "a bare number (90) would be read as 90 seconds",
           "timedelta(days=90)"),
    ],
    # issue 12: a value a shared helper builds is wrong once, where it is built, whoever uses it
    "bad_shared_helper_plugin_params": [
        _e("_shared.py", "event type", "search", "parameters for plugin 'query_normaliser' do not fit its model: "
           "max_chars: Input should be a valid integer (got true)",
           hint="the value is built here and used by event type 'search' at "),
    ],
    "bad_shared_helper_freshness": [
        _e("_shared.py", "sequence feature", "clicks_history", "freshness.streaming_max_lag must be a whole number "
           "of seconds (at least 1 s), got 0.5 s", hint="and 1 more use (sequence feature 'recent_clicks' at "),
    ],
    # issue 12: a shared module that blocks costs one timeout and is reported once; os._exit() is blamed
    # at its line; a precedence slip gets its own hint
    "bad_import_hangs_shared": [
        _e("_lookup.py", "module", "bad_import_hangs_shared._lookup", "did not finish importing within 1 s",
           hint="module(s) importing it were not validated either: bad_import_hangs_shared.clicks, "
                "bad_import_hangs_shared.views; 2 follow-on error(s)"),
    ],
    "bad_import_os_exit": [
        _e("configs.py", "module", "bad_import_os_exit.configs", "ended the import process: it called os._exit() "
           "here (exit code 3)"),
    ],
    "bad_precedence_and_compare": [
        _e("configs.py", "module", "bad_precedence_and_compare.configs", "`&` binds tighter than `==`",
           'write (col("action") == "click") & (col("surface") == "home")'),
    ],
    # issue 12 review: owners as Dagster accepts them (else the code location would not load)
    "bad_owner_not_email": [
        _e("configs.py", "sequence feature", "recent_clicks",
           "owner 'alice@' is neither an email address (name@domain.tld) nor a team name",
           hint="Dagster refuses it, so the code location would not load"),
    ],
    "bad_owner_empty_team": [
        _e("configs.py", "sequence feature", "recent_clicks", "owner 'team:' has an empty team name after 'team:'"),
    ],
    "bad_mutate_frozen_object": [
        _e("configs.py", "module", "bad_mutate_frozen_object.configs",
           "config objects are frozen: build a new one (e.g. SequenceFeature(...)) instead of assigning max_length"),
    ],
    "bad_tag_key_trailing_newline": [
        _e("configs.py", "sequence feature", "recent_clicks",
           "tag key 'consumer\\n' must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"),
    ],
    "bad_tag_value_control_character": [
        _e("configs.py", "sequence feature", "recent_clicks",
           "tag value 'ranker\\x00' (of tag 'consumer') must be at most 200 printable characters"),
    ],
    "bad_model_copy_typo": [
        _e("configs.py", "sequence feature", "recent_clicks_short",
           "unknown parameter 'max_lenght'; did you mean 'max_length'?"),
    ],
    "bad_model_construct_wrong_type": [
        _e("configs.py", "sequence feature", "recent_clicks_raw", "retention: a bare number (30) would be read as 30 "
           "seconds"),
    ],
    "bad_generator_event_types": [
        _e("configs.py", "sequence feature", "recent_clicks",
           "field 'event_types': expected a tuple, got a generator; a generator has no fixed order (it is used up "
           "once read): write the values out as a tuple, (a, b, ...)"),
    ],
    "bad_set_of_fields": [
        _e("configs.py", "sequence feature", "recent_clicks",
           "field 'fields': expected a tuple, got a set; a set has no fixed order (its order can change from run to "
           "run): write the values out as a tuple, (a, b, ...)"),
    ],
    # issue 12 review: is_in() takes an ordered list only
    "bad_is_in_set": [
        _e("configs.py", "module", "bad_is_in_set.configs", "is_in() takes a list of values, got a set",
           "no fixed order"),
    ],
    "bad_is_in_string": [
        _e("configs.py", "module", "bad_is_in_string.configs",
           "is_in() takes a list of values, got the string 'home'; did you mean ['home']?"),
    ],
    # issue 12: an event type's own errors are not hidden behind its source's, and follow-ons are counted
    "bad_event_type_behind_invalid_source": [
        _e("configs.py", "source", "events", "batch.path '../shared/events' must not contain '..'",
           marker="# <- error: events"),
        _e("configs.py", "event type", "click", "field 'item_id': unknown field 'item_id'",
           marker="# <- error: click"),
    ],
    "bad_source_follow_ons_counted": [
        _e("configs.py", "source", "events", "duplicate column(s): ts_ms",
           hint="1 follow-on error suppressed (in event type 'click'): it may only follow from this one"),
    ],
    # issue 12 (cfg12c): blame the wrong line once, however the value reaches its users
    "bad_helper_chain_three_levels": [
        _e("_more.py", "sequence feature", "clicks_history", "freshness.streaming_max_lag must be a whole number "
           "of seconds", hint="and 1 more use (sequence feature 'recent_clicks' at "),
    ],
    "bad_factory_function": [
        _e("_factory.py", "sequence feature", "more_clicks", "max_length must be between 1 and 10000, got 0",
           hint="this line is wrong for 2 objects (sequence feature 'more_clicks' at "),
    ],
    "bad_model_copy_bad_value": [
        _e("configs.py", "sequence feature", "archived_clicks", "retention must be positive and at most 1095 days, "
           "got 5000 days"),
    ],
    "bad_model_copy_inherited_value": [
        _e("configs.py", "sequence feature", "recent_clicks", "projected field 'dwell_ms' is produced by none",
           hint="this line is wrong for 2 objects"),
    ],
    "bad_is_in_mixed_shared_enrichment": [
        _e("configs.py", "enrichment", "platform_bucket", "field 'is_mobile' (in event types 'click', 'save', "
           "'view', after mapping and earlier enrichments): is_in value 1 cannot match string field 'platform'"),
    ],
    "bad_is_in_mixed_helper_filter": [
        _e("_shared.py", "event type", "click", "filter: is_in value 1 cannot match string field 'platform'",
           hint="and 1 more use (event type 'view' at "),
        _e("configs.py", "event type", "save", "cannot compare string field 'platform' with int64 literal 3",
           marker="# <- error: save"),
    ],
    "bad_nested_set_of_fields": [
        _e("configs.py", "sequence feature", "recent_clicks",
           "field 'fields[0]' holds a set; a set has no fixed order (its order can change from run to run): write "
           "the values out as a tuple, (a, b, ...)"),
    ],
    "bad_is_in_nested_set": [
        _e("configs.py", "module", "bad_is_in_nested_set.configs",
           "is_in() takes a flat list of literal values, got a set inside the list"),
    ],
    "bad_set_of_event_types": [
        _e("configs.py", "module", "bad_set_of_event_types.configs", "unhashable type",
           "write a tuple (a, b) instead"),
    ],
    # issue 12 (cfg12c corpus): classic Python slips said in the author's words, at the line written
    "bad_one_element_tuple_of_objects": [
        _e("configs.py", "sequence feature", "recent_a", "field 'event_types': expected a tuple, got one EventType "
           "'click'; a one-element tuple needs a trailing comma: (click,)"),
    ],
    "bad_in_list_membership": [
        _e("configs.py", "module", "bad_in_list_membership.configs", '`col("action") in ["click", "tap"]` asks '
           'Python, not the data: write col("action").is_in([...])'),
    ],
    "bad_compare_with_none": [
        _e("configs.py", "module", "bad_compare_with_none.configs", "`== None` compares with null, which is never "
           "true", "write col('action').is_null()"),
    ],
    "bad_method_not_called": [
        _e("configs.py", "event type", "click", "field 'fields.q' holds a Python callable (.str.lower without its "
           "parentheses: call it, .str.lower())"),
    ],
    "bad_when_without_otherwise": [
        _e("configs.py", "event type", "click", "field 'fields.x' holds an unfinished when(...).then(...): end it "
           "with .otherwise(value)"),
    ],
    "bad_missing_str_accessor": [
        _e("configs.py", "module", "bad_missing_str_accessor.configs", "has no attribute 'startswith'; did you mean "
           ".str.starts_with()?"),
    ],
    "bad_len_on_expression": [
        _e("configs.py", "module", "bad_len_on_expression.configs", "len(col('query')) asks Python, not the data: "
           "use col('query').str.len()"),
    ],
    "bad_max_on_expressions": [
        _e("configs.py", "module", "bad_max_on_expressions.configs", "max() compares in Python, not over the data",
           "when(a > b).then(a).otherwise(b)"),
    ],
    "bad_python_bool_filter": [
        _e("configs.py", "event type", "click", "filter: the Python value True is not an expression",
           "leave filter out to keep every row"),
    ],
    "bad_dt_on_integer_field": [
        _e("configs.py", "event type", "click", "field 'hour': .dt.hour() needs a timestamp, got int64 field 'ts_ms'",
           "from_epoch_ms(...)"),
    ],
    "bad_projected_field_listed_twice": [
        _e("configs.py", "sequence feature", "recent_a", "projected field 'item_id' is listed twice"),
    ],
    "bad_lifecycle_abbreviated": [
        _e("configs.py", "sequence feature", "recent_a", "lifecycle: 'prod' is not one of", "did you mean "
           "'production'?"),
    ],
    "bad_column_python_type": [
        _e("configs.py", "module", "bad_column_python_type.configs", "dtype: the Python type int is not one of",
           "did you mean 'int64'?"),
    ],
    "bad_unknown_event_type_in_tuple": [
        _e("configs.py", "sequence feature", "recent_a", "unknown event type 'clik' (known: click); did you mean "
           "'click'?"),
    ],
    "bad_kwargs_from_helper": [
        _e("_shared.py", "sequence feature", "more_clicks", "max_length must be between 1 and 10000, got 0",
           hint="and 1 more use (sequence feature 'recent_clicks' at "),
    ],
    "bad_filter_is_in_empty": [
        _e("configs.py", "event type", "click", "filter can never be true: is_in([]) matches no value"),
    ],
    "bad_rebound_name": [
        _e("configs.py", "sequence feature", "recent_a", "is lost: it is assigned to 'recent_a', and line 36 assigns "
           "that name again", hint="give each config object its own name"),
    ],
    "bad_name_non_ascii": [
        _e("configs.py", "sequence feature", "récent_a", "name 'récent_a' must be snake_case"),
    ],
    "bad_module_file_name_with_dot": [
        _e("feats.v2.py", "module", "bad_module_file_name_with_dot.feats.v2", "'feats.v2.py' cannot be imported: a "
           "dot in a module's file name reads as a package separator", hint="rename it to feats_v2.py"),
    ],
    "bad_lookup_key_type_several_event_types": [
        _e("configs.py", "enrichment", "cat", "joins int64 field 'item_id' of event types 'click', 'save', 'view' "
           "with string key 'item_id' of 'items'"),
    ],
    "bad_column_as_tuple": [
        _e("configs.py", "source", "other", "columns[0]: expected Column(...), got a tuple"),
    ],
    "bad_positional_arguments": [
        _e("configs.py", "event type", "click", "EventType(...) takes keyword arguments only, got 3 positional "
           "argument(s): write EventType(name=..., source=..., fields=...)"),
    ],
    "bad_freshness_as_timedelta": [
        _e("configs.py", "sequence feature", "recent_a", "freshness: expected Freshness(...), got a timedelta"),
    ],
    "bad_cast_type_typo": [
        _e("configs.py", "module", "bad_cast_type_typo.configs", "cast(): 'sting' is not a type", "did you mean "
           "'string'?"),
    ],
    "bad_mapping_key_not_string": [
        _e("configs.py", "event type", "click", "fields[3]: the key 3 must be a string"),
    ],
    "bad_model_validate_lambda": [
        _e("configs.py", "event type", "click", "field 'filter' holds a Python callable (a lambda)"),
    ],
    "bad_copy_keeps_name": [
        _e("configs.py", "sequence feature", "recent_a", "duplicate sequence feature name 'recent_a' version 1: also "
           "defined at", hint="it is a copy of that one: to derive another, use .model_copy(update={'name': ...})"),
    ],
    "bad_model_validate_json": [
        _e("configs.py", "module", "bad_model_validate_json.configs", "failed to import: Freshness(...): "
           "batch_max_lag: Field required"),
    ],
    "bad_wrong_kind_of_shared_value": [
        _e("configs.py", "sequence feature", "recent_a", "retention: Input should be a valid timedelta (got a "
           "Freshness); freshness: expected Freshness(...), got a timedelta"),
    ],
    "bad_timedelta_for_integer": [
        _e("configs.py", "sequence feature", "recent_a", "max_length: Input should be a valid integer (got a "
           "timedelta of 7 days, 0:00:00)"),
    ],
    "bad_shared_value_misfit_use": [
        _e("configs.py", "sequence feature", "recent_s", "projected field 'item_id' is produced by none of its event "
           "types (search)", hint="which fits sequence feature 'recent_a': it is this use that does not fit"),
    ],
    "bad_shared_freshness_misfit": [
        _e("configs.py", "sequence feature", "recent_short", "freshness.batch_max_lag (3 days, 0:00:00) exceeds "
           "retention (1 day, 0:00:00)", hint="which fits sequence feature 'recent_long': it is this use that does "
           "not fit"),
    ],
    "bad_str_contains_not_string": [
        _e("configs.py", "module", "bad_str_contains_not_string.configs", ".str.contains() takes a string literal, "
           "got 3"),
    ],
}

_SLOW_IMPORTS = ("bad_import_hangs", "bad_import_hangs_shared")
"""Cases that block at import: validated with a one-second import timeout."""


def _where(issue: ValidationIssue) -> Path:
    return Path(issue.file).resolve()


def test_every_fixture_package_has_expectations() -> None:
    packages = sorted(p.name for p in INVALID.iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(CASES)


@pytest.mark.parametrize(("case", "expected"), list(CASES.items()), ids=list(CASES))
def test_invalid_config_is_reported_precisely(case: str, expected: list[Expected]) -> None:
    package = INVALID / case
    result = compile_configs(package, import_timeout=1 if case in _SLOW_IMPORTS else None)

    report = render_issues(result.issues)
    assert not result.ok
    assert result.artefacts == {}
    assert result.manifest is None
    assert len(result.issues) == len(expected), report
    for exp in expected:
        path = package / exp.file
        line = marker_line(path, exp.marker)
        found = [i for i in result.issues if _where(i) == path.resolve() and i.line == line]
        assert len(found) == 1, f"expected one issue at {exp.file}:{line}, got:\n{report}"
        issue = found[0]
        assert issue.file.endswith(f"{case}/{exp.file}")
        assert (issue.kind, issue.name) == (exp.kind, exp.name)
        for text in exp.message:
            assert text in issue.message, f"{text!r} not in {issue.message!r}"
        assert exp.hint in issue.hint
        assert f"{issue.file}:{line}: {exp.kind} '{exp.name}': " in report


def test_duplicate_name_error_names_both_definitions() -> None:
    package = INVALID / "bad_duplicate_name"
    (issue,) = compile_configs(package).issues

    first = package / "app.py"
    second = package / "clicks.py"
    assert _where(issue) == second.resolve()
    assert issue.line == marker_line(second)
    assert f"app.py:{marker_line(first, '# <- first definition')}" in issue.message
    rendered = issue.render()
    assert "clicks.py:" in rendered
    assert "app.py:" in rendered


def test_boundary_error_is_reported_at_the_object_not_the_module() -> None:
    """A lambda is refused when the object is built; the issue still names the object and its line."""
    (issue,) = compile_configs(INVALID / "bad_lambda_in_definition").issues

    assert issue.kind == "event type"
    assert issue.name == "click"
    assert "col(), lit(), when()" in issue.message
    assert "registered in feature_platform.plugins" in issue.message


def test_issue_paths_are_relative_to_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import failures and validation issues use the same path style, so they group under one file."""
    monkeypatch.chdir(REPO_ROOT)
    issues = compile_configs(INVALID / "bad_import_failures").issues

    assert {i.file for i in issues} == {
        "tests/fixtures/invalid/bad_import_failures/missing_module.py",
        "tests/fixtures/invalid/bad_import_failures/name_error.py",
        "tests/fixtures/invalid/bad_import_failures/sequences.py",
    }


def test_recompiling_a_package_reports_the_same_issues() -> None:
    """Discovery imports afresh each time: a second run in the same process sees the same errors."""
    first = compile_configs(INVALID / "bad_many_errors").issues
    second = compile_configs(INVALID / "bad_many_errors").issues

    assert first == second
    assert len(first) == 6


_REPRS = ("errors.pydantic.dev", "<DType.", "<Lifecycle.", " object at 0x", "Traceback", "ExprNode(", "Column(name=")
"""What a config author should never have to read: pydantic's URLs, Python enum or model reprs, addresses."""


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_no_python_reprs_in_any_message(case: str) -> None:
    result = compile_configs(INVALID / case, import_timeout=1 if case in _SLOW_IMPORTS else None)

    for issue in result.issues:
        for text in _REPRS:
            assert text not in issue.message and text not in issue.hint, issue.render()


def test_no_empty_follow_on_count() -> None:
    """An object checked under a possible cause with nothing failing has nothing to count ("0 follow-on errors
    suppressed (in )" was printed)."""
    (issue,) = compile_configs(INVALID / "bad_unknown_event_type_in_tuple").issues

    assert "follow-on" not in issue.hint
