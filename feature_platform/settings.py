"""Platform settings from environment variables, with embedded defaults that need no server.

Every runtime and the CLI read these; nothing here does I/O when constructed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """An ``FP_*`` environment variable holds a value the platform cannot use; the message names it.

    Not a ``ValueError``, so pydantic lets it through unwrapped (one line, not a validation dump); the CLI
    prints it like a :class:`~feature_platform.errors.FeaturePlatformError` (this bottom layer does not
    import the error hierarchy)."""


def endpoint_url_problem(url: str) -> str:
    """Why ``url`` is not a usable S3 endpoint (the way botocore and the polars/object_store scanners
    parse it), or "" when it is. Checked when the settings are read, so a typo is one line naming the
    variable instead of a botocore traceback at the first S3 call."""
    if not url or url != url.strip() or any(c.isspace() for c in url):
        return "must not be empty or contain spaces"
    if "://" not in url:
        return f"needs a scheme: http://{url} or https://{url}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"cannot be parsed as a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"must start with http:// or https://, not {parts.scheme}://"
    if not parts.hostname:
        return "has no host name"
    if port == 0:
        return "names port 0; use a port between 1 and 65535"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "must not hold credentials, a query or a fragment (credentials come from the AWS chain)"
    try:
        from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url
    except ImportError:  # pragma: no cover - botocore is a dependency
        return ""
    if not (is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url)):
        return "is not a valid endpoint URL (botocore refuses its host name)"
    return ""


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
    protected_envs: str = Field(
        default="prod",
        description="Comma-separated environments the Dagster config sensor never publishes to on its own "
        "(FP_PROTECTED_ENVS, default 'prod'; '' protects none): for them it compiles and validates a changed "
        "config, and a person publishes (CLI `publish`, or materialising F/published in the UI).",
    )
    env: str = Field(default="dev", description="Default environment name for publish/plan (FP_ENV).")
    configs_dir: Path = Field(default=Path("feature_configs"), description="Config package (FP_CONFIGS_DIR).")
    raw_data_root: str | None = Field(
        default=None,
        description="Root that relative source paths resolve against (FP_RAW_DATA_ROOT). Default: <data_dir>/raw.",
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
        default=2.0,
        gt=0,
        description="How often the server checks the environment's pointers (FP_SERVE_RELOAD_SECONDS).",
    )

    @field_validator("s3_endpoint_url")
    @classmethod
    def _usable_endpoint(cls, value: str | None) -> str | None:
        if value is not None and (problem := endpoint_url_problem(value)):
            msg = f"FP_S3_ENDPOINT_URL={value!r} {problem}"
            raise SettingsError(msg)  # not a ValueError: pydantic lets it through as one line
        return value

    def auto_publish(self, env: str) -> bool:
        """Whether automation (the config sensor) may publish to ``env`` without a person."""
        return env not in {e.strip() for e in self.protected_envs.split(",") if e.strip()}

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
