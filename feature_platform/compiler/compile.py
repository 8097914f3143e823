"""The compile entry point: discover → resolve (validate) → build → write to staging → swap atomically.

The output directory is a symlink to an immutable build folder named by the manifest hash; a compile
writes a new build folder completely, then replaces the symlink with ``os.replace`` (atomic on POSIX).
A reader therefore sees either the previous set or the new one, never a mix, and a failed compile
leaves the previous set in place.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from feature_platform.artefact.canonical import canonical_bytes
from feature_platform.artefact.format import Manifest
from feature_platform.compiler.build import MANIFEST_NAME, SealedArtefact, build_artefacts, build_manifest
from feature_platform.compiler.discovery import DiscoveryResult, discover
from feature_platform.compiler.issues import ValidationIssue, display_path
from feature_platform.compiler.resolve import Resolved, resolve
from feature_platform.errors import FeaturePlatformError
from feature_platform.storage import sweep_stale


@dataclass
class CompileResult:
    """What a compile produced: artefacts and manifest when valid, every issue otherwise."""

    issues: list[ValidationIssue] = field(default_factory=list)
    artefacts: dict[str, SealedArtefact] = field(default_factory=dict)
    manifest: Manifest | None = None
    discovery: DiscoveryResult | None = None
    resolved: Resolved | None = None

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def manifest_bytes(self) -> bytes:
        if self.manifest is None:
            msg = "no manifest: the compile had errors"
            raise FeaturePlatformError(msg)
        return canonical_bytes(self.manifest.model_dump(mode="json"))


def compile_configs(configs_dir: Path, *, import_timeout: float | None = None) -> CompileResult:
    """Validate and compile the config package in memory; nothing is written.

    Config modules are imported in a child process (see :mod:`feature_platform.compiler.discovery`);
    ``import_timeout`` bounds each module's import (default: $FP_CONFIG_IMPORT_TIMEOUT or 20 s).
    """
    discovery = discover(configs_dir, import_timeout=import_timeout)
    if not discovery.complete:
        return CompileResult(issues=sorted(set(discovery.issues)), discovery=discovery)
    resolved = resolve(discovery.objects)
    resolved_issues = suppress_follow_ons(discovery, resolved.issues)
    issues = sorted(set(discovery.issues) | set(resolved_issues))
    if not discovery.objects and not issues:
        init = configs_dir / "__init__.py"
        issues = [ValidationIssue(
            file=display_path(str(init)), line=1, kind="package", name=configs_dir.resolve().name,
            message="no config objects found: nothing to validate or compile",
            hint="define sources, enrichments, event types and sequence features as module-level names in "
                 "the package's modules",
        )]
    elif not issues and not any(item.kind.key == "sequence_feature" for item in discovery.objects):
        # Without one, compile would write no manifest and plan/publish would say "No changes": never "valid".
        init = configs_dir / "__init__.py"
        issues = [ValidationIssue(
            file=display_path(str(init)), line=1, kind="package", name=configs_dir.resolve().name,
            message="no SequenceFeature defined: nothing to compile",
            hint="sources, enrichments and event types are compiled into the sequence features that use "
                 "them; define at least one SequenceFeature",
        )]
    result = CompileResult(issues=issues, discovery=discovery, resolved=resolved)
    if issues:
        return result
    result.artefacts = build_artefacts(resolved)
    result.manifest = build_manifest(result.artefacts)
    return result


_UNKNOWN_REFERENCE = re.compile(r"unknown (?:source|enrichment|event type|plugin) '([^']*)'")


def suppress_follow_ons(discovery: DiscoveryResult, issues: list[ValidationIssue]) -> list[ValidationIssue]:
    """Drop "unknown X 'name'" errors whose name a module that failed to import would have defined.

    Such errors are follow-ons of the broken module (already reported once); they are counted in the broken
    module's issue instead. A reference whose name appears in no broken module is still reported.
    """
    config_plugins = {i.name for i in discovery.issues if i.kind == "plugin"}
    issues = [i for i in issues if not any(f"unknown plugin '{p}'" in i.message for p in config_plugins)]
    if not discovery.broken_modules:
        return issues
    sources = []
    for file in set(discovery.broken_modules.values()):
        try:
            sources.append(Path(file).read_text(errors="replace"))
        except OSError:
            continue
    kept: list[ValidationIssue] = []
    suppressed = 0
    for issue in issues:
        match = _UNKNOWN_REFERENCE.search(issue.message)
        if match and any(f'"{match[1]}"' in src or f"'{match[1]}'" in src for src in sources):
            suppressed += 1
            continue
        kept.append(issue)
    if suppressed:
        discovery.issues = [
            ValidationIssue(file=i.file, line=i.line, kind=i.kind, name=i.name, message=i.message,
                            hint=f"{i.hint}; {suppressed} follow-on error(s) (references to objects a module that "
                                 "failed to import would define) are not shown")
            if i.kind == "module" else i
            for i in discovery.issues
        ]
    return kept


def write_output(result: CompileResult, out_dir: Path) -> Path:
    """Write a valid compile to ``out_dir`` atomically; returns the build folder written."""
    if not result.ok or result.manifest is None:
        msg = "refusing to write a compile that has errors"
        raise FeaturePlatformError(msg)
    _check_output_target(out_dir)  # before anything is written: a refusal leaves nothing behind
    manifest_bytes = result.manifest_bytes
    build_id = hashlib.sha256(manifest_bytes).hexdigest()[:16]
    builds = out_dir.parent / f".{out_dir.name}.builds"
    builds.mkdir(parents=True, exist_ok=True)
    _sweep_stale(builds, out_dir)
    final = builds / build_id
    if not final.exists():
        staging = builds / f".staging-{build_id}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            for sealed in result.artefacts.values():
                target = staging / sealed.relative_path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(sealed.data)
            (staging / MANIFEST_NAME).write_bytes(manifest_bytes)
            os.replace(staging, final)
        except BaseException:  # no space left, permission denied, interrupted: leave nothing half-written
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _swap_symlink(out_dir, final)
    _prune_builds(builds, keep=final)
    return final


def _check_output_target(out_dir: Path) -> None:
    """Refuse an output that cannot become the compile's link, before a build is written next to it."""
    if out_dir.name in ("", ".", ".."):
        msg = (f"--out {str(out_dir)!r} must name the output link itself, not '.' or '..': the output is a "
               "link swapped between build folders kept beside it (e.g. --out build/compiled)")
        raise FeaturePlatformError(msg)
    if os.path.lexists(out_dir) and not out_dir.is_symlink():
        what = "a directory" if out_dir.is_dir() else "a file"
        msg = (f"{out_dir} exists and is not a compile output link ({what}, left untouched); remove it or "
               "choose another --out")
        raise FeaturePlatformError(msg)


