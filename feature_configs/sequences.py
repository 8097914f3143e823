"""Sequence features: what the ranking models consume."""

from datetime import timedelta

from feature_configs._shared import HOMEFEED, SEARCH, SIGNALS, STANDARD_FRESHNESS
from feature_configs.event_types import click, closeup, save, search_query
from feature_platform.authoring import Lifecycle, SequenceFeature

ITEM_FIELDS = ("item_id", "item_embedding", "item_category", "surface", "context_key")

recent_engagements = SequenceFeature(
    name="recent_engagements",
    description="The user's last 500 saves and clicks with item embeddings: the homefeed ranker's main input.",
    owners=(HOMEFEED,),
    lifecycle=Lifecycle.PRODUCTION,
    event_types=(save, click),
    max_length=500,
    retention=timedelta(days=90),
    fields=(*ITEM_FIELDS, "dwell_bucket", "hour_of_day"),
    freshness=STANDARD_FRESHNESS,
    serving_default_length=100,
    tags={"consumer": "homefeed-ranker"},
)

recent_searches = SequenceFeature(
    name="recent_searches",
    description="The user's last 100 distinct normalised search queries.",
    owners=(SEARCH,),
    lifecycle=Lifecycle.STAGING,
    event_types=(search_query,),
    max_length=100,
    retention=timedelta(days=60),
    fields=("query_norm", "query_tokens", "num_results", "surface", "region"),
    dedup_by=("query_norm",),
    freshness=STANDARD_FRESHNESS,
    tags={"consumer": "search-ranker"},
)

recent_closeups = SequenceFeature(
    name="recent_closeups",
    description="Close-ups of the last 30 days: dense interest signal for the related-pins model.",
    owners=(SIGNALS,),
    lifecycle=Lifecycle.EXPERIMENTAL,
    event_types=(closeup,),
    max_length=100,
    retention=timedelta(days=30),
    fields=(*ITEM_FIELDS, "item_subcategory", "dwell_bucket", "is_mobile"),
    freshness=STANDARD_FRESHNESS,
)
