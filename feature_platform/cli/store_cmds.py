"""store: operator commands for a damaged artefact store (``verify`` reads, ``repair`` writes)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from feature_platform.cli._common import EXIT_ERROR, env_option, handle_errors, settings
from feature_platform.store import open_store_from_settings
from feature_platform.store.verify import restore_artefacts, verify_store


@click.group(name="store")
def store_group() -> None:
    """Inspect and repair the artefact store."""


@store_group.command(name="verify")
@click.option("--env", "env", default=None, help="Only this environment (default: every environment and object).")
@handle_errors
def verify(env: str | None) -> None:
    """Check the store read-only: audit logs, pointer hints and artefact hashes; exit 1 listing every problem."""
    store = open_store_from_settings(settings())
    report = verify_store(store, env)
    for each, features in sorted(report.live.items()):
        click.echo(f"{each}: {len(features)} feature(s)")
        for feature_id, live in sorted(features.items()):
            click.echo(f"  {feature_id:<32} {'live ' + live[:16] if live else 'DAMAGED: live version unknown'}")
    click.echo(f"{report.objects_checked} artefact(s) checked in {report.store}")
    for note in report.notes:
        click.echo(f"note: {note.render()}")
    if report.ok:
        click.secho("store is consistent", fg="green")
        return
    for problem in report.problems:
        click.secho(f"problem: {problem.render()}", fg="red", err=True)
    click.secho(f"{len(report.problems)} problem(s) in {report.store}", fg="red", err=True)
    sys.exit(EXIT_ERROR)


@store_group.command(name="repair")
@env_option
@click.option("--feature", "feature", default=None, help="Re-record this feature's deleted newest audit entries.")
@click.option(
    "--from-build",
    "build",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Re-store artefacts the audit logs name that are missing or damaged, from this compiled build "
    "(the output of `feature-platform compile --out`); only bytes hashing to the missing key are written.",
)
@handle_errors
def repair(env: str | None, feature: str | None, build: Path | None) -> None:
    """Re-record FEATURE's newest audit entry in ENV from the pointer hint, if it was deleted; with
    --from-build, re-store missing or damaged artefacts the audit logs of ENV (of FEATURE) name."""
    if feature is None and build is None:
        raise click.UsageError("give --feature (deleted audit entries) and/or --from-build DIR (missing artefacts)")
    config = settings()
    target = env or config.env
    store = open_store_from_settings(config)
    if feature is not None:
        restored = store.repair_from_hint(target, feature)
        if restored is None:
            click.echo(f"{feature} in {target!r}: nothing to repair")
        else:
            click.echo(
                f"{feature} in {target!r}: re-recorded generation {restored.generation} "
                f"(live: {restored.to_hash[:12]}) from the pointer hint"
            )
    if build is not None:
        named = verify_store(store, target).named
        wanted = [h for h, users in named.items() if feature is None or any(f == feature for _, f in users)]
        outcome = restore_artefacts(store, build, wanted)
        for content_hash in outcome.restored:
            click.echo(f"re-stored artefact {content_hash} from {build}")
        click.echo(f"{len(outcome.restored)} artefact(s) re-stored, {len(outcome.already_sound)} already sound")
