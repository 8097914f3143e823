"""The typed result of planning: what would change, field by field, and how much it would cost.

A plan is pure data: computing it touches no store and no index, so the same plan can be shown to a
person (``render_text``), archived or reviewed as JSON (``render_json``) and then handed to whatever
applies it, which refuses :attr:`Plan.breaking` changes. The models are frozen so a plan cannot be
edited between review and apply.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, PlainSerializer

from feature_platform.artefact.format import Lifecycle
from feature_platform.errors import FeaturePlatformError


class PlanError(FeaturePlatformError, ValueError):
    """The inputs to a plan are inconsistent (an artefact filed under another feature's id)."""


class Impact(IntEnum):
    """What applying a change costs, ordered by severity so ``max()`` gives a feature's overall impact.

    >>> max(Impact.SERVING_ONLY, Impact.BACKFILL).label
    'backfill'
    >>> Impact.METADATA_ONLY < Impact.BREAKING
    True
    """

    METADATA_ONLY = 1
    """Documentation and ownership only: publish, nothing to recompute."""
    SERVING_ONLY = 2
    """Changes how online serving answers or is monitored; the batch index stays valid."""
    BACKFILL = 3
    """Changes what the batch index holds: it must be rebuilt (or built, for a new feature)."""
    BREAKING = 4
    """Changes a production feature's output schema in place: refused, publish a new version instead."""

    @property
    def label(self) -> str:
        """The lower-case name used in JSON and text (``"metadata_only"``)."""
        return self.name.lower()

    @classmethod
    def from_label(cls, value: object) -> object:
        """Accept ``"backfill"`` / ``"BACKFILL"`` as well as members, so a JSON plan parses back."""
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        return value


def _impact_label(impact: Impact) -> str:
    return impact.label


ImpactField = Annotated[
    Impact,
    BeforeValidator(Impact.from_label),
    PlainSerializer(_impact_label, return_type=str, when_used="json"),
]


class Transition(StrEnum):
    """What happens to a feature as a whole, as in Feast's ``TransitionType``."""

    CREATE = "create"
    DELETE = "delete"
    UPDATE = "update"
    UNCHANGED = "unchanged"


class ChangeKind(StrEnum):
    """How one path differs: it appeared, disappeared, took another value, or its items moved."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    REORDERED = "reordered"
    """A named list kept its items but not their order; ``old``/``new`` are the item names in order."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldChange(_Frozen):
    """One difference between the live and the compiled artefact document."""

    path: str = Field(description="Dotted path into the artefact JSON, named list items as `[name]`.")
    kind: ChangeKind = Field(description="Added, removed, changed or reordered.")
    old: JsonValue = Field(description="Live value (null when added).")
    new: JsonValue = Field(description="Compiled value (null when removed).")
    impact: ImpactField = Field(description="Cost of this change, from the impact table.")
    rule: str = Field(description="The impact-table pattern that classified this path.")


class FeatureDiff(_Frozen):
    """Everything that would change for one feature id, with its overall impact."""

    feature_id: str = Field(description="`<name>_v<version>`.")
    name: str = Field(description="Feature name, without the version.")
    version: int = Field(description="Feature version.")
    transition: Transition = Field(description="Create, delete, update or unchanged.")
    old_lifecycle: Lifecycle | None = Field(description="Lifecycle of the live artefact, if any.")
    new_lifecycle: Lifecycle | None = Field(description="Lifecycle of the compiled artefact, if any.")
    old_content_hash: str | None = Field(description="Content hash of the live artefact, if any.")
    new_content_hash: str | None = Field(description="Content hash of the compiled artefact, if any.")
    impact: ImpactField | None = Field(description="Max impact of the changes; null when unchanged.")
    changes: list[FieldChange] = Field(description="Field changes of an update, sorted by path.")
    advice: str | None = Field(description="How to make a breaking change safely; null otherwise.")

    @property
    def production(self) -> bool:
        """Whether the feature is or was in production: its output schema is then a contract."""
        return "production" in (self.old_lifecycle, self.new_lifecycle)

    @property
    def is_breaking(self) -> bool:
        return self.impact is Impact.BREAKING


class Plan(_Frozen):
    """The diff of a whole compiled set against what an environment has live."""

    diffs: list[FeatureDiff] = Field(description="One entry per feature id in either set, sorted by id.")

    @property
    def breaking(self) -> list[FeatureDiff]:
        """Diffs that must be refused: breaking changes to production features."""
        return [d for d in self.diffs if d.is_breaking]

    @property
    def has_changes(self) -> bool:
        return any(d.transition is not Transition.UNCHANGED for d in self.diffs)

    @property
    def impact(self) -> Impact | None:
        """The most severe impact over all features; ``None`` when nothing changes."""
        impacts = [d.impact for d in self.diffs if d.impact is not None]
        return max(impacts) if impacts else None

    def by_transition(self, transition: Transition) -> list[FeatureDiff]:
        """Diffs with ``transition``, in id order."""
        return [d for d in self.diffs if d.transition is transition]

    def summary(self) -> dict[str, int]:
        """Counts per transition, keyed by the transition's value."""
        return {t.value: len(self.by_transition(t)) for t in Transition}
