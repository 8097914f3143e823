"""Loading the Dagster code location with a bad FP_* value fails with one line naming the variable (what the
Dagster UI shows as the code location's load error), not pydantic's multi-line dump."""

from __future__ import annotations

import pytest

from feature_platform.orchestration import build_definitions
from feature_platform.settings import SettingsError


@pytest.mark.parametrize(("variable", "value"), [
    ("FP_SERVE_AUTH", "maybe"), ("FP_SERVE_MAX_IN_FLIGHT", "0"),
    # the code location's own settings (OrchestrationSettings)
    ("FP_PARTITIONS_START", "garbage"), ("FP_PARTITIONS_START", "9999-12-31"), ("FP_PARTITIONS_START", "1999-12-31"),
    ("FP_CONFIG_SENSOR_INTERVAL_SECONDS", "1"), ("FP_PROTECTED_ENVS", "prod staging"),
    ("FP_PROTECTED_ENVS", "prod;staging"),
])
def test_a_bad_setting_names_the_variable_when_the_code_location_loads(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        build_definitions()
    assert str(caught.value).startswith(f"{variable}={value!r}: ")
    assert "\n" not in str(caught.value)


def test_a_protected_envs_list_with_the_wrong_separator_is_refused_not_read_as_protecting_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """'prod staging' used to be one unknown environment name, so the config sensor published to prod."""
    from feature_platform.orchestration.settings import OrchestrationSettings

    monkeypatch.setenv("FP_PROTECTED_ENVS", "prod staging")
    with pytest.raises(SettingsError, match=r"FP_PROTECTED_ENVS='prod staging': .*separate environments with commas"):
        OrchestrationSettings()
    monkeypatch.setenv("FP_PROTECTED_ENVS", " prod , staging ,")
    settings = OrchestrationSettings()
    assert not settings.auto_publish("prod") and not settings.auto_publish("staging") and settings.auto_publish("dev")
