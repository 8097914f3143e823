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

    @property
    def artefact_store_url(self) -> str:
        return self.artefact_store or str(self.data_dir / "artefacts")

    @property
    def raw_root(self) -> str:
        return self.raw_data_root or str(self.data_dir / "raw")

    @property
    def tables_url(self) -> str:
        return self.tables_root or str(self.data_dir / "tables")
