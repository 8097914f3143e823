"""Lifecycle stages, and which dependencies each stage may have."""

from __future__ import annotations

from enum import StrEnum


class Lifecycle(StrEnum):
    """Where a config object is in its life. Production objects are the consumer contract."""

    EXPERIMENTAL = "experimental"
    STAGING = "staging"
    PRODUCTION = "production"
    DEPRECATED = "deprecated"


FORBIDDEN_DEPENDENCIES: dict[Lifecycle, frozenset[Lifecycle]] = {
    Lifecycle.PRODUCTION: frozenset({Lifecycle.EXPERIMENTAL, Lifecycle.DEPRECATED}),
    Lifecycle.STAGING: frozenset({Lifecycle.DEPRECATED}),
}
"""A sequence at the key's stage may not depend on event types or enrichments at these stages."""
