"""What the code location knows about the configs when it is built: one entry per sequence feature.

The asset graph is generated from this catalogue, so it must exist even when the configs do not
compile: a broken config must never crash the code location (the UI would lose every group). When the
compile is clean the catalogue comes from the compiled artefacts (owners, lifecycle, the raw sources a
feature reads, its ``config_hash`` as ``code_version``). When it is not, it falls back to what discovery
could import — the sequence features it found, their sources resolved by name where possible and no
``code_version`` — and carries the issues, which the ``feature_configs`` asset's check reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from feature_platform.artefact.format import Artefact, CompiledSource
from feature_platform.authoring.enrichments import LookupEnrichment
from feature_platform.authoring.event_types import EventType
from feature_platform.authoring.sequences import SequenceFeature
from feature_platform.authoring.sources import Source
from feature_platform.compiler import CompileResult, ValidationIssue
from feature_platform.compiler.cron import cron_problem
from feature_platform.compiler.owners import owner_problem

T = TypeVar("T")

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def dagster_name(name: str) -> str:
    """``name`` as a Dagster group name / key component (letters, digits and ``_`` only)."""
    return _UNSAFE.sub("_", name)


@dataclass(frozen=True)
class FreshnessProfile:
    """The batch half of a feature's documented profile (the streaming half is not Dagster's business)."""

    batch_max_lag_seconds: int
    batch_deadline_cron: str | None = None


@dataclass(frozen=True)
class SourceInfo:
    """A raw event log or lookup table, shown as an external upstream asset."""

    name: str
    kind: str
    description: str = ""
    owners: tuple[str, ...] = ()
    path: str | None = None
    partition_key: str = "dt"
    """Hive partition column of an events source's day partitions."""


@dataclass(frozen=True)
class FeatureInfo:
    """Everything the asset factory needs about one sequence feature."""

    feature_id: str
    description: str
    owners: tuple[str, ...]
    lifecycle: str
    freshness: FreshnessProfile
    max_length: int
    tags: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    config_hash: str | None = None
    artefact: Artefact | None = None

    @property
    def group(self) -> str:
        return dagster_name(self.feature_id)


@dataclass(frozen=True)
class Catalogue:
    """Features and sources by name (sorted), and the compile issues (empty when the configs are valid)."""

    features: Mapping[str, FeatureInfo]
    sources: Mapping[str, SourceInfo]
    issues: tuple[ValidationIssue, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.issues


def catalogue_from_compile(result: CompileResult) -> Catalogue:
    """The catalogue of a compile: from the artefacts when valid, from discovery otherwise."""
    if result.ok:
        features = {fid: _from_artefact(sealed.artefact) for fid, sealed in result.artefacts.items()}
        sources: dict[str, SourceInfo] = {}
        for sealed in result.artefacts.values():
            for name, source in sealed.artefact.sources.items():
                sources.setdefault(name, _source_from_compiled(source))
        return Catalogue(features=_sorted(features), sources=_sorted(sources))
    objects = [d.obj for d in result.discovery.objects] if result.discovery is not None else []
    return _from_discovered(objects, tuple(result.issues))


def _from_artefact(artefact: Artefact) -> FeatureInfo:
    feature = artefact.feature
    return FeatureInfo(
        feature_id=feature.id,
        description=feature.description,
        owners=feature.owners,
        lifecycle=feature.lifecycle,
        freshness=FreshnessProfile(
            batch_max_lag_seconds=feature.freshness.batch_max_lag_seconds,
            batch_deadline_cron=feature.freshness.batch_deadline_cron,
        ),
        max_length=feature.max_length,
        tags=dict(feature.tags),
        sources=tuple(sorted(artefact.sources)),
        config_hash=artefact.config_hash,
        artefact=artefact,
    )


def _source_from_compiled(source: CompiledSource) -> SourceInfo:
    return SourceInfo(
        name=source.name, kind=source.kind, description=source.description, owners=source.owners,
        path=source.batch.path if source.batch is not None else None,
        partition_key=source.batch.partition_key if source.batch is not None else "dt",
    )


def _from_discovered(objects: Iterable[object], issues: tuple[ValidationIssue, ...]) -> Catalogue:
    """Best effort over whatever imported: references that do not resolve are simply left out."""
    objs = list(objects)
    sources = {o.name: o for o in objs if isinstance(o, Source)}
    event_types = {o.name: o for o in objs if isinstance(o, EventType)}
    lookups = {o.name: o for o in objs if isinstance(o, LookupEnrichment)}
    features: dict[str, FeatureInfo] = {}
    used: set[str] = set()
    for obj in objs:
        if not isinstance(obj, SequenceFeature) or _breaks_dagster(obj):
            continue
        names: set[str] = set()
        for ref in obj.event_types:
            event_type = event_types.get(ref)
            if event_type is None:
                continue
            names.add(event_type.source)
            names.update(lookups[e].source for e in event_type.enrichments if e in lookups)
        known = tuple(sorted(n for n in names if n in sources))
        used.update(known)
        features[obj.feature_id] = FeatureInfo(
            feature_id=obj.feature_id,
            description=obj.description,
            owners=obj.owners,
            lifecycle=obj.lifecycle.value,
            freshness=FreshnessProfile(
                batch_max_lag_seconds=_seconds(obj.freshness.batch_max_lag),
                batch_deadline_cron=obj.freshness.batch_deadline_cron,
            ),
            max_length=obj.max_length,
            tags=dict(obj.tags),
            sources=known,
        )
    infos = {
        name: SourceInfo(
            name=name, kind=src.kind, description=src.description, owners=src.owners,
            path=src.batch.path if src.batch is not None else None,
        )
        for name, src in sources.items()
        if name in used
    }
    return Catalogue(features=_sorted(features), sources=_sorted(infos), issues=issues)


def _breaks_dagster(feature: SequenceFeature) -> bool:
    """Whether Dagster would refuse the feature's assets (a cron or an owner it does not accept) and so fail
    to load the whole code location: such a feature is left out of the graph, as a feature that could not be
    built at all is; its issue is reported by the configs check like every other."""
    cron = feature.freshness.batch_deadline_cron
    return bool(cron is not None and cron_problem(cron)) or any(owner_problem(o) for o in feature.owners)


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def _sorted(mapping: Mapping[str, T]) -> dict[str, T]:
    return {k: mapping[k] for k in sorted(mapping)}
