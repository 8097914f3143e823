"""Event types: which raw events are relevant, how they are normalised, and how they are enriched."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from feature_platform.authoring._base import ConfigObject
from feature_platform.authoring.enrichments import PluginCall, Ref
from feature_platform.authoring.expressions import Expr
from feature_platform.authoring.lifecycle import Lifecycle

CORE_FIELDS = ("event_id", "user_id", "timestamp")
"""Normalised fields every event type must produce."""


class EventType(ConfigObject):
    """One kind of user event drawn from a source."""

    kind_label = "event type"

    lifecycle: Lifecycle = Field(default=Lifecycle.EXPERIMENTAL, description="Lifecycle stage.")
    source: Ref = Field(description="The events source it reads.")
    filter: Expr | None = Field(default=None, description="Boolean expression selecting relevant raw rows.")
    fields: dict[str, Expr] = Field(
        description="Normalised field -> expression over raw columns; must include event_id, user_id, timestamp."
    )
    executor: PluginCall | None = Field(default=None, description="Executor plugin run after the mapping.")
    enrichments: tuple[Ref, ...] = Field(default=(), description="Enrichments applied, in order.")

    @field_validator("filter", mode="before")
    @classmethod
    def _filter_is_an_expression(cls, value: Any) -> Any:
        """A Python ``True``/``False`` is what Python made of a test it ran itself when the config was imported
        (``"click" == "click"``, ``x in [...]``): it would keep every row, or none, without saying so."""
        if isinstance(value, bool):
            msg = (f"the Python value {value} is not an expression: Python computed it when the config was "
                   "imported; write an expression over the source's fields (e.g. col(\"action\") == \"click\"), or "
                   "leave filter out to keep every row")
            raise ValueError(msg)
        return value
