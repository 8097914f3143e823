"""open_store: which URL means which backend, and that opening does no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster_aws.s3 import S3Resource

from feature_platform.errors import StoreError
from feature_platform.settings import PlatformSettings
from feature_platform.storage import LocalObjectStorage, S3ObjectStorage
from feature_platform.store import open_store, open_store_from_settings
from tests.store.artefacts import sealed


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("/srv/artefacts", "/srv/artefacts"),
        ("relative/dir", "relative/dir"),
        ("file:///srv/artefacts", "/srv/artefacts"),
        ("file://relative/dir", "relative/dir"),
        ("FILE:///srv/x", "/srv/x"),
    ],
)
def test_local_urls(url: str, root: str) -> None:
    backend = open_store(url).backend
    assert isinstance(backend, LocalObjectStorage)
    assert backend.root == Path(root)


@pytest.mark.parametrize(
    ("url", "bucket", "prefix", "described"),
    [
        ("s3://bucket", "bucket", "", "s3://bucket"),
        ("s3://bucket/", "bucket", "", "s3://bucket"),
        ("s3://bucket/team/artefacts", "bucket", "team/artefacts", "s3://bucket/team/artefacts"),
        ("s3://bucket/team/artefacts/", "bucket", "team/artefacts", "s3://bucket/team/artefacts"),
    ],
)
def test_s3_urls(url: str, bucket: str, prefix: str, described: str) -> None:
    store = open_store(url)
    backend = store.backend
    assert isinstance(backend, S3ObjectStorage)
    assert (backend.bucket, backend.prefix, store.describe()) == (bucket, prefix, described)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://bucket/x", "unsupported artefact store URL 'gs://bucket/x'"),
        ("http://example.com/a", "unsupported artefact store URL 'http://example.com/a'"),
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://bucket/a/../b", "invalid artefact store URL 's3://bucket/a/../b'"),
        ("file://", "names no path"),
        ("", "empty artefact store URL"),
    ],
)
def test_bad_urls_are_refused_naming_the_url(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message.replace(".", r"\.").replace("/", "/")):
        open_store(url)


def test_s3_client_is_built_on_first_use_configured_as_dagster_s3_resource_builds_it() -> None:
    store = open_store("s3://bucket/p", endpoint_url="http://127.0.0.1:9", region_name="eu-west-1")
    backend = store.backend
    assert isinstance(backend, S3ObjectStorage)
    assert backend._client is None  # opening does no I/O, not even credential resolution

    client = backend.client
    dagsters = S3Resource(endpoint_url="http://127.0.0.1:9", region_name="eu-west-1").get_client()
    assert client.meta.endpoint_url == dagsters.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == dagsters.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == dagsters.meta.config.retries


def test_a_client_factory_handed_down_is_used_instead(tmp_path: Path) -> None:
    built: list[str] = []

    def factory() -> object:
        built.append("dagster")
        return S3Resource(endpoint_url="http://127.0.0.1:9", region_name="us-east-1").get_client()

    backend = open_store("s3://bucket/p", client_factory=factory).backend  # type: ignore[arg-type]
    assert isinstance(backend, S3ObjectStorage)
    assert backend.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert built == ["dagster"]


def test_open_store_from_settings_defaults_to_the_data_dir(tmp_path: Path) -> None:
    store = open_store_from_settings(PlatformSettings(data_dir=tmp_path))
    backend = store.backend
    assert isinstance(backend, LocalObjectStorage)
    assert backend.root == tmp_path / "artefacts"

    data, digest = sealed("settings")
    store.put_artefact(data)
    assert (tmp_path / "artefacts" / "objects" / f"{digest}.json").read_bytes() == data


def test_open_store_from_settings_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_ARTEFACT_STORE", "s3://fp-bucket/prod")
    monkeypatch.setenv("FP_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FP_S3_REGION", "eu-central-1")

    backend = open_store_from_settings(PlatformSettings()).backend

    assert isinstance(backend, S3ObjectStorage)
    assert (backend.bucket, backend.prefix) == ("fp-bucket", "prod")
    assert backend.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert backend.client.meta.region_name == "eu-central-1"


@pytest.mark.services
@pytest.mark.xdist_group("s3_server")
def test_s3_store_round_trip_through_open_store(s3_endpoint_url: str, s3_store_url: str) -> None:
    store = open_store(s3_store_url, endpoint_url=s3_endpoint_url)
    data, digest = sealed("via url")

    assert store.put_artefact(data) == digest
    assert open_store(s3_store_url, endpoint_url=s3_endpoint_url).get_artefact_bytes(digest) == data


# ---- issue 12: a bad FP_S3_ENDPOINT_URL is one line naming the variable, not a botocore traceback ---------

BAD_ENDPOINTS = {
    "localhost:9000": "needs a scheme: http://localhost:9000",
    "http://[::1": "cannot be parsed as a URL (Invalid IPv6 URL)",
    "http://127.0.0.1:99999": "Port out of range",
    "http://127.0.0.1:abc": "cannot be parsed as a URL",
    "http://127.0.0.1:0": "port 0",
    "ftp://minio:9000": "must start with http:// or https://",
    "http://exa mple.com": "must not be empty or contain spaces",
    "http://": "has no host name",
    "http://user:secret@minio:9000": "must not hold credentials",
    "http://bad_host!:9000": "botocore refuses its host name",
}


@pytest.mark.parametrize("url", sorted(BAD_ENDPOINTS))
def test_a_bad_endpoint_in_the_environment_is_refused_naming_the_variable(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feature_platform.settings import SettingsError, redact_credentials

    monkeypatch.setenv("FP_S3_ENDPOINT_URL", url)
    with pytest.raises(SettingsError) as caught:
        PlatformSettings()
    # named as written, except that a password never reaches a message
    assert str(caught.value).startswith(f"FP_S3_ENDPOINT_URL={redact_credentials(url)!r} ")
    assert "secret" not in str(caught.value)
    assert BAD_ENDPOINTS[url] in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("url", sorted(BAD_ENDPOINTS))
def test_a_bad_endpoint_handed_to_the_api_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError, match=r"S3 endpoint .* "):
        open_store("s3://bucket/p", endpoint_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com", "http://[::1]:9000", "http://minio:9000/"]
)
def test_good_endpoints_are_accepted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_S3_ENDPOINT_URL", url)
    assert PlatformSettings().s3_endpoint_url == url
    assert isinstance(open_store("s3://bucket/p", endpoint_url=url).backend, S3ObjectStorage)
