"""Plan and publish a compiled set against one environment of the artefact store."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from feature_platform.artefact.format import Artefact
from feature_platform.errors import PublishRefusedError, StoreError
from feature_platform.plan import Plan, Transition, plan_changes
from feature_platform.store import ArtefactStore, AuditEntry


@dataclass(frozen=True)
class SealedBytes:
    """What publish needs of a compiled artefact: the model and its canonical bytes."""

    artefact: Artefact
    data: bytes


@dataclass
class PublishOutcome:
    """What a publish did: the plan it followed and the pointer changes it made."""

    plan: Plan
    published: list[AuditEntry] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_unpublished: list[str] = field(default_factory=list)


def default_actor() -> str:
    return os.environ.get("FP_ACTOR") or getpass.getuser()


def live_artefacts(store: ArtefactStore, env: str) -> dict[str, Artefact]:
    """The artefact live in ``env`` for every feature that has a pointer there (hash-verified)."""
    return {feature_id: store.load_live(env, feature_id) for feature_id in store.list_features(env)}


def plan_release(
    compiled: Mapping[str, Artefact], store: ArtefactStore, env: str, features: Sequence[str] | None = None
) -> Plan:
    """Diff the compiled set (or the named features of it) against what is live in ``env``."""
    live = live_artefacts(store, env)
    if features:
        _check_known(features, compiled, live)
        compiled = {k: v for k, v in compiled.items() if k in features}
        live = {k: v for k, v in live.items() if k in features}
    return plan_changes(compiled, live)


def publish_release(
    compiled: Mapping[str, SealedBytes],
    store: ArtefactStore,
    env: str,
    *,
    features: Sequence[str] | None = None,
    actor: str | None = None,
    source_revision: str | None = None,
) -> PublishOutcome:
    """Publish every created or changed feature, after refusing the whole release if any is breaking.

    Artefacts are stored (immutable, content-addressed) before any pointer moves; each pointer then
    moves by compare-and-set from the version the plan was made against, so a concurrent publish in
    between is detected instead of silently overwritten. Features removed from the configs keep their
    pointers: unpublishing is a deliberate act, not a side effect of deleting a file.
    """
    plan = plan_release({k: v.artefact for k, v in compiled.items()}, store, env, features)
    if plan.breaking:
        lines = [f"refusing to publish to {env!r}: {len(plan.breaking)} breaking change(s) to production features"]
        for diff in plan.breaking:
            lines.append(f"  {diff.feature_id}: {diff.advice}")
        raise PublishRefusedError("\n".join(lines))
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


def _check_known(features: Sequence[str], compiled: Mapping[str, Artefact], live: Mapping[str, Artefact]) -> None:
    unknown = sorted(set(features) - set(compiled) - set(live))
    if unknown:
        known = ", ".join(sorted(set(compiled) | set(live))) or "none"
        msg = f"unknown feature(s) {', '.join(unknown)} (known: {known})"
        raise StoreError(msg)
