"""``feature_config_sensor``: recompile and publish exactly the features whose config closure changed.

Each tick compiles the config package in memory and compares every feature's ``config_hash`` (the
hash of its whole closure: the feature, its event types, enrichments and sources) with the cursor.
Content hashes, not mtimes: touching a file changes nothing, editing a shared enrichment changes the
hash of every feature that uses it — and only of those. For each changed feature it requests one run
of ``compiled → validated → published`` (the gates run in it), with run key
``<feature>:<config_hash>:<cursor generation>`` so a retried tick never launches the same run twice,
while reverting to an earlier config later still publishes it again.

* A protected environment (``FP_PROTECTED_ENVS``, default ``prod``): the run stops after
  ``validated`` — its gates show whether the change may go out — and nothing is published
  automatically; a person publishes (``feature-platform publish``, or materialising ``F/published``).
* No cursor yet (first tick): the baseline is what is live in the target environment, so a fresh
  deployment publishes what differs from the environment and nothing else.
* Invalid configs: no feature run (the compiler is all-or-nothing); one run of the ``feature_configs``
  asset instead, whose failing (blocking) check shows every issue in the UI and fails the run. The
  cursor keeps the last valid hashes (marked ``invalid``), so once the configs are fixed the diff is
  against the last valid state, and that tick requests ``feature_configs`` again, which clears the
  check. If the code location itself was built from the invalid configs (no code versions, features
  from discovery only), the fixed tick also asks the webserver to reload it (as for a new feature).
* A feature the code location does not know (added since it was loaded): not requested — its assets
  do not exist yet — and not recorded in the cursor, so it is requested after the reload. The tick
  logs that a reload is needed and, when ``FP_DAGSTER_WEBSERVER_URL`` is set, asks the webserver to
  reload the code location (``DagsterGraphQLClient.reload_repository_location``) and reports whether
  the location loaded again or why not, in the log and in the tick's skip reason.
"""


import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import dagster as dg
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError, ReloadRepositoryLocationStatus

from feature_platform.errors import FeaturePlatformError
from feature_platform.orchestration.catalogue import Catalogue
from feature_platform.orchestration.keys import CONFIGS_KEY, CONFIGS_VALID, feature_keys
from feature_platform.orchestration.resources import (
    ArtefactStoreResource,
    FeatureConfigsResource,
    ReleaseTargetResource,
)
from feature_platform.orchestration.settings import OrchestrationSettings

SENSOR_NAME = "feature_config_sensor"
FEATURE_TAG = "feature_platform/feature"
CONFIG_HASH_TAG = "feature_platform/config_hash"
TRIGGER_TAG = "feature_platform/trigger"

RELOAD_TIMEOUT_SECONDS = 45
"""How long to wait for the webserver's answer. The reload mutation answers once the location has
loaded again (a new code server started, the configs compiled), which takes well over the 10 s of a
plain request; and it must stay under the 60 s a sensor evaluation may take."""


@dataclass(frozen=True)
class ReloadOutcome:
    """What became of a reload request: the location loaded again, or why not."""

    reloaded: bool
    detail: str

    def __str__(self) -> str:
        return f"{'reloaded' if self.reloaded else 'reload failed'}: {self.detail}"


