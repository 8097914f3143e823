"""Plan and publish a compiled set against one environment of the artefact store."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from feature_platform.plan import Plan, Transition
from feature_platform.release.planning import live_artefacts, plan_release
from feature_platform.release.rules import SealedBytes, check_release
from feature_platform.settings import SettingsError, control_character_problem
from feature_platform.store import ArtefactStore, AuditEntry

__all__ = ["PublishOutcome", "SealedBytes", "default_actor", "live_artefacts", "plan_release", "publish_release"]


@dataclass
class PublishOutcome:
    """What a publish did: the plan it followed and the pointer changes it made."""

    plan: Plan
    published: list[AuditEntry] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_unpublished: list[str] = field(default_factory=list)


def default_actor() -> str:
    """Who the audit log names when the caller does not say: ``$FP_ACTOR``, else the OS user. A name holding
    a control character (a newline would forge lines in ``history``) is a :class:`SettingsError` naming it."""
    if actor := os.environ.get("FP_ACTOR"):
        origin = "FP_ACTOR"
    else:
        actor, origin = getpass.getuser(), "the OS user name (LOGNAME, USER)"
    if problem := control_character_problem(actor):
        msg = f"{origin}={actor!r} {problem}: it is written to the audit log"
        raise SettingsError(msg)
    return actor


def publish_release(
    compiled: Mapping[str, SealedBytes],
    store: ArtefactStore,
    env: str,
    *,
    features: Sequence[str] | None = None,
    actor: str | None = None,
    source_revision: str | None = None,
) -> PublishOutcome:
    """Publish every created or changed feature, after refusing the whole release if it breaks any rule.

    Artefacts are stored (immutable, content-addressed) before any pointer moves; each pointer then
    moves by compare-and-set from the version the plan was made against, so a concurrent publish in
    between is detected instead of silently overwritten. Features removed from the configs keep their
    pointers: unpublishing is a deliberate act, not a side effect of deleting a file.

    The rules are :func:`~feature_platform.release.rules.check_release` (format, JSON Schema, no
    breaking change), the very function the Dagster gate calls; a refusal raises
    :class:`~feature_platform.errors.PublishRefusedError` before anything is stored.
    """
    verdict = check_release(compiled, store, env, features)  # the same rules as the Dagster gate
    verdict.raise_if_refused()
    plan = verdict.plan
    outcome = PublishOutcome(plan=plan)
    who = actor or default_actor()
    for diff in plan.diffs:
        if diff.transition is Transition.DELETE:
            outcome.not_unpublished.append(diff.feature_id)
            continue
        if diff.transition is Transition.UNCHANGED:
            outcome.unchanged.append(diff.feature_id)
            continue
        sealed = compiled[diff.feature_id]
        content_hash = store.put_artefact(sealed.data)
        outcome.published.append(
            store.publish(
                env, diff.feature_id, content_hash, actor=who, source_revision=source_revision,
                expected_from=diff.old_content_hash,  # the version the plan was made against
                message=f"{diff.transition.value}: impact {diff.impact.label if diff.impact else 'none'}",
            )
        )
    return outcome

