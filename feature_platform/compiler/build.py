"""Assemble one self-contained artefact per sequence feature, and the manifest of the set."""

from __future__ import annotations

from dataclasses import dataclass

from feature_platform import __version__ as COMPILER_VERSION
from feature_platform.artefact.canonical import compact_digest
from feature_platform.artefact.format import FORMAT_VERSION, Artefact, Manifest, ManifestEntry
from feature_platform.artefact.loader import seal_artefact
from feature_platform.compiler.resolve import Resolved

ARTEFACT_DIR = "features"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class SealedArtefact:
    """An artefact with its canonical bytes and content hash."""

    artefact: Artefact
    data: bytes
    content_hash: str

    @property
    def feature_id(self) -> str:
        return self.artefact.feature.id

    @property
    def relative_path(self) -> str:
        return f"{ARTEFACT_DIR}/{self.feature_id}.json"


def config_hash(artefact: Artefact) -> str:
    """sha256 of the feature's semantic closure: everything but compiler metadata and hashes.

    Unlike the content hash, it does not change when only the compiler version changes, which makes it
    the right Dagster ``code_version`` and the right key for "did this feature's definition change".
    """
    body = artefact.model_dump(mode="json", exclude={"compiler_version", "content_hash", "config_hash"})
    return compact_digest(body)


def build_artefacts(resolved: Resolved) -> dict[str, SealedArtefact]:
    """One sealed artefact per feature, keyed and ordered by feature id."""
    sealed: dict[str, SealedArtefact] = {}
    for feature_id in sorted(resolved.features):
        feature = resolved.features[feature_id]
        event_types = {n: resolved.event_types[n] for n in sorted(feature.event_types)}
        enrichment_names = sorted({e for et in event_types.values() for e in et.enrichments})
        enrichments = {n: resolved.enrichments[n] for n in enrichment_names}
        source_names = sorted(
            {et.source for et in event_types.values()}
            | {e.lookup.source for e in enrichments.values() if e.lookup is not None}
        )
        draft = Artefact(
            format_version=FORMAT_VERSION, compiler_version=COMPILER_VERSION, feature=feature,
            event_types=event_types, enrichments=enrichments,
            sources={n: resolved.sources[n] for n in source_names}, config_hash="",
        )
        artefact = draft.model_copy(update={"config_hash": config_hash(draft)})
        data, digest = seal_artefact(artefact)
        sealed[feature_id] = SealedArtefact(
            artefact=artefact.model_copy(update={"content_hash": digest}), data=data, content_hash=digest
        )
    return sealed


def build_manifest(artefacts: dict[str, SealedArtefact]) -> Manifest:
    entries = {}
    for feature_id, sealed in sorted(artefacts.items()):
        a = sealed.artefact
        entries[feature_id] = ManifestEntry(
            id=feature_id, name=a.feature.name, version=a.feature.version, lifecycle=a.feature.lifecycle,
            owners=a.feature.owners, path=sealed.relative_path, content_hash=sealed.content_hash,
            config_hash=a.config_hash, event_types=tuple(sorted(a.event_types)),
            enrichments=tuple(sorted(a.enrichments)), sources=tuple(sorted(a.sources)),
        )
    return Manifest(format_version=FORMAT_VERSION, compiler_version=COMPILER_VERSION, features=entries)
