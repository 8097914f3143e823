"""A loopback S3 server (moto) for tests, shared by the whole session.

Imported by ``tests/conftest.py`` (and for now ``tests/store/conftest.py``) with ``import *``.
Fake credentials are set for the whole session and every other way of finding real ones (profiles,
config files, the EC2 metadata endpoint) is switched off, so nothing here can reach a real cloud.

moto's ``put_object`` checks ``If-None-Match: *`` and then writes, with no lock in between, and the
threaded server runs requests concurrently, so two racing conditional writes could both succeed.
Real S3 makes that check and the write atomic (that is what conditional writes are for). The fixture
therefore serialises moto's ``put_object`` handler for the session so the emulator has S3's
documented semantics; the store code itself only ever sends the real ``IfNoneMatch`` request.

The server is per session, so per xdist worker: every test that uses it carries
``@pytest.mark.xdist_group("s3_server")`` (the S3 case of ``tests/store``'s ``store_location`` too),
and ``make test``'s ``--dist loadgroup`` runs them all on one worker, against one server, instead of
starting a second server on the other worker.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

__all__ = ["S3_TEST_BUCKET", "S3_TEST_REGION", "s3_bucket", "s3_endpoint_url", "s3_store_url"]

S3_TEST_BUCKET = "fp-test-artefacts"
S3_TEST_REGION = "us-east-1"
_START_TIMEOUT_S = 20.0

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": S3_TEST_REGION,
    "AWS_REGION": S3_TEST_REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
_REAL_AWS_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


def _unavailable(reason: str) -> None:
    """Skip, or fail when the run says the services must be there (FP_REQUIRE_SERVICES=1)."""
    message = f"loopback S3 server unavailable: {reason}"
    if os.environ.get("FP_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _serialise_put_object(mp: pytest.MonkeyPatch) -> None:
    """Make moto's conditional PutObject atomic, as it is on S3 (see the module docstring)."""
    from moto.s3.responses import S3Response

    original: Callable[..., Any] = S3Response.put_object
    lock = threading.Lock()

    @functools.wraps(original)
    def put_object(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    mp.setattr(S3Response, "put_object", put_object)


@pytest.fixture(scope="session")
def s3_endpoint_url() -> Iterator[str]:
    """Endpoint URL of a moto S3 server on 127.0.0.1 with the bucket ``S3_TEST_BUCKET`` created."""
    with pytest.MonkeyPatch.context() as mp:
        for name in _REAL_AWS_ENV:
            mp.delenv(name, raising=False)
        for name, value in _FAKE_AWS_ENV.items():
            mp.setenv(name, value)
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            _unavailable(f"cannot import moto.server ({exc}); install moto[server]")
            raise  # unreachable: _unavailable always raises
        _serialise_put_object(mp)
        mp.setattr(logging.getLogger("werkzeug"), "level", logging.WARNING)

        # Port 0: the OS picks a free port atomically; the real one is read back after start.
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        # start() waits forever if the server thread dies before it is ready; bound the wait.
        starter = threading.Thread(target=server.start, daemon=True)
        starter.start()
        starter.join(_START_TIMEOUT_S)
        if starter.is_alive():
            _unavailable(f"moto server did not start within {_START_TIMEOUT_S:.0f}s")
        try:
            host, port = server.get_host_and_port()
        except Exception as exc:
            _unavailable(f"moto server did not start: {exc!r}")
            raise
        endpoint = f"http://{host}:{port}"
        try:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint, region_name=S3_TEST_REGION)
            client.create_bucket(Bucket=S3_TEST_BUCKET)
        except Exception as exc:
            server.stop()
            _unavailable(f"moto server at {endpoint} is not usable: {exc!r}")
            raise
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint_url: str) -> str:
    """Name of the bucket on the loopback server."""
    return S3_TEST_BUCKET


@pytest.fixture
def s3_store_url(s3_endpoint_url: str) -> str:
    """An ``s3://`` store URL under a prefix of its own, so tests sharing the bucket never meet."""
    return f"s3://{S3_TEST_BUCKET}/tests/{uuid.uuid4().hex}"
