"""Sequence features: the consumer contract — which events, how many, how old, which fields, how fresh."""

from __future__ import annotations

from pydantic import Field, StrictInt, StrictStr

from feature_platform.authoring._base import ConfigModel, ConfigObject, Duration
from feature_platform.authoring.enrichments import Ref
from feature_platform.authoring.lifecycle import Lifecycle


class Freshness(ConfigModel):
    """The documented profile: how fresh the streaming path is and how complete the batch path is."""

    streaming_max_lag: Duration = Field(description="An event is servable within this lag of its time.")
    batch_max_lag: Duration = Field(description="The batch snapshot is never older than this.")
    batch_deadline_cron: StrictStr | None = Field(
        default=None, description="Cron (UTC) by which each day's batch partition is due, e.g. '0 6 * * *'."
    )


class SequenceFeature(ConfigObject):
    """The last ``max_length`` relevant events of a user, within ``retention``, most recent first."""

    kind_label = "sequence feature"

    version: StrictInt = Field(default=1, description="Bumped for a breaking change; the id is <name>_v<version>.")
    lifecycle: Lifecycle = Field(default=Lifecycle.EXPERIMENTAL, description="Lifecycle stage.")
    event_types: tuple[Ref, ...] = Field(description="Event types the sequence draws from.")
    max_length: StrictInt = Field(description="N: at most this many events per user.")
    retention: Duration = Field(description="Events older than this (relative to the as-of time) are dropped.")
    fields: tuple[StrictStr, ...] = Field(
        description="Projection: the fields each element exposes (event_id, timestamp and event_type always are)."
    )
    dedup_by: tuple[StrictStr, ...] = Field(
        default=("event_id",),
        description="Events equal on these fields are duplicates; the most recent one is kept.",
    )
    freshness: Freshness = Field(description="Freshness and completeness profile.")
    serving_default_length: StrictInt | None = Field(
        default=None, description="Elements returned by serving when the request sets no n."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Free-form labels (e.g. surface, model).")

    @property
    def feature_id(self) -> str:
        return f"{self.name}_v{self.version}"
