"""Fixtures shared by the whole suite.

Every test runs with fake AWS credentials, so nothing can reach a real cloud (as dagster-aws does).
Tests that need a server use :func:`require_service`: they skip with the reason on a laptop without
the service, and fail when ``FP_REQUIRE_SERVICES=1`` (CI sets it).

Hypothesis profiles (registered here, before any test module is imported, so every ``@settings``
decorator inherits from the loaded one). ``HYPOTHESIS_PROFILE`` selects one; otherwise "ci" when
``CI`` is set (``CI=true``, as CI services and ``.ci/run`` set it), else "dev".

* ``ci`` - repeatable: ``derandomize=True`` (the examples are a function of the test, so a red CI
  run is red again on a rerun and on a laptop with ``HYPOTHESIS_PROFILE=ci``), no example database,
  ``print_blob=True`` to reproduce a failure, and a fixed ``max_examples`` of
  :data:`CI_MAX_EXAMPLES` for tests that do not set their own. Tests that do set one keep it (it is
  part of the test, sized to its cost): test_expressions_property 1500, test_sequences 300,
  test_plan_property 200, authoring/test_expressions 100-200, plan/test_properties 60,
  batch/test_property 30.
* ``dev`` - the default: random examples (a new corner each run), the local example database so a
  failure found once is replayed first, the same example counts.

Both set ``deadline=None``: a per-example deadline measures the machine's load, not the code (on two
busy cores an example can take seconds), so it only makes runs flaky; pytest-timeout bounds a hang.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.conftest_s3 import *  # noqa: F403  (the loopback S3 server fixtures)

REPO_ROOT = Path(__file__).resolve().parent.parent

CI_MAX_EXAMPLES = 100  # the "ci" profile's count for tests that do not set max_examples themselves

settings.register_profile(
    "ci",
    max_examples=CI_MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", parent=settings.get_profile("default"), deadline=None)


def hypothesis_profile() -> str:
    """``HYPOTHESIS_PROFILE``, else "ci" under CI (``CI`` set and not false), else "dev"."""
    if chosen := os.environ.get("HYPOTHESIS_PROFILE"):
        return chosen
    return "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false", "no") else "dev"


settings.load_profile(hypothesis_profile())


# The tests that start Dagster's own process trees (webserver, daemon, step processes): the longest work
# unit of `make test`, so it is collected first and xdist starts it at once, not half way through.
LONGEST_FIRST_GROUP = "dagster_processes"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def in_longest_group(item: pytest.Item) -> bool:
        return any(LONGEST_FIRST_GROUP in (*m.args, m.kwargs.get("name")) for m in item.iter_markers("xdist_group"))

    items.sort(key=lambda item: not in_longest_group(item))  # stable: everything else keeps its order


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
