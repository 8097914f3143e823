"""Releasing compiled artefacts: plan against an environment, refuse what breaks a rule, publish, roll back.

Used by the CLI and by the Dagster publish assets, so both apply exactly the same rules: every path
judges a release with :func:`check_release` (CLI ``publish`` and the Dagster ``published`` step through
:func:`publish_release`, the Dagster ``validated`` step directly). Knows nothing of Dagster.
"""

from feature_platform.release.planning import live_artefacts, plan_release
from feature_platform.release.publisher import PublishOutcome, default_actor, publish_release
from feature_platform.release.revision import source_revision
from feature_platform.release.rules import (
    ARTEFACT_FORMAT,
    BREAKING_CHANGE,
    JSON_SCHEMA,
    ReleaseVerdict,
    RuleFailure,
    SealedBytes,
    check_release,
)

__all__ = [
    "ARTEFACT_FORMAT",
    "BREAKING_CHANGE",
    "JSON_SCHEMA",
    "PublishOutcome",
    "ReleaseVerdict",
    "RuleFailure",
    "SealedBytes",
    "check_release",
    "default_actor",
    "live_artefacts",
    "plan_release",
    "publish_release",
    "source_revision",
]
