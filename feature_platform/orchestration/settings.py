"""Orchestration settings from ``FP_*`` environment variables, with embedded defaults.

The platform-wide settings (data directory, artefact store, environment, configs) live in
:class:`feature_platform.settings.PlatformSettings`; these are the few knobs only the Dagster code
location has. Reading them is not I/O, so building the definitions may do it.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PARTITIONS_START = date(2026, 11, 1)


class OrchestrationSettings(BaseSettings):
    """Knobs of the Dagster code location."""

    model_config = SettingsConfigDict(env_prefix="FP_", frozen=True, extra="ignore")

    partitions_start: date = Field(
        default=DEFAULT_PARTITIONS_START,
        description="First daily partition of the batch assets (FP_PARTITIONS_START, YYYY-MM-DD).",
    )
    dagster_webserver_url: str | None = Field(
        default=None,
        description="Base URL of the Dagster webserver (FP_DAGSTER_WEBSERVER_URL); when set, the config "
        "sensor asks it to reload the code location when a config defines a feature it does not know.",
    )
    dagster_location_name: str = Field(
        default="feature_platform",
        description="Code location name to reload (FP_DAGSTER_LOCATION_NAME); workspace.yaml sets the same.",
    )
    config_sensor_interval_seconds: int = Field(
        default=30, ge=5, description="How often the config sensor looks at the configs (seconds)."
    )
