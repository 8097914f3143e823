"""The loopback S3 fixture's contract: skip on a laptop without moto, fail when services are required."""

from __future__ import annotations

import pytest

from tests.conftest_s3 import _unavailable


def test_unavailable_server_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FP_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="loopback S3 server unavailable: port in use"):
        _unavailable("port in use")


def test_unavailable_server_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="loopback S3 server unavailable: port in use"):
        _unavailable("port in use")


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_server_has_fake_credentials_and_the_bucket(s3_endpoint_url: str, s3_bucket: str) -> None:
    import os

    import boto3

    assert s3_endpoint_url.startswith("http://127.0.0.1:")
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    client = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1")
    assert s3_bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]
