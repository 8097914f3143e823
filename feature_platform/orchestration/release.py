"""The compile → validate → publish steps of one feature, as the bodies of its first three assets.

The hand-off between steps is the artefact store plus the Dagster event log, never a local file:
``compiled`` stores the candidate artefact (immutable, content-addressed, not live) and records its
hash in its materialisation; ``validated`` and ``published`` read that hash from the latest
materialisation of the asset before them and fetch the bytes, hash-verified, from the store. Any
step can therefore run in its own process, pod or machine, and re-running ``published`` alone
publishes exactly what was last validated.

Gates (blocking, ERROR): ``compiled`` carries ``config_valid`` (every compile issue in its metadata),
``validated`` carries ``release_allowed`` (the release rules of :mod:`feature_platform.release.rules`:
artefact format and JSON Schema, and no breaking change to a production feature — the same function
CLI ``publish`` applies, and ``published`` applies it once more before moving the pointer); a failure
stops the run before anything downstream. The integrity of what is live is checked after publishing
(:mod:`feature_platform.orchestration.checks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from dagster._check import CheckError

from feature_platform.artefact import Artefact, parse_artefact
from feature_platform.compiler import ValidationIssue
from feature_platform.errors import FeaturePlatformError, PublishRefusedError
from feature_platform.orchestration import metadata as md
from feature_platform.orchestration.keys import CONFIG_VALID, RELEASE_ALLOWED, FeatureKeys
from feature_platform.orchestration.resources import (
    ArtefactStoreResource,
    DataLocationsResource,
    FeatureConfigsResource,
    ReleaseTargetResource,
)
from feature_platform.plan import Impact, Transition
from feature_platform.release import SealedBytes, check_release, publish_release, source_revision
from feature_platform.store import layout

CONTENT_HASH = "content_hash"


def compile_feature(
    context: dg.AssetExecutionContext, keys: FeatureKeys, configs: FeatureConfigsResource,
    artefact_store: ArtefactStoreResource,
) -> dg.MaterializeResult:
    """Compile the package; store this feature's artefact as a candidate, or report why not."""
    result = configs.compile()
    sealed = result.artefacts.get(keys.feature_id)
    if sealed is None:
        issues = list(result.issues) or [_missing_feature_issue(keys.feature_id, configs.configs_dir)]
        context.log.error(f"{keys.feature_id}: the configs do not compile ({len(issues)} issue(s))")
        return dg.MaterializeResult(
            metadata={"valid": False, "issue_count": len(issues), "issues": md.issues_markdown(issues)},
            check_results=[
                dg.AssetCheckResult(
                    check_name=CONFIG_VALID, passed=False, severity=dg.AssetCheckSeverity.ERROR,
                    metadata={
                        "issue_count": len(issues),
                        "issues": md.issues_markdown(issues),
                        "first_issue": issues[0].render(),
                    },
                )
            ],
        )
    store = artefact_store.get_store()
    content_hash = store.put_artefact(sealed.data)
    artefact = sealed.artefact
    return dg.MaterializeResult(
        metadata={
            "valid": True,
            CONTENT_HASH: content_hash,
            "config_hash": artefact.config_hash,
            "format_version": artefact.format_version,
            "compiler_version": artefact.compiler_version,
            "artefact": dg.MetadataValue.path(f"{store.describe()}/{layout.object_key(content_hash)}"),
            "summary": md.artefact_markdown(artefact),
            "dagster/column_schema": md.column_schema(artefact.feature.fields),
        },
        data_version=dg.DataVersion(content_hash),
        check_results=[
            dg.AssetCheckResult(
                check_name=CONFIG_VALID, passed=True, metadata={"issue_count": 0, CONTENT_HASH: content_hash}
            )
        ],
    )


def validate_feature(
    context: dg.AssetExecutionContext, keys: FeatureKeys, artefact_store: ArtefactStoreResource,
    release_target: ReleaseTargetResource,
) -> dg.MaterializeResult:
    """Re-verify the candidate and judge it by the release rules against the target environment.

    The rules are :func:`feature_platform.release.check_release`, the function CLI ``publish`` (and
    the ``published`` step, again, at the moment it moves the pointer) applies, so what passes here is
    what the CLI would publish and nothing else.
    """
    content_hash = latest_content_hash(context, keys.compiled)
    store = artefact_store.get_store()
    data = store.get_artefact_bytes(content_hash)  # hash-verified
    artefact = parse_artefact(data, expected_hash=content_hash, origin=f"candidate {content_hash[:12]}")
    verdict = check_release({keys.feature_id: SealedBytes(artefact=artefact, data=data)}, store,
                            release_target.env, [keys.feature_id])  # the rules CLI publish applies
    plan = verdict.plan
    diff = plan.diffs[0]
    failures = verdict.failures_of(keys.feature_id)
    check_meta: dict[str, Any] = {"env": release_target.env, "transition": diff.transition.value,
                                  "impact": diff.impact.label if diff.impact else "none"}
    if failures:
        check_meta["failed_rules"] = ", ".join(sorted(failures))
        check_meta.update({f"rule:{k}": v for k, v in failures.items()})
    return dg.MaterializeResult(
        metadata={
            CONTENT_HASH: content_hash,
            "env": release_target.env,
            "transition": diff.transition.value,
            "impact": diff.impact.label if diff.impact else "none",
            "changes": len(diff.changes),
            "plan": md.plan_markdown(plan),
        },
        data_version=dg.DataVersion(content_hash),
        check_results=[
            dg.AssetCheckResult(
                check_name=RELEASE_ALLOWED, passed=not failures, severity=dg.AssetCheckSeverity.ERROR,
                metadata=check_meta,
            )
        ],
    )


