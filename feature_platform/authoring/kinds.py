"""The one table of config kinds. Discovery, validation, the catalogue and test helpers all iterate it."""

from __future__ import annotations

from dataclasses import dataclass

from feature_platform.authoring._base import ConfigObject
from feature_platform.authoring.enrichments import Enrichment
from feature_platform.authoring.event_types import EventType
from feature_platform.authoring.sequences import SequenceFeature
from feature_platform.authoring.sources import Source


@dataclass(frozen=True)
class ConfigKind:
    """One kind of config object."""

    key: str
    cls: type[ConfigObject]
    label: str
    plural: str


KINDS: tuple[ConfigKind, ...] = (
    ConfigKind("source", Source, "source", "sources"),
    ConfigKind("enrichment", Enrichment, "enrichment", "enrichments"),
    ConfigKind("event_type", EventType, "event type", "event_types"),
    ConfigKind("sequence_feature", SequenceFeature, "sequence feature", "sequence_features"),
)


def kind_of(obj: ConfigObject) -> ConfigKind:
    for kind in KINDS:
        if isinstance(obj, kind.cls):
            return kind
    msg = f"{type(obj).__name__} is not a known config kind"
    raise TypeError(msg)
