"""A feature's documented batch completeness, as a Dagster freshness policy on its batch assets.

``freshness.batch_deadline_cron`` ("each day's batch is due at 06:00 UTC") maps to
``FreshnessPolicy.cron``: the asset must have been materialised in the window that ends at the last
deadline tick and starts ``lower_bound_delta`` before it. The lower bound is the feature's
``batch_max_lag`` clamped to the cron interval (Dagster refuses a window longer than the interval). A
feature with no deadline gets ``FreshnessPolicy.time_window(fail_window=batch_max_lag)`` with a warning
at 80 % of the lag.

Dagster's freshness daemon (part of ``dagster-daemon`` / ``dagster dev``) evaluates these policies
and records PASS / WARN / FAIL per asset; the UI shows them on the asset and in the health view.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
from dagster._utils.schedules import get_smallest_cron_interval

from feature_platform.orchestration.catalogue import FreshnessProfile

_MIN_WINDOW = timedelta(minutes=1)
"""Dagster's lower limit for every freshness window."""


def batch_freshness_policy(profile: FreshnessProfile) -> dg.FreshnessPolicy:
    """The policy for a feature's batch assets (events, snapshots, watermark)."""
    max_lag = max(timedelta(seconds=profile.batch_max_lag_seconds), _MIN_WINDOW)
    if profile.batch_deadline_cron:
        interval = get_smallest_cron_interval(profile.batch_deadline_cron)
        return dg.FreshnessPolicy.cron(
            deadline_cron=profile.batch_deadline_cron,
            lower_bound_delta=max(min(max_lag, interval), _MIN_WINDOW),
            timezone="UTC",
        )
    warn = max_lag * 0.8
    return dg.FreshnessPolicy.time_window(
        fail_window=max_lag, warn_window=warn if _MIN_WINDOW <= warn < max_lag else None
    )
