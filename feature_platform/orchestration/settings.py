"""Orchestration settings from ``FP_*`` environment variables, with embedded defaults.

The platform-wide settings (data directory, artefact store, environment, configs) live in
:class:`feature_platform.settings.PlatformSettings`; these are the few knobs only the Dagster code
location has. Reading them is not I/O, so building the definitions may do it — once: the sensors get
the instance built with the definitions and never read the environment again, so a variable that only
another part of the platform uses (say a bad ``FP_ONLINE_STORE``) cannot fail a sensor tick, and what a
tick does cannot change behind the loaded code location's back.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from feature_platform._days import FIRST_DAY
from feature_platform.errors import StoreError
from feature_platform.settings import SettingsError, field_problems
from feature_platform.store.layout import check_name

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
    protected_envs: str = Field(
        default="prod",
        description="Comma-separated environments the Dagster config sensor never publishes to on its own "
        "(FP_PROTECTED_ENVS, default 'prod'; '' protects none): for them it compiles and validates a changed "
        "config, and a person publishes (CLI `publish`, or materialising F/published in the UI).",
    )

    def __init__(self, **values: Any) -> None:
        """Read the settings; a bad value is one :class:`SettingsError` line naming its ``FP_*`` variable (what
        the code location's load shows), never pydantic's dump."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError("; ".join(field_problems(exc).values())) from None

    @field_validator("partitions_start")
    @classmethod
    def _partitions_start_in_range(cls, value: date) -> date:
        # 9999-12-31 passed and then overflowed inside Dagster's partition arithmetic, naming no variable.
        if not FIRST_DAY <= value <= date.today():  # the first day the platform can index
            msg = (f"must be between {FIRST_DAY} and today ({date.today()}): the first daily "
                   "partition of the batch assets")
            raise ValueError(msg)
        return value

    @field_validator("protected_envs")
    @classmethod
    def _protected_envs_are_names(cls, value: str) -> str:
        # 'prod staging' or 'prod;staging' used to protect no environment at all: the sensor published to prod.
        for entry in (e.strip() for e in value.split(",")):
            if not entry:
                continue
            try:
                check_name("environment", entry)
            except StoreError as exc:
                msg = f"{exc}; separate environments with commas, e.g. 'prod,staging'"
                raise ValueError(msg) from None
        return value

    def auto_publish(self, env: str) -> bool:
        """Whether automation (the config sensor) may publish to ``env`` without a person."""
        return env not in {e.strip() for e in self.protected_envs.split(",") if e.strip()}
