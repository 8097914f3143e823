"""Where the batch tables live, and the one function per path of the layout.

Layout (``<f>`` is the feature id, ``D`` a day ``YYYY-MM-DD``)::

    <tables_root>/<f>/events/dt=D/part-00000.parquet
    <tables_root>/<f>/rejects/dt=D/part-00000.parquet
    <tables_root>/<f>/snapshots/dt=D/part-00000.parquet
    <tables_root>/<f>/_manifests/dt=D.json            written last: the day is complete
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from feature_platform.settings import PlatformSettings

Table = Literal["events", "rejects", "snapshots"]
EVENTS: Table = "events"
REJECTS: Table = "rejects"
SNAPSHOTS: Table = "snapshots"
TABLES: tuple[Table, ...] = (EVENTS, REJECTS, SNAPSHOTS)
MANIFESTS = "_manifests"
PARTITION_KEY = "dt"
PART_FILE = "part-00000.parquet"


@dataclass(frozen=True)
class TableLocations:
    """The raw data the indexer reads and the root of the tables it writes (local paths or ``s3://``).

    ``storage_options`` go to polars as they are (``aws_endpoint_url``, ``aws_region``,
    ``aws_allow_http``, optionally ``aws_access_key_id`` / ``aws_secret_access_key``) and configure the
    S3 client that writes the tables; ``None`` uses the default credential chain.
    """

    raw_root: str
    tables_root: str
    storage_options: dict[str, str] | None = None

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> TableLocations:
        """``FP_RAW_DATA_ROOT``, ``FP_TABLES_ROOT`` and the ``FP_S3_*`` endpoint as polars storage options."""
        options: dict[str, str] = {}
        if settings.s3_endpoint_url:
            options["aws_endpoint_url"] = settings.s3_endpoint_url
            if settings.s3_endpoint_url.startswith("http://"):
                options["aws_allow_http"] = "true"
        if settings.s3_region:
            options["aws_region"] = settings.s3_region
        elif options:
            options["aws_region"] = "us-east-1"  # object_store needs one; S3-compatible servers ignore it
        return cls(raw_root=settings.raw_root, tables_root=settings.tables_url, storage_options=options or None)

    def feature_root(self, feature_id: str) -> str:
        return f"{self.tables_root.rstrip('/')}/{feature_id}"

    def table_dir(self, feature_id: str, table: Table) -> str:
        return f"{self.feature_root(feature_id)}/{table}"

    def partition_file(self, feature_id: str, table: Table, day: date) -> str:
        """The one file of ``table``'s partition ``day``."""
        return f"{self.table_dir(feature_id, table)}/{partition_name(day)}/{PART_FILE}"

    def manifests_dir(self, feature_id: str) -> str:
        return f"{self.feature_root(feature_id)}/{MANIFESTS}"

    def manifest_file(self, feature_id: str, day: date) -> str:
        return f"{self.manifests_dir(feature_id)}/{partition_name(day)}.json"


def partition_name(day: date) -> str:
    return f"{PARTITION_KEY}={day.isoformat()}"


def relative_partition_file(table: Table, day: date) -> str:
    """A partition file's path relative to the feature root (as written in manifests)."""
    return f"{table}/{partition_name(day)}/{PART_FILE}"


def parse_manifest_name(name: str) -> date | None:
    """The day of a manifest file name ``dt=YYYY-MM-DD.json``, or None for anything else."""
    prefix, suffix = f"{PARTITION_KEY}=", ".json"
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    try:
        return date.fromisoformat(name[len(prefix) : -len(suffix)])
    except ValueError:
        return None
