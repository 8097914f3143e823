"""Event types: which raw events are relevant, how they are normalised, and how they are enriched."""

from __future__ import annotations

from pydantic import Field

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


