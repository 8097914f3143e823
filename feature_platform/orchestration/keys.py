"""The one table of asset keys and check names, so every module (and every test) spells them alike.

Per feature ``F`` (the feature id, e.g. ``recent_engagements_v1``)::

    F/compiled → F/validated → F/published → F/events, F/rejects, F/snapshots → F/watermark

with ``raw/<source>`` (shared by every feature reading that source) upstream of ``F/events``, and the
``feature_configs`` asset on its own, for the config package as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from feature_platform.orchestration.catalogue import dagster_name

RAW_PREFIX = "raw"
RAW_GROUP = "raw_sources"
CONFIGS_GROUP = "feature_configs"
CONFIGS_KEY = dg.AssetKey(["feature_configs"])

CONFIGS_VALID = "all_configs_valid"
CONFIG_VALID = "config_valid"
RELEASE_ALLOWED = "release_allowed"
ARTEFACT_INTEGRITY = "artefact_integrity"
DATA_CONTRACT = "data_contract"


@dataclass(frozen=True)
class FeatureKeys:
    """The asset keys of one feature's group."""

    feature_id: str
    compiled: dg.AssetKey
    validated: dg.AssetKey
    published: dg.AssetKey
    events: dg.AssetKey
    rejects: dg.AssetKey
    snapshots: dg.AssetKey
    watermark: dg.AssetKey

    @property
    def release(self) -> tuple[dg.AssetKey, dg.AssetKey, dg.AssetKey]:
        """compile → validate → publish: what the config sensor requests when a config changes."""
        return (self.compiled, self.validated, self.published)

    @property
    def release_checks(self) -> tuple[dg.AssetCheckKey, dg.AssetCheckKey, dg.AssetCheckKey]:
        """The gates of compile → validate → publish."""
        return (
            dg.AssetCheckKey(self.compiled, CONFIG_VALID),
            dg.AssetCheckKey(self.validated, RELEASE_ALLOWED),
            dg.AssetCheckKey(self.published, ARTEFACT_INTEGRITY),
        )

    @property
    def batch(self) -> tuple[dg.AssetKey, dg.AssetKey, dg.AssetKey, dg.AssetKey]:
        """The daily-partitioned assets."""
        return (self.events, self.rejects, self.snapshots, self.watermark)

    @property
    def all(self) -> tuple[dg.AssetKey, ...]:
        return (*self.release, *self.batch)


def feature_keys(feature_id: str) -> FeatureKeys:
    prefix = dagster_name(feature_id)
    return FeatureKeys(
        feature_id=feature_id,
        **{name: dg.AssetKey([prefix, name]) for name in
           ("compiled", "validated", "published", "events", "rejects", "snapshots", "watermark")},
    )


def raw_key(source: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_PREFIX, dagster_name(source)])
