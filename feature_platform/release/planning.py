"""Plan a compiled set against what is live in one environment of the artefact store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from feature_platform.artefact.format import Artefact
from feature_platform.errors import ArtefactError, StoreError
from feature_platform.plan import Plan, plan_changes
from feature_platform.store import ArtefactStore


def live_artefacts(store: ArtefactStore, env: str, features: Sequence[str] | None = None) -> dict[str, Artefact]:
    """The artefact live in ``env`` for every feature that has a pointer there (hash-verified), or only
    for ``features``: one feature's damaged artefact or audit log must not block work on the others.

    Each log is judged whole (:meth:`~feature_platform.store.ArtefactStore.live_entry`, the judgement of
    ``history``, ``store verify`` and ``store repair``), not by the runtimes' cheap read: a plan that calls a
    damaged log "unchanged", or a publish that appends to it, would hide the damage."""
    wanted = None if features is None else set(features)
    live: dict[str, Artefact] = {}
    damaged: list[str] = []
    for feature_id in store.list_features(env):
        if wanted is not None and feature_id not in wanted:
            continue
        try:
            entry = store.live_entry(env, feature_id)
            if entry is not None:  # None: an empty log folder, nothing was ever published
                live[feature_id] = store.artefact_of(entry)
        except (StoreError, ArtefactError) as exc:
            damaged.append(f"{feature_id}: {exc}")
    if damaged:
        others = sorted(set(store.list_features(env)) - {d.split(":", 1)[0] for d in damaged})
        msg = (
            f"the live version of {len(damaged)} feature(s) in {env!r} cannot be read, so nothing was planned: "
            f"{'; '.join(damaged)}. Run `feature-platform store verify --env {env}` for the repair"
            + (
                f"; the other features can still be planned and published with --feature ({', '.join(others)})"
                if others
                else ""
            )
        )
        raise StoreError(msg)
    return live


def plan_release(
    compiled: Mapping[str, Artefact], store: ArtefactStore, env: str, features: Sequence[str] | None = None
) -> Plan:
    """Diff the compiled set (or the named features of it) against what is live in ``env``."""
    if features:
        _check_known(features, compiled, store.list_features(env))
        compiled = {k: v for k, v in compiled.items() if k in features}
    return plan_changes(compiled, live_artefacts(store, env, features or None))


def _check_known(features: Sequence[str], compiled: Mapping[str, Artefact], live: Sequence[str]) -> None:
    """A typo in ``--feature`` must fail loudly, not plan (and publish) nothing."""
    unknown = sorted(set(features) - set(compiled) - set(live))
    if unknown:
        known = ", ".join(sorted(set(compiled) | set(live))) or "none"
        msg = f"unknown feature(s) {', '.join(unknown)} (known: {known})"
        raise StoreError(msg)
