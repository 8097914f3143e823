"""Platform settings from environment variables, with embedded defaults that need no server.

Every runtime and the CLI read these; nothing here does I/O when constructed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """Where things live. Unset variables fall back to a local project data directory."""

    model_config = SettingsConfigDict(env_prefix="FP_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        default=Path("fp_data"),
        description="Project data directory (FP_DATA_DIR); the embedded defaults live under it.",
    )
    artefact_store: str | None = Field(
        default=None,
        description="Artefact store URL (FP_ARTEFACT_STORE): a local path, file://PATH or s3://BUCKET/PREFIX. "
        "Default: <data_dir>/artefacts.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint (FP_S3_ENDPOINT_URL), for S3-compatible servers."
    )
    s3_region: str | None = Field(default=None, description="S3 region name (FP_S3_REGION).")
    env: str = Field(default="dev", description="Default environment name for publish/plan (FP_ENV).")
    configs_dir: Path = Field(default=Path("feature_configs"), description="Config package (FP_CONFIGS_DIR).")
    raw_data_root: str | None = Field(
        default=None,
        description="Root that relative source paths resolve against (FP_RAW_DATA_ROOT). "
        "Default: <data_dir>/raw.",
    )
    tables_root: str | None = Field(
        default=None,
        description="Root of indexed tables (FP_TABLES_ROOT). Default: <data_dir>/tables.",
    )
    actor: str | None = Field(default=None, description="Who publishes, for the audit log (FP_ACTOR).")
    online_store: str | None = Field(
        default=None,
        description="Online store (FP_ONLINE_STORE): redis://HOST:PORT/DB or a SQLite file path. "
        "Default: <data_dir>/online.sqlite.",
    )
    online_prefix: str = Field(default="fp", description="Key prefix in a Redis online store (FP_ONLINE_PREFIX).")
    event_log: str | None = Field(
        default=None,
        description="Event log of the streaming indexer (FP_EVENT_LOG): redis://HOST:PORT/DB (Redis Streams) or "
        "a SQLite file path. Default: <data_dir>/event_log.sqlite.",
    )
    event_log_prefix: str = Field(default="fp", description="Key prefix of a Redis event log (FP_EVENT_LOG_PREFIX).")
    serve_auth: bool = Field(
        default=True, description="Require API keys on /v1 (FP_SERVE_AUTH=false turns auth off, for local demos)."
    )
    serve_api_keys_file: Path | None = Field(
        default=None, description="JSON file of hashed API keys and their grants (FP_SERVE_API_KEYS_FILE)."
    )
    serve_api_keys: str | None = Field(
        default=None, description="The same JSON inline (FP_SERVE_API_KEYS); both sources are merged."
    )
    serve_max_in_flight: int = Field(
        default=256, ge=1, description="Requests served at once; more are shed with 503 (FP_SERVE_MAX_IN_FLIGHT)."
    )
    serve_reload_seconds: float = Field(
        default=2.0, gt=0,
        description="How often the server checks the environment's pointers (FP_SERVE_RELOAD_SECONDS).",
    )

    @property
    def artefact_store_url(self) -> str:
        return self.artefact_store or str(self.data_dir / "artefacts")

    @property
    def online_store_url(self) -> str:
        return self.online_store or str(self.data_dir / "online.sqlite")

    @property
    def event_log_url(self) -> str:
        return self.event_log or str(self.data_dir / "event_log.sqlite")

    @property
    def raw_root(self) -> str:
        return self.raw_data_root or str(self.data_dir / "raw")

    @property
    def tables_url(self) -> str:
        return self.tables_root or str(self.data_dir / "tables")
