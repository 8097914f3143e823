"""The suite's own machinery: xdist groups really group, pytest-timeout and the Hypothesis profile are on.

pytest 9.2 with pytest-xdist 3.8 silently stopped honouring ``xdist_group`` (pytest-dev/pytest-xdist#1386),
which is why pyproject.toml holds pytest below 9.2; the first test turns such a regression red.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from tests.conftest import hypothesis_profile


@pytest.mark.xdist_group("hygiene")
def test_loadgroup_puts_the_group_into_the_node_id(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only meaningful in an xdist worker under --dist loadgroup (make test)")
    # LoadGroupScheduling schedules by this suffix; without it the group's tests are spread over workers
    assert request.node.nodeid.endswith("@hygiene"), request.node.nodeid


def test_every_test_has_a_timeout(request: pytest.FixtureRequest) -> None:
    assert float(request.config.getini("timeout")) > 0


def test_the_selected_hypothesis_profile_is_loaded() -> None:
    assert settings.get_current_profile_name() == hypothesis_profile()
    assert settings.default.deadline is None
    if hypothesis_profile() == "ci":
        assert settings.default.derandomize and settings.default.database is None
