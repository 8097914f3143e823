"""Loading the Dagster code location with a bad FP_* value fails with one line naming the variable (what the
Dagster UI shows as the code location's load error), not pydantic's multi-line dump."""

from __future__ import annotations

import pytest

from feature_platform.orchestration import build_definitions
from feature_platform.settings import SettingsError


@pytest.mark.parametrize(("variable", "value"), [("FP_SERVE_AUTH", "maybe"), ("FP_SERVE_MAX_IN_FLIGHT", "0")])
def test_a_bad_setting_names_the_variable_when_the_code_location_loads(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        build_definitions()
    assert str(caught.value).startswith(f"{variable}={value!r}: ")
    assert "\n" not in str(caught.value)
