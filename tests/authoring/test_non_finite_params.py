"""JSON cannot hold NaN or infinities, so a definition holding one is refused where it is written."""

from __future__ import annotations

import math

import pytest

from feature_platform.authoring import PluginCall, PluginEnrichment
from feature_platform.errors import ConfigDefinitionError


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_plugin_parameter_is_refused(value: float) -> None:
    with pytest.raises(ConfigDefinitionError) as caught:
        PluginEnrichment(name="bad_params", call=PluginCall(plugin="dwell_bucketiser", params={"x": [1.0, value]}))
    message = str(caught.value)
    assert "plugin enrichment" not in message or "bad_params" in message
    assert "call.params.x[1]" in message or "params.x[1]" in message
    assert "JSON cannot hold NaN or infinities" in message
