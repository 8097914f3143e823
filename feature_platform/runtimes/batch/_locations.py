"""Where the batch tables live, and the one function per path of the layout.

Layout (``<f>`` is the feature id, ``D`` a day ``YYYY-MM-DD``, ``H`` the first 20 hex digits of the
file's sha256)::

    <tables_root>/<f>/events/dt=D/part-H.parquet
    <tables_root>/<f>/rejects/dt=D/part-H.parquet
    <tables_root>/<f>/snapshots/dt=D/part-H.parquet
    <tables_root>/<f>/_manifests/dt=D.json            the commit point: names the day's three files

A file's name carries its content hash, so a re-index writes the new files *beside* the old ones and
the manifest swap (one atomic write) moves readers from the old version to the new one; the old files
are removed after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from feature_platform.settings import PlatformSettings
from feature_platform.storage import ObjectStorage, S3Connection, open_storage

Table = Literal["events", "rejects", "snapshots"]
EVENTS: Table = "events"
REJECTS: Table = "rejects"
SNAPSHOTS: Table = "snapshots"
TABLES: tuple[Table, ...] = (EVENTS, REJECTS, SNAPSHOTS)
MANIFESTS = "_manifests"
PARTITION_KEY = "dt"
PART_FILE = "part-00000.parquet"
"""The watermark's one file per day (a marker, not content-addressed)."""
PART_HASH_DIGITS = 20


@dataclass(frozen=True)
class TableLocations:
    """The raw data the indexer reads and the root of the tables it writes (local paths or ``s3://``).

    ``s3`` is how S3 is reached (endpoint, region; credentials from the default chain): the tables are
    written through :func:`feature_platform.storage.open_storage` with it and scanned by polars with
    the same connection as ``storage_options``. A Dagster run hands its ``S3Resource.get_client`` down
    as ``s3_client_factory`` instead, so the client is built the Dagster way.
    """

    raw_root: str
    tables_root: str
    s3: S3Connection | None = None
    s3_client_factory: Callable[[], Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> TableLocations:
        """``FP_RAW_DATA_ROOT``, ``FP_TABLES_ROOT`` and the ``FP_S3_*`` endpoint."""
        s3 = None
        if settings.s3_endpoint_url or settings.s3_region:
            s3 = S3Connection(endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
        return cls(raw_root=settings.raw_root, tables_root=settings.tables_url, s3=s3)

    @property
    def storage_options(self) -> dict[str, str] | None:
        """The S3 connection as polars ``storage_options`` (None: the defaults)."""
        return self.s3.polars_options() if self.s3 is not None else None

    def storage(self) -> ObjectStorage:
        """The object storage rooted at ``tables_root``; keys are the ``*_key`` functions below."""
        return open_storage(self.tables_root, self.s3, client_factory=self.s3_client_factory, what="tables root")

    # -- keys, relative to the tables root ---------------------------------------------------------

    def partition_dir_key(self, feature_id: str, table: Table, day: date) -> str:
        return f"{feature_id}/{table}/{partition_name(day)}"

    def manifest_key(self, feature_id: str, day: date) -> str:
        return f"{feature_id}/{MANIFESTS}/{partition_name(day)}.json"

    # -- full paths or URLs (for polars, DuckDB and messages) --------------------------------------

    def feature_root(self, feature_id: str) -> str:
        return f"{self.tables_root.rstrip('/')}/{feature_id}"

    def table_dir(self, feature_id: str, table: Table) -> str:
        return f"{self.feature_root(feature_id)}/{table}"

    def partition_file(self, feature_id: str, table: Table, day: date) -> str:
        """The one live file of ``table``'s partition ``day`` (the one its manifest names)."""
        from feature_platform.runtimes.batch._tables import FeatureTables  # the manifest knows the name

        return FeatureTables(feature_id, self).path(table, day)

    def manifest_file(self, feature_id: str, day: date) -> str:
        return f"{self.tables_root.rstrip('/')}/{self.manifest_key(feature_id, day)}"


def partition_name(day: date) -> str:
    return f"{PARTITION_KEY}={day.isoformat()}"


def relative_partition_file(table: Table, day: date, sha256: str) -> str:
    """A partition file's path relative to the feature root (as written in manifests): named by its hash."""
    return f"{table}/{partition_name(day)}/part-{sha256[:PART_HASH_DIGITS]}.parquet"


def parse_manifest_name(name: str) -> date | None:
    """The day of a manifest file name ``dt=YYYY-MM-DD.json``, or None for anything else."""
    prefix, suffix = f"{PARTITION_KEY}=", ".json"
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    try:
        return date.fromisoformat(name[len(prefix) : -len(suffix)])
    except ValueError:
        return None
