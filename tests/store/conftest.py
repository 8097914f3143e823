"""Store fixtures: every behavioural test runs once per backend (local directory, loopback S3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from feature_platform.store import ArtefactStore, open_store


@dataclass(frozen=True)
class StoreLocation:
    """What a separate process needs to open the same store: plain, picklable values."""

    kind: str
    url: str
    endpoint_url: str | None = None

    def open(self) -> ArtefactStore:
        return open_store(self.url, endpoint_url=self.endpoint_url)


@pytest.fixture(
    params=["local", pytest.param("s3", marks=[pytest.mark.services, pytest.mark.xdist_group("s3_server")])]
)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> StoreLocation:
    if request.param == "local":
        return StoreLocation("local", str(tmp_path / "store"))
    # Requested lazily so local-only runs (-m "not services") never start the S3 server.
    endpoint = request.getfixturevalue("s3_endpoint_url")
    return StoreLocation("s3", request.getfixturevalue("s3_store_url"), endpoint)


@pytest.fixture
def store(store_location: StoreLocation) -> ArtefactStore:
    """A fresh, empty store, opened through open_store exactly as production code opens one."""
    return store_location.open()
