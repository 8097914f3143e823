"""Fixtures for the plan tests: the example configs, compiled in memory once per session."""

from __future__ import annotations

import pytest

from feature_platform.artefact.format import Artefact
from tests.plan.variants import compile_examples


@pytest.fixture(scope="session")
def artefacts() -> dict[str, Artefact]:
    """The example artefacts by feature id (compiled, never written)."""
    return compile_examples()
