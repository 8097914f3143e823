"""Enrichments shared by the event types: item lookups and request context."""

from feature_configs._shared import SIGNALS
from feature_configs.sources import item_categories, item_embeddings
from feature_platform.authoring import DerivedEnrichment, Lifecycle, LookupEnrichment, col, concat, when

item_embedding = LookupEnrichment(
    name="item_embedding",
    description="The engaged pin's 32-d embedding.",
    owners=(SIGNALS,),
    lifecycle=Lifecycle.PRODUCTION,
    source=item_embeddings,
    on="item_id",
    columns={"item_embedding": "embedding"},
)

item_category = LookupEnrichment(
    name="item_category",
    description="The engaged pin's category and sub-category.",
    owners=(SIGNALS,),
    lifecycle=Lifecycle.PRODUCTION,
    source=item_categories,
    on="item_id",
    columns={"item_category": "category", "item_subcategory": "subcategory"},
)

request_context = DerivedEnrichment(
    name="request_context",
    description="Where the event happened: a compact context key, hour of day and a mobile flag.",
    owners=(SIGNALS,),
    lifecycle=Lifecycle.PRODUCTION,
    fields={
        "context_key": concat(col("surface"), "|", col("device"), "|", col("country")),
        "hour_of_day": col("timestamp").dt.hour(),
        "is_mobile": col("device").is_in(["ios", "android"]),
        "region": when(col("country").is_in(["US", "CA", "MX"])).then("NA")
        .when(col("country").is_in(["GB", "DE", "FR", "ES", "IT"])).then("EU")
        .otherwise("ROW"),
    },
)