_STAGING_PID = re.compile(r"\.staging-[0-9a-f]+-(\d+)")


def _sweep_stale(builds: Path, out_dir: Path) -> None:
    """Remove what a killed compile left — staging folders and temporary links — by the storage layer's one
    rule (:func:`feature_platform.storage.sweep_stale`): their names carry the writer's pid, so those of a
    process that is gone go at once, and any untouched for an hour (a pid since reused) too; a concurrent
    compile's are left alone."""
    sweep_stale(builds, lambda name: _STAGING_PID.fullmatch(name) is not None, owner_pid=_pid_in_name)
    link = re.compile(rf"\.{re.escape(out_dir.name)}\.tmp-(\d+)")
    sweep_stale(out_dir.parent, lambda name: link.fullmatch(name) is not None, owner_pid=_pid_in_name)


def _pid_in_name(name: str) -> int | None:
    """The pid a compile's leftover is named after (``.staging-<id>-<pid>``, ``.<out>.tmp-<pid>``)."""
    match = re.search(r"-(\d+)\Z", name)
    return int(match[1]) if match else None


def _swap_symlink(link: Path, target: Path) -> None:
    if link.exists() and not link.is_symlink():
        msg = f"{link} exists and is not a compile output link; remove it or choose another --out"
        raise FeaturePlatformError(msg)
    tmp = link.parent / f".{link.name}.tmp-{os.getpid()}"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)


def _prune_builds(builds: Path, keep: Path, retain: int = 5) -> None:
    """Keep the newest few builds (a reader may still be reading the previous one)."""
    done = sorted((p for p in builds.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in done[:-retain]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
