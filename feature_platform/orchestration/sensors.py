"""``feature_config_sensor``: recompile and publish exactly the features whose config closure changed.

Each tick compiles the config package in memory and compares every feature's ``config_hash`` (the
hash of its whole closure: the feature, its event types, enrichments and sources) with the cursor.
Content hashes, not mtimes: touching a file changes nothing, editing a shared enrichment changes the
hash of every feature that uses it — and only of those. For each changed feature it requests one run
of ``compiled → validated → published`` (the gates run in it), with run key
``<feature>:<config_hash>:<cursor generation>`` so a retried tick never launches the same run twice,
while reverting to an earlier config later still publishes it again.

* No cursor yet (first tick): the baseline is what is live in the target environment, so a fresh
  deployment publishes what differs from the environment and nothing else.
* Invalid configs: no feature run (the compiler is all-or-nothing); one run of the ``feature_configs``
  asset instead, whose failing check shows every issue in the UI. The cursor stays, so once the
  configs are fixed the diff is against the last valid state.
* A feature the code location does not know (added since it was loaded): not requested — its assets
  do not exist yet — and not recorded in the cursor, so it is requested after the reload. The tick
  logs that a reload is needed and, when ``FP_DAGSTER_WEBSERVER_URL`` is set, asks the webserver to
  reload the code location (GraphQL ``reloadRepositoryLocation``).
"""


import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import dagster as dg

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

RELOAD_MUTATION = """
mutation ReloadLocation($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry { name loadStatus }
    ... on ReloadNotSupported { message }
    ... on RepositoryLocationNotFound { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""


@dataclass(frozen=True)
class Cursor:
    """What the sensor has seen: each known feature's config hash, and how many changes it acted on."""

    config_hashes: Mapping[str, str] = field(default_factory=dict)
    generation: int = 0

    def to_json(self) -> str:
        return json.dumps({"config_hashes": dict(sorted(self.config_hashes.items())),
                           "generation": self.generation}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "Cursor | None":
        if not text:
            return None
        data = json.loads(text)
        return cls(config_hashes=dict(data.get("config_hashes", {})), generation=int(data.get("generation", 0)))


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
    hashes = {fid: h for fid, h in current.items() if fid in known}
    return TickPlan(changed=changed, unknown=unknown, cursor=Cursor(config_hashes=hashes, generation=generation))


def config_sensor(catalogue: Catalogue, settings: OrchestrationSettings) -> dg.SensorDefinition:
    """The sensor for the features this code location was built with."""
    known = frozenset(catalogue.features)
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
        return evaluate(context, known, settings, feature_configs, artefact_store, release_target)

    return feature_config_sensor


def evaluate(
    context: dg.SensorEvaluationContext, known: frozenset[str], settings: OrchestrationSettings,
    feature_configs: FeatureConfigsResource, artefact_store: ArtefactStoreResource,
    release_target: ReleaseTargetResource,
) -> dg.SensorResult | dg.SkipReason:
    result = feature_configs.compile()
    if not result.ok:
        digest = hashlib.sha256("\n".join(i.render() for i in result.issues).encode()).hexdigest()[:16]
        context.log.warning(f"configs are invalid ({len(result.issues)} issue(s)); requesting the "
                            f"feature_configs check so the UI shows them; no feature is recompiled")
        return dg.SensorResult(run_requests=[dg.RunRequest(
            run_key=f"feature_configs:invalid:{digest}", asset_selection=[CONFIGS_KEY],
            asset_check_keys=[dg.AssetCheckKey(CONFIGS_KEY, CONFIGS_VALID)],
            tags={TRIGGER_TAG: SENSOR_NAME},
        )])
    current = {fid: sealed.artefact.config_hash for fid, sealed in result.artefacts.items()}
    store = artefact_store.get_store()

    def live_hash(fid: str) -> str | None:
        try:
            return store.load_live(release_target.env, fid).config_hash
        except FeaturePlatformError:
            return None

    plan = plan_tick(current, known, Cursor.from_json(context.cursor), live_hash)
    if plan.unknown:
        _reload_needed(context, plan.unknown, settings)
    requests = [
        dg.RunRequest(
            run_key=f"{fid}:{current[fid]}:{plan.cursor.generation}",
            asset_selection=list(feature_keys(fid).release),
            asset_check_keys=list(feature_keys(fid).release_checks),
            tags={FEATURE_TAG: fid, CONFIG_HASH_TAG: current[fid][:16], TRIGGER_TAG: SENSOR_NAME},
        )
        for fid in plan.changed
    ]
    if not requests:
        reason = "no feature config changed"
        if plan.unknown:
            reason = f"{', '.join(plan.unknown)}: not in this code location yet; reload it to add their assets"
        return dg.SensorResult(skip_reason=reason, cursor=plan.cursor.to_json())
    context.log.info(f"config changed for {', '.join(plan.changed)}: requesting compile → validate → publish")
    return dg.SensorResult(run_requests=requests, cursor=plan.cursor.to_json())


def _reload_needed(context: dg.SensorEvaluationContext, unknown: list[str], settings: OrchestrationSettings) -> None:
    names = ", ".join(unknown)
    url = settings.dagster_webserver_url
    if not url:
        context.log.warning(f"{names}: defined in the configs but unknown to this code location; reload it "
                            "(UI: Deployment → Reload) or set FP_DAGSTER_WEBSERVER_URL so the sensor can")
        return
    origin = context.code_location_origin
    location = origin.location_name if origin is not None else settings.dagster_location_name
    outcome = request_reload(url, location)
    context.log.warning(f"{names}: unknown to this code location; asked {url} to reload {location!r}: {outcome}")


def request_reload(url: str, location: str, timeout: float = 10.0) -> str:
    """Ask a Dagster webserver to reload a code location; returns what it answered (never raises)."""
    body = json.dumps({"query": RELOAD_MUTATION, "variables": {"name": location}}).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"reload request failed: {exc}"
    data = (answer.get("data") or {}).get("reloadRepositoryLocation") or {}
    kind = data.get("__typename", "unknown answer")
    return f"{kind}: {data.get('message') or data.get('loadStatus') or 'ok'}"
