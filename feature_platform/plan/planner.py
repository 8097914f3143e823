"""Plan: compare a compiled set of artefacts with the live set of an environment, feature by feature.

This works on :mod:`feature_platform.artefact` models only (never the authoring API or the compiler),
so a runtime or the publish step can plan against whatever it loaded from the store.
"""

from __future__ import annotations

from collections.abc import Mapping

from feature_platform.artefact.format import Artefact
from feature_platform.plan.diff import diff_artefacts
from feature_platform.plan.impact import CREATE_IMPACT, classify, delete_impact
from feature_platform.plan.models import FeatureDiff, FieldChange, Impact, Plan, PlanError, Transition


def plan_changes(compiled: Mapping[str, Artefact], live: Mapping[str, Artefact]) -> Plan:
    """Diff every feature id in ``compiled`` (what would be published) or ``live`` (what is published).

    Both mappings are keyed by feature id; an artefact filed under another id raises :class:`PlanError`
    (a plan over mislabelled inputs would swap the wrong pointer). Diffs are sorted by id.
    """
    for side, artefacts in (("compiled", compiled), ("live", live)):
        for feature_id in sorted(artefacts):
            actual = artefacts[feature_id].feature.id
            if actual != feature_id:
                msg = f"{side} artefact filed under {feature_id!r} is feature {actual!r}"
                raise PlanError(msg)
    taken = _versions_by_name([*compiled.values(), *live.values()])
    diffs = [
        diff_feature(compiled.get(feature_id), live.get(feature_id), taken_versions=taken)
        for feature_id in sorted(compiled.keys() | live.keys())
    ]
    return Plan(diffs=diffs)


def diff_feature(
    compiled: Artefact | None,
    live: Artefact | None,
    *,
    taken_versions: Mapping[str, frozenset[int]] | None = None,
) -> FeatureDiff:
    """The diff of one feature: ``compiled`` is the new artefact, ``live`` the published one.

    ``taken_versions`` (feature name -> versions that exist anywhere) lets the advice for a breaking
    change name a version that is actually free; without it, the next version after this one is named.
    """
    reference = compiled if compiled is not None else live
    if reference is None:
        msg = "diff_feature needs at least one artefact"
        raise PlanError(msg)
    if compiled is not None and live is not None and compiled.feature.id != live.feature.id:
        msg = f"cannot diff feature {compiled.feature.id!r} against {live.feature.id!r}"
        raise PlanError(msg)
    feature = reference.feature
    old_lifecycle = live.feature.lifecycle if live is not None else None
    new_lifecycle = compiled.feature.lifecycle if compiled is not None else None
    production = "production" in (old_lifecycle, new_lifecycle)

    changes: list[FieldChange] = []
    impact: Impact | None
    if compiled is None:
        transition, impact = Transition.DELETE, delete_impact(production=production)
    elif live is None:
        transition, impact = Transition.CREATE, CREATE_IMPACT
    else:
        for change in diff_artefacts(live, compiled):
            change_impact, rule = classify(change.path, production=production)
            changes.append(FieldChange(
                path=change.path_text, kind=change.kind, old=change.old, new=change.new, impact=change_impact,
                rule=rule,
            ))
        transition = Transition.UPDATE if changes else Transition.UNCHANGED
        impact = max(c.impact for c in changes) if changes else None

    taken = (taken_versions or {}).get(feature.name, frozenset({feature.version}))
    advice = _advice(transition, feature.name, feature.version, taken) if impact is Impact.BREAKING else None
    return FeatureDiff(
        feature_id=feature.id, name=feature.name, version=feature.version, transition=transition,
        old_lifecycle=old_lifecycle, new_lifecycle=new_lifecycle,
        old_content_hash=live.content_hash if live is not None else None,
        new_content_hash=compiled.content_hash if compiled is not None else None,
        impact=impact, changes=changes, advice=advice,
    )


def _versions_by_name(artefacts: list[Artefact]) -> dict[str, frozenset[int]]:
    versions: dict[str, set[int]] = {}
    for artefact in artefacts:
        versions.setdefault(artefact.feature.name, set()).add(artefact.feature.version)
    return {name: frozenset(found) for name, found in sorted(versions.items())}


def _advice(transition: Transition, name: str, version: int, taken: frozenset[int]) -> str:
    """How to reach the same result without breaking the consumers of a production feature."""
    if transition is Transition.DELETE:
        return (
            f"removing production feature `{name}_v{version}` breaks its consumers: set its `lifecycle=` to "
            "deprecated and publish that first, move consumers off it, then remove it"
        )
    next_version = max(taken | {version}) + 1
    return (
        f"bump `version=` on the SequenceFeature to publish it as `{name}_v{next_version}` alongside the old "
        f"one (keep the `version={version}` definition until its consumers have moved)"
    )
