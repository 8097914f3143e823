"""Raw event logs and lookup tables, defined once and referenced by name everywhere else."""

from feature_configs._shared import SIGNALS
from feature_platform.authoring import BatchOrigin, Column, Source, StreamOrigin

CONTEXT_COLUMNS = (
    Column("surface", "string", description="homefeed | search | related | profile"),
    Column("device", "string", description="ios | android | web"),
    Column("country", "string", description="ISO-3166 alpha-2"),
)
"""Request context every client-logged source carries."""

engagement_events = Source(
    name="engagement_events",
    description="Client-logged pin engagements (saves, clicks, close-ups, hides), one row per action.",
    owners=(SIGNALS,),
    kind="events",
    columns=(
        Column("event_id", "string", nullable=False, description="Client-generated unique id."),
        Column("user_id", "int64"),
        Column("pin_id", "int64"),
        Column("action", "string", description="save | click | closeup | hide"),
        Column("event_ts_ms", "int64", description="Event time, epoch milliseconds (client clock)."),
        *CONTEXT_COLUMNS,
        Column("dwell_ms", "int64", description="Time on the pin, when the client measured it."),
    ),
    batch=BatchOrigin(path="engagement_events"),
    stream=StreamOrigin(stream="engagement_events"),
    timestamp_column="event_ts_ms",
)

search_events = Source(
    name="search_events",
    description="Search queries as logged by the search backend.",
    owners=(SIGNALS,),
    kind="events",
    columns=(
        Column("query_id", "string", nullable=False),
        Column("user_id", "int64"),
        Column("query_text", "string"),
        Column("event_time", "string", description="ISO-8601 UTC timestamp."),
        *CONTEXT_COLUMNS,
        Column("num_results", "int64"),
    ),
    batch=BatchOrigin(path="search_events"),
    stream=StreamOrigin(stream="search_events"),
    timestamp_column="event_time",
)

item_embeddings = Source(
    name="item_embeddings",
    description="Daily snapshot of 32-dimensional pin embeddings from the visual+text model.",
    owners=(SIGNALS,),
    kind="lookup",
    columns=(
        Column("item_id", "int64", nullable=False),
        Column("embedding", "list[float32]", description="32 float32s, L2-normalised."),
    ),
    batch=BatchOrigin(path="item_embeddings"),
    key_column="item_id",
)

item_categories = Source(
    name="item_categories",
    description="Pin taxonomy: top-level category and sub-category.",
    owners=(SIGNALS,),
    kind="lookup",
    columns=(
        Column("item_id", "int64", nullable=False),
        Column("category", "string"),
        Column("subcategory", "string"),
    ),
    batch=BatchOrigin(path="item_categories"),
    key_column="item_id",
)
