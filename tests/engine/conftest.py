"""Artefacts for engine tests: the example configs compiled, sealed and loaded as a runtime loads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_platform.artefact import Artefact, parse_artefact
from feature_platform.compiler import compile_configs

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def artefacts() -> dict[str, Artefact]:
    result = compile_configs(REPO_ROOT / "feature_configs")
    assert result.ok, result.issues
    return {name: parse_artefact(sealed.data) for name, sealed in result.artefacts.items()}


@pytest.fixture(scope="session")
def engagements(artefacts: dict[str, Artefact]) -> Artefact:
    return artefacts["recent_engagements_v1"]


@pytest.fixture(scope="session")
def searches(artefacts: dict[str, Artefact]) -> Artefact:
    return artefacts["recent_searches_v1"]
