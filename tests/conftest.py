"""Fixtures shared by the whole suite.

Every test runs with fake AWS credentials, so nothing can reach a real cloud (as dagster-aws does).
Tests that need a server use :func:`require_service`: they skip with the reason on a laptop without
the service, and fail when ``FP_REQUIRE_SERVICES=1`` (CI sets it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest_s3 import *  # noqa: F403  (the loopback S3 server fixtures)

REPO_ROOT = Path(__file__).resolve().parent.parent


def require_service(name: str, reason: str) -> None:
    """Skip (laptop) or fail (CI) because ``name`` is not available."""
    message = f"{name} is not available: {reason}"
    if os.environ.get("FP_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (FP_REQUIRE_SERVICES=1, so this is an error)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    yield


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
