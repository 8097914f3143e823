"""The release rules: the one function that decides whether compiled artefacts may go live.

CLI ``publish`` (through :func:`~feature_platform.release.publisher.publish_release`) and the Dagster
``validated`` and ``published`` steps all call :func:`check_release`, so a rule added here is enforced
on every path and no path can be more lenient than another. The rules, per selected feature:

``artefact_format``
    the bytes load (valid JSON, a format major version this runtime reads, canonical, hashing to what
    they claim and to the artefact they were sealed from, matching the pydantic models);
``json_schema``
    the bytes validate against the exported JSON Schema, what runtimes in other languages check;
``breaking_change``
    the plan against the environment changes no production feature in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from feature_platform.artefact.format import Artefact
from feature_platform.artefact.loader import parse_artefact
from feature_platform.artefact.schema import json_schema_errors
from feature_platform.errors import ArtefactError, PublishRefusedError
from feature_platform.plan import Plan
from feature_platform.release.planning import plan_release
from feature_platform.store import ArtefactStore

ARTEFACT_FORMAT = "artefact_format"
JSON_SCHEMA = "json_schema"
BREAKING_CHANGE = "breaking_change"
MAX_SCHEMA_ERRORS = 5
"""Schema violations quoted per feature: the first few say what is wrong; all of them would drown it."""


@dataclass(frozen=True)
class SealedBytes:
    """What a release needs of a compiled artefact: the model and its canonical bytes."""

    artefact: Artefact
    data: bytes


@dataclass(frozen=True)
class RuleFailure:
    """One rule one feature broke, and why (the text a person reads to fix it)."""

    feature_id: str
    rule: str
    detail: str


@dataclass(frozen=True)
class ReleaseVerdict:
    """The plan a release was judged against and every rule it broke (none: it may go live)."""

    env: str
    plan: Plan
    failures: tuple[RuleFailure, ...]

    @property
    def allowed(self) -> bool:
        return not self.failures

    def failures_of(self, feature_id: str) -> dict[str, str]:
        """Rule → detail for one feature (what the ``release_allowed`` check reports)."""
        return {f.rule: f.detail for f in self.failures if f.feature_id == feature_id}

    def refusal(self) -> str:
        """The message a refused release is reported with, on every path."""
        lines = [f"refusing to publish to {self.env!r}: {len(self.failures)} release rule(s) broken"]
        breaking = sum(f.rule == BREAKING_CHANGE for f in self.failures)
        if breaking:
            lines[0] += f", {breaking} breaking change(s) to production features"
        lines += [f"  {f.feature_id}: {f.rule}: {f.detail}" for f in self.failures]
        return "\n".join(lines)

    def raise_if_refused(self) -> None:
        """Raise :class:`PublishRefusedError` with :meth:`refusal` unless every rule holds."""
        if self.failures:
            raise PublishRefusedError(self.refusal())


def check_release(
    compiled: Mapping[str, SealedBytes], store: ArtefactStore, env: str, features: Sequence[str] | None = None
) -> ReleaseVerdict:
    """Judge the compiled set (or the named features of it) against what is live in ``env``.

    Every rule is evaluated for every selected feature, so one answer lists everything to fix.
    """
    plan = plan_release({k: v.artefact for k, v in compiled.items()}, store, env, features)
    selected = sorted(fid for fid in compiled if not features or fid in features)
    failures: list[RuleFailure] = []
    for feature_id in selected:
        sealed = compiled[feature_id]
        problem = _format_problem(feature_id, sealed)
        if problem is not None:
            failures.append(RuleFailure(feature_id, ARTEFACT_FORMAT, problem))
        errors = json_schema_errors(sealed.data)
        if errors:
            failures.append(RuleFailure(feature_id, JSON_SCHEMA, "; ".join(errors[:MAX_SCHEMA_ERRORS])))
    failures += [
        RuleFailure(diff.feature_id, BREAKING_CHANGE, diff.advice or "breaking change to a production feature")
        for diff in plan.breaking
    ]
    failures.sort(key=lambda f: (f.feature_id, f.rule))
    return ReleaseVerdict(env=env, plan=plan, failures=tuple(failures))


def _format_problem(feature_id: str, sealed: SealedBytes) -> str | None:
    """Why ``sealed.data`` is not a loadable artefact of ``sealed.artefact``, or None if it is."""
    try:
        loaded = parse_artefact(sealed.data, expected_hash=sealed.artefact.content_hash, origin=feature_id)
    except ArtefactError as exc:
        return str(exc)
    if loaded.feature.id != feature_id:
        return f"the artefact defines {loaded.feature.id!r}, not {feature_id!r}"
    return None
