"""One job per feature, so a person (or ``dagster job …``) never runs every feature to fix one.

Per feature ``F``:

``F``
    the whole chain of the feature for one day: ``compiled → validated → published → index → checks →
    watermark → online``. Daily partitioned (the release assets are not partitioned and run once in
    it); what the UI's *Materialize all* of the group does, as a named job.
``F__days``
    the daily part only (``index → checks → watermark → online``): what a range of days runs, so a
    backfill does not compile and publish again for every day. ``feature-platform dagster-backfill``
    submits one for a range (see :mod:`feature_platform.cli.dagster_cmds`).

Both use the code location's default executor (in process; :mod:`.executors`).
"""

from __future__ import annotations

import dagster as dg

from feature_platform.orchestration.catalogue import FeatureInfo
from feature_platform.orchestration.keys import feature_keys

DAYS_SUFFIX = "__days"


def days_job_name(feature_id: str) -> str:
    return f"{feature_keys(feature_id).events.path[0]}{DAYS_SUFFIX}"


def feature_jobs(info: FeatureInfo) -> list[dg.UnresolvedAssetJobDefinition]:
    """The feature's two jobs (partitioning is inferred from the assets: daily)."""
    keys = feature_keys(info.feature_id)
    group = dg.AssetSelection.groups(info.group)
    return [
        dg.define_asset_job(
            name=info.group, selection=group,
            description=f"{info.feature_id}, whole chain for one day: compile → validate → publish → index → "
            "contracts → watermark → online.",
        ),
        dg.define_asset_job(
            name=days_job_name(info.feature_id), selection=group - dg.AssetSelection.assets(*keys.release),
            description=f"{info.feature_id}, the daily part: index → contracts → watermark → online (one run per "
            "day in a backfill; the live artefact is used, nothing is compiled or published).",
        ),
    ]
