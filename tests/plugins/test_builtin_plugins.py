"""The shipped executor plugins: exact outputs, parameter validation, row-locality, the registry."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from feature_platform.plugins import UnknownPluginError, get_plugin, plugin_names


def run(plugin_name: str, frame: pl.DataFrame, **params: object) -> pl.DataFrame:
    plugin = get_plugin(plugin_name)
    return plugin.apply(frame.lazy(), plugin.parse_params(params)).collect()


def test_registry_lists_the_builtins_and_names_unknown_ones() -> None:
    assert plugin_names() == ["dwell_bucketiser", "query_normaliser"]
    with pytest.raises(UnknownPluginError, match=r"no executor plugin named 'nope' .*dwell_bucketiser"):
        get_plugin("nope")


def test_dwell_bucketiser_buckets_at_the_boundaries() -> None:
    frame = pl.DataFrame({"dwell_ms": [None, -1, 0, 999, 1000, 4999, 5000, 60_000, 10**9]})
    out = run("dwell_bucketiser", frame, boundaries_ms=[1000, 5000, 60_000])
    assert out["dwell_bucket"].to_list() == [None, None, 0, 0, 1, 1, 2, 3, 3]
    assert out.schema["dwell_bucket"] == pl.Int32


def test_dwell_bucketiser_reads_and_writes_the_configured_fields() -> None:
    frame = pl.DataFrame({"view_ms": [1500.0, 20.0]})
    out = run("dwell_bucketiser", frame, input_field="view_ms", output_field="view_bucket", boundaries_ms=[1000])
    assert out["view_bucket"].to_list() == [1, 0]
    plugin = get_plugin("dwell_bucketiser")
    params = plugin.parse_params({"input_field": "view_ms", "output_field": "view_bucket"})
    assert list(plugin.input_fields(params)) == ["view_ms"]
    assert [c.name for c in plugin.output_fields(params)] == ["view_bucket"]


@pytest.mark.parametrize("bad", [[], [5000, 1000], [0, 10], [10, 10]])
def test_dwell_bucketiser_refuses_bad_boundaries(bad: list[int]) -> None:
    with pytest.raises(ValidationError, match="boundar"):
        get_plugin("dwell_bucketiser").parse_params({"boundaries_ms": bad})


def test_query_normaliser_normalises_and_counts_tokens() -> None:
    frame = pl.DataFrame({"query": ["  Red   SHOES!! ", "café-au-lait", "!!!", None, "a" * 200]})
    out = run("query_normaliser", frame, max_chars=10)
    assert out["query_norm"].to_list() == ["red shoes", "café au la", None, None, "a" * 10]
    assert out["query_tokens"].to_list() == [2, 3, 0, 0, 1]


def test_plugins_are_row_local_a_micro_batch_equals_the_whole() -> None:
    frame = pl.DataFrame({"dwell_ms": list(range(-5, 70_000, 997)), "query": [f"Q {i}!" for i in range(71)]})
    whole = run("query_normaliser", run("dwell_bucketiser", frame))
    parts = pl.concat(
        run("query_normaliser", run("dwell_bucketiser", frame.slice(i, 7))) for i in range(0, frame.height, 7)
    )
    assert whole.equals(parts)
