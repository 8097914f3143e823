"""Helpers shared by the team's configs: owners, standard profiles, the common event mapping."""

from datetime import timedelta

from feature_platform.authoring import Expr, Freshness, col, from_epoch_ms

HOMEFEED = "team-homefeed-ranking"
SEARCH = "team-search-relevance"
SIGNALS = "team-user-signals"

STANDARD_FRESHNESS = Freshness(
    streaming_max_lag=timedelta(minutes=5),
    batch_max_lag=timedelta(hours=30),
    batch_deadline_cron="0 6 * * *",
)


def engagement_mapping(**extra: Expr) -> dict[str, Expr]:
    """The normalised fields every engagement event type shares, plus ``extra``."""
    return {
        "event_id": col("event_id"),
        "user_id": col("user_id"),
        "timestamp": from_epoch_ms(col("event_ts_ms")),
        "item_id": col("pin_id"),
        "surface": col("surface").str.lower(),
        "device": col("device").str.lower(),
        "country": col("country").str.upper(),
        **extra,
    }