def publish_feature(
    context: dg.AssetExecutionContext, keys: FeatureKeys, configs: FeatureConfigsResource,
    artefact_store: ArtefactStoreResource, release_target: ReleaseTargetResource,
    data_locations: DataLocationsResource,
) -> dg.MaterializeResult:
    """Make the validated artefact live in the target environment (compare-and-set, audited); when the
    plan's impact is ``backfill`` (a new feature, or a change to what the tables hold), request the
    re-index of its retention window."""
    content_hash = latest_content_hash(context, keys.validated)
    store = artefact_store.get_store()
    data = store.get_artefact_bytes(content_hash)
    artefact = parse_artefact(data, expected_hash=content_hash)
    env = release_target.env
    try:
        outcome = publish_release(
            {keys.feature_id: SealedBytes(artefact=artefact, data=data)}, store, env,
            features=[keys.feature_id], actor=release_target.who(context.run.run_id),
            source_revision=source_revision(Path(configs.configs_dir)),
        )
    except PublishRefusedError as exc:
        raise dg.Failure(description=str(exc), metadata={"env": env, CONTENT_HASH: content_hash}) from exc
    entry = store.current(env, keys.feature_id)
    if entry is None or entry.to_hash != content_hash:
        live = entry.to_hash[:12] if entry else "nothing"
        msg = f"{keys.feature_id} in {env!r}: published {content_hash[:12]} but {live} is live"
        raise dg.Failure(description=msg)
    diff = outcome.plan.diffs[0]
    changed = diff.transition is not Transition.UNCHANGED
    context.log.info(
        f"{keys.feature_id} in {env!r}: {'published' if changed else 'already live'} {content_hash[:12]} "
        f"(generation {entry.generation})"
    )
    reindex = "none"
    if changed and diff.impact is Impact.BACKFILL:  # a new feature, or a change to what the tables hold
        reindex = request_reindex(context, keys, artefact, data_locations)
    return dg.MaterializeResult(
        metadata={
            CONTENT_HASH: content_hash,
            "env": env,
            "store": store.describe(),
            "transition": diff.transition.value,
            "generation": entry.generation,
            "previous_hash": entry.from_hash or "",
            "published_by": entry.actor,
            "source_revision": entry.source_revision or "",
            "plan": md.plan_markdown(outcome.plan),
            "reindex": reindex,
        },
        data_version=dg.DataVersion(content_hash),
    )


def request_reindex(
    context: dg.AssetExecutionContext, keys: FeatureKeys, artefact: Artefact, data_locations: DataLocationsResource
) -> str:
    """Submit a backfill of the feature's daily assets over its retention window (days with raw data up
    to the latest complete day); the daemon runs it day by day. Returns what was requested, for the UI."""
    from feature_platform.orchestration.backfill import reindex_window, submit_backfill

    try:
        graph: Any = context.repository_def.asset_graph
    except CheckError:  # executed in process (``materialize``) with no repository: the code location's
        from feature_platform.orchestration.code_location import build_definitions

        graph = build_definitions().resolve_asset_graph()
    if not graph.has(keys.events):
        return "none (the feature's daily assets are not in the code location yet)"
    partitions_def = graph.get(keys.events).partitions_def
    if partitions_def is None:
        return "none"
    window = reindex_window(artefact, data_locations.table_locations(), partitions_def)
    if window is None:
        context.log.info(f"{keys.feature_id}: no raw data in its retention window; nothing to index")
        return "none (no raw data in the window)"
    first, last = window
    backfill_id = submit_backfill(context.instance, keys.feature_id, first, last, asset_graph=graph,
                                  tags={"feature_platform/trigger": f"publish:{context.run.run_id[:8]}"})
    context.log.info(f"{keys.feature_id}: the tables must be rebuilt; requested backfill {backfill_id} of "
                     f"{first.isoformat()}..{last.isoformat()}")
    return f"backfill {backfill_id}: {first.isoformat()}..{last.isoformat()}"


def latest_content_hash(context: dg.AssetExecutionContext, key: dg.AssetKey) -> str:
    """The artefact hash recorded by the latest materialisation of ``key`` (the step before)."""
    event = context.instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event is not None else None
    value = materialization.metadata.get(CONTENT_HASH) if materialization is not None else None
    if value is None or not isinstance(value.value, str):
        msg = (
            f"{key.to_user_string()} has no valid materialisation with an artefact hash: materialise it "
            f"first (its checks must pass)"
        )
        raise dg.Failure(description=msg)
    return value.value


def _missing_feature_issue(feature_id: str, configs_dir: str) -> ValidationIssue:
    return ValidationIssue(
        file=configs_dir, line=0, kind="sequence feature", name=feature_id,
        message=f"no sequence feature with id {feature_id!r} is defined in the configs any more",
        hint="it was renamed or removed; reload the code location to drop its assets",
    )


def artefact_for(store_resource: ArtefactStoreResource, env: str, feature_id: str) -> Artefact:
    """The verified artefact live for ``feature_id`` in ``env`` (what batch indexing runs)."""
    try:
        return store_resource.get_store().load_live(env, feature_id)
    except FeaturePlatformError as exc:
        raise dg.Failure(description=f"cannot load the live artefact of {feature_id} in {env!r}: {exc}") from exc