@dataclass(frozen=True)
class Cursor:
    """What the sensor has seen: each known feature's config hash, and how many changes it acted on."""

    config_hashes: Mapping[str, str] = field(default_factory=dict)
    generation: int = 0
    invalid: bool = False
    """The last tick found the configs invalid (the next valid one clears the ``feature_configs`` check)."""

    def to_json(self) -> str:
        return json.dumps({"config_hashes": dict(sorted(self.config_hashes.items())),
                           "generation": self.generation, "invalid": self.invalid}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "Cursor | None":
        if not text:
            return None
        data = json.loads(text)
        return cls(config_hashes=dict(data.get("config_hashes", {})), generation=int(data.get("generation", 0)),
                   invalid=bool(data.get("invalid", False)))


@dataclass(frozen=True)
class TickPlan:
    """The decision of one tick, before it is turned into Dagster objects (so tests can read it)."""

    changed: list[str]
    unknown: list[str]
    cursor: Cursor


def plan_tick(
    current: Mapping[str, str], known: frozenset[str], cursor: Cursor | None,
    live_hash: Callable[[str], str | None],
) -> TickPlan:
    """Which known features changed since ``cursor`` (or since what is live), and which are unknown."""
    baseline = cursor.config_hashes if cursor is not None else {fid: live_hash(fid) for fid in current}
    differs = sorted(fid for fid, h in current.items() if baseline.get(fid) != h)
    changed = [fid for fid in differs if fid in known]
    unknown = [fid for fid in differs if fid not in known]
    generation = (cursor.generation if cursor is not None else 0) + (1 if changed else 0)
    generation += 1 if cursor is not None and cursor.invalid and not changed else 0
    hashes = {fid: h for fid, h in current.items() if fid in known}
    return TickPlan(changed=changed, unknown=unknown, cursor=Cursor(config_hashes=hashes, generation=generation))


def config_sensor(catalogue: Catalogue, settings: OrchestrationSettings) -> dg.SensorDefinition:
    """The sensor for the features this code location was built with."""
    known = frozenset(catalogue.features)
    loaded_invalid = not catalogue.valid
    targets = [CONFIGS_KEY, *(key for fid in sorted(known) for key in feature_keys(fid).release)]

    @dg.sensor(
        name=SENSOR_NAME, target=dg.AssetSelection.assets(*targets),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.config_sensor_interval_seconds,
        description="Watches the config package by content hash and requests compile → validate → "
        "publish for exactly the features whose config closure changed.",
    )
    def feature_config_sensor(
        context: dg.SensorEvaluationContext, feature_configs: FeatureConfigsResource,
        artefact_store: ArtefactStoreResource, release_target: ReleaseTargetResource,
    ) -> dg.SensorResult | dg.SkipReason:
        return evaluate(context, known, settings, feature_configs, artefact_store, release_target,
                        loaded_invalid=loaded_invalid)

    return feature_config_sensor


def evaluate(
    context: dg.SensorEvaluationContext, known: frozenset[str], settings: OrchestrationSettings,
    feature_configs: FeatureConfigsResource, artefact_store: ArtefactStoreResource,
    release_target: ReleaseTargetResource, *, loaded_invalid: bool = False,
) -> dg.SensorResult | dg.SkipReason:
    result = feature_configs.compile()
    previous = Cursor.from_json(context.cursor)
    if not result.ok:
        digest = hashlib.sha256("\n".join(i.render() for i in result.issues).encode()).hexdigest()[:16]
        context.log.warning(f"configs are invalid ({len(result.issues)} issue(s)); requesting the "
                            f"feature_configs check so the UI shows them; no feature is recompiled")
        return dg.SensorResult(run_requests=[dg.RunRequest(
            run_key=f"feature_configs:invalid:{digest}", asset_selection=[CONFIGS_KEY],
            asset_check_keys=[dg.AssetCheckKey(CONFIGS_KEY, CONFIGS_VALID)],
            tags={TRIGGER_TAG: SENSOR_NAME},
        )], cursor=dataclasses.replace(previous or Cursor(), invalid=True).to_json())
    current = {fid: sealed.artefact.config_hash for fid, sealed in result.artefacts.items()}
    store = artefact_store.get_store()

    def live_hash(fid: str) -> str | None:
        try:
            return store.load_live(release_target.env, fid).config_hash
        except FeaturePlatformError:
            return None

    plan = plan_tick(current, known, previous, live_hash)
    fixed = (previous is not None and previous.invalid) or loaded_invalid
    stale_location = loaded_invalid or bool(plan.unknown)  # built from invalid configs: no code versions
    reload_note = _reload_needed(context, plan.unknown or ["the fixed configs"], settings) if stale_location else ""
    # A protected environment (FP_PROTECTED_ENVS) is never published to by automation: the run compiles
    # and validates (its gates show whether the change may go out), and a person publishes. Read from the
    # settings loaded with the code location, not from the environment on each tick.
    auto_publish = settings.auto_publish(release_target.env)
    steps = 3 if auto_publish else 2
    requests = [
        dg.RunRequest(
            run_key=f"{fid}:{current[fid]}:{plan.cursor.generation}",
            asset_selection=list(feature_keys(fid).release[:steps]),
            asset_check_keys=list(feature_keys(fid).release_checks[:steps]),
            tags={FEATURE_TAG: fid, CONFIG_HASH_TAG: current[fid][:16], TRIGGER_TAG: SENSOR_NAME},
        )
        for fid in plan.changed
    ]
    if fixed:  # the configs are valid again: the next feature_configs run clears its failed check
        requests.append(dg.RunRequest(
            run_key=f"feature_configs:valid:{plan.cursor.generation}", asset_selection=[CONFIGS_KEY],
            asset_check_keys=[dg.AssetCheckKey(CONFIGS_KEY, CONFIGS_VALID)], tags={TRIGGER_TAG: SENSOR_NAME},
        ))
    if not requests:
        reason = "no feature config changed"
        if plan.unknown:
            reason = (f"{', '.join(plan.unknown)}: not in this code location yet; reload it to add their assets"
                      f"{reload_note}")
        return dg.SensorResult(skip_reason=reason, cursor=plan.cursor.to_json())
    if plan.changed and auto_publish:
        context.log.info(f"config changed for {', '.join(plan.changed)}: requesting compile → validate → publish")
    elif plan.changed:
        context.log.info(f"config changed for {', '.join(plan.changed)}: requesting compile → validate only; "
                         f"{release_target.env!r} is a protected environment (FP_PROTECTED_ENVS), so publish by "
                         "hand (`feature-platform publish`, or materialise F/published)")
    return dg.SensorResult(run_requests=requests, cursor=plan.cursor.to_json())


def _reload_needed(context: dg.SensorEvaluationContext, unknown: list[str], settings: OrchestrationSettings) -> str:
    """Ask the webserver to reload this code location when it can; returns what happened, for the tick."""
    names = ", ".join(unknown)
    url = settings.dagster_webserver_url
    if not url:
        context.log.warning(f"{names}: defined in the configs but unknown to this code location; reload it "
                            "(UI: Deployment → Reload) or set FP_DAGSTER_WEBSERVER_URL so the sensor can")
        return ""
    origin = context.code_location_origin
    location = origin.location_name if origin is not None else settings.dagster_location_name
    outcome = request_reload(url, location)
    message = f"{names}: unknown to this code location; asked {url} to reload {location!r}: {outcome}"
    if outcome.reloaded:
        context.log.info(message)
    else:
        context.log.error(message)
    return f" ({outcome})"


def request_reload(url: str, location: str, timeout: int = RELOAD_TIMEOUT_SECONDS) -> ReloadOutcome:
    """Ask the Dagster webserver at ``url`` to reload ``location``, and say how it went (never raises).

    Dagster's own GraphQL client sends the mutation and reads its answer, so a location that answers
    but fails to load (a ``PythonError``) is a failure, and success means the location is loaded again.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ReloadOutcome(reloaded=False, detail=f"{url!r} is not an http(s) URL of a Dagster webserver")
    try:
        client = DagsterGraphQLClient(
            parts.hostname, port_number=parts.port, use_https=parts.scheme == "https", timeout=timeout,
            path_prefix=parts.path.rstrip("/"),
        )
        info = client.reload_repository_location(location)
    except DagsterGraphQLClientError as exc:
        cause = exc.__cause__ or exc  # the client wraps the transport's error in a long message
        return ReloadOutcome(reloaded=False, detail=f"no answer from {url}: {type(cause).__name__}: {cause}")
    except (KeyError, TypeError) as exc:  # an entry with no location and no load error: still loading
        return ReloadOutcome(reloaded=False, detail=f"{location!r} has not finished loading ({exc!r})")
    if info.status is ReloadRepositoryLocationStatus.SUCCESS:
        return ReloadOutcome(reloaded=True, detail=f"code location {location!r} loaded again")
    return ReloadOutcome(reloaded=False, detail=f"{info.failure_type}: {info.message}")
