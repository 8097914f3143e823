"""Event types: which raw rows count as which user action, normalised and enriched."""

from feature_configs._shared import HOMEFEED, SEARCH, SIGNALS, engagement_mapping
from feature_configs.sources import engagement_events, search_events
from feature_platform.authoring import EventType, Lifecycle, PluginCall, col, lit

ITEM_ENRICHMENTS = ("item_embedding", "item_category", "request_context")
DWELL = PluginCall(plugin="dwell_bucketiser", params={"boundaries_ms": [1_000, 5_000, 15_000, 60_000]})

save = EventType(
    name="save",
    description="A user saved a pin to a board: the strongest positive signal.",
    owners=(SIGNALS, HOMEFEED),
    lifecycle=Lifecycle.PRODUCTION,
    source=engagement_events,
    filter=col("action") == "save",
    fields=engagement_mapping(),
    enrichments=ITEM_ENRICHMENTS,
)

click = EventType(
    name="click",
    description="A click-through to the pin's link, with how long the user stayed.",
    owners=(SIGNALS, HOMEFEED),
    lifecycle=Lifecycle.PRODUCTION,
    source=engagement_events,
    filter=(col("action") == "click") & col("pin_id").is_not_null(),
    fields=engagement_mapping(dwell_ms=col("dwell_ms")),
    executor=DWELL,
    enrichments=ITEM_ENRICHMENTS,
)

closeup = EventType(
    name="closeup",
    description="A close-up view of a pin; short accidental views (< 500 ms) are not counted.",
    owners=(SIGNALS,),
    lifecycle=Lifecycle.STAGING,
    source=engagement_events,
    filter=(col("action") == "closeup") & (col("dwell_ms").fill_null(0) >= 500),
    fields=engagement_mapping(dwell_ms=col("dwell_ms")),
    executor=DWELL,
    enrichments=ITEM_ENRICHMENTS,
)

search_query = EventType(
    name="search_query",
    description="A search the user typed (autocomplete-only and empty queries excluded).",
    owners=(SEARCH,),
    lifecycle=Lifecycle.STAGING,
    source=search_events,
    filter=col("query_text").is_not_null() & (col("query_text").str.strip().str.len() > 0),
    fields={
        "event_id": col("query_id"),
        "user_id": col("user_id"),
        "timestamp": col("event_time").cast("timestamp"),
        "query": col("query_text"),
        "num_results": col("num_results").fill_null(lit(0)),
        "surface": col("surface").str.lower(),
        "device": col("device").str.lower(),
        "country": col("country").str.upper(),
    },
    executor=PluginCall(plugin="query_normaliser", params={"max_chars": 96}),
    enrichments=("request_context",),
)
