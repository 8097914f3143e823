"""Releasing compiled artefacts: plan against an environment, refuse breaking changes, publish, roll back.

Used by the CLI and by the Dagster publish assets, so both apply exactly the same rules.
"""

from feature_platform.release.publisher import PublishOutcome, live_artefacts, plan_release, publish_release
from feature_platform.release.revision import source_revision

__all__ = ["PublishOutcome", "live_artefacts", "plan_release", "publish_release", "source_revision"]
