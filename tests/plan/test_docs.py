"""The examples in the plan package's docstrings run, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "feature_platform.plan._paths",
    "feature_platform.plan.diff",
    "feature_platform.plan.impact",
    "feature_platform.plan.models",
    "feature_platform.plan.render",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
