"""Per-event-type logic is pluggable (plugin enrichments, custom executors); IO and the plan are not."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from feature_platform.artefact import Artefact, ColumnSpec, CompiledEnrichment, DType, PluginCall
from feature_platform.engine import DeclarativeExecutor, build_event_type_frame, build_feature_frame
from tests.engine.rows import ENGAGEMENT_ROWS, LOOKUP_ROWS, frame, lookup_frames
from tests.reference import canonical_rows, reference_events


def with_plugin_enrichment(artefact: Artefact) -> Artefact:
    """``click`` gets one more enrichment, of kind ``plugin``, and the feature exposes its field."""
    added = ColumnSpec(name="dwell_coarse", dtype=DType.INT32)
    enrichment = CompiledEnrichment(
        name="dwell_coarse",
        kind="plugin",
        plugin=PluginCall(
            plugin="dwell_bucketiser",
            params={"input_field": "dwell_ms", "output_field": "dwell_coarse", "boundaries_ms": [10_000]},
        ),
        output_fields=(added,),
    )
    click = artefact.event_types["click"]
    click = click.model_copy(
        update={
            "enrichments": (*click.enrichments, enrichment.name),
            "output_fields": tuple(sorted((*click.output_fields, added), key=lambda c: c.name)),
        }
    )
    feature = artefact.feature.model_copy(update={"fields": (*artefact.feature.fields, added)})
    return artefact.model_copy(
        update={
            "feature": feature,
            "event_types": {**artefact.event_types, "click": click},
            "enrichments": {**artefact.enrichments, enrichment.name: enrichment},
        }
    )


def _lookups(artefact: Artefact) -> dict[str, pl.LazyFrame]:
    return {name: f.lazy() for name, f in lookup_frames(artefact, LOOKUP_ROWS).items()}


def test_a_plugin_enrichment_runs_in_order_and_matches_the_reference(engagements: Artefact) -> None:
    artefact = with_plugin_enrichment(engagements)
    raw = frame(artefact, "engagement_events", ENGAGEMENT_ROWS)
    events = build_feature_frame(artefact, {"engagement_events": raw.lazy()}, _lookups(artefact)).events.collect()
    coarse = dict(zip(events["event_id"], events["dwell_coarse"], strict=True))
    assert coarse == {"e01": None, "e02": 0, "e03": None, "e11": None}  # save lacks the field: typed null
    expected, _ = reference_events(artefact, {"engagement_events": ENGAGEMENT_ROWS}, LOOKUP_ROWS)
    assert canonical_rows(events.to_dicts()) == canonical_rows(expected)


class FlagLongDwell(DeclarativeExecutor):
    """A custom executor: the declarative one plus featurisation of its own."""

    def featurise(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        return super().featurise(frame).with_columns((pl.col("dwell_ms") > 5_000).alias("long_dwell"))

    def enrich(self, frame: pl.LazyFrame, lookups: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
        return super().enrich(frame, lookups).with_columns(pl.col("long_dwell").alias("item_subcategory"))


def test_a_custom_executor_plugs_into_the_framework(engagements: Artefact) -> None:
    raw = frame(engagements, "engagement_events", ENGAGEMENT_ROWS).lazy()
    frames = build_event_type_frame(
        engagements, "click", raw, _lookups(engagements), executor=FlagLongDwell(engagements, "click")
    )
    valid, rejects = frames.valid.collect(), frames.rejects.collect()
    # the framework still validates, rejects and projects to the declared output fields and types
    assert valid.columns == [c.name for c in engagements.event_types["click"].output_fields]
    assert dict(zip(valid["event_id"], valid["item_subcategory"], strict=True)) == {
        "e02": "true",
        "e03": "false",
        "e11": None,
    }
    assert sorted(rejects["reason"]) == ["null event_id"]  # the first reason that applies, only
