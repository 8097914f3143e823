"""store: operator commands for a damaged artefact store (``verify`` reads, ``repair`` writes)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from feature_platform.cli._common import EXIT_ERROR, check_env, env_option, handle_errors, settings
from feature_platform.release.publisher import default_actor
from feature_platform.store import open_store_from_settings
from feature_platform.store.logstate import ranges
from feature_platform.store.repair import repair_log
from feature_platform.store.verify import restore_artefacts, verify_store


@click.group(name="store")
def store_group() -> None:
    """Inspect and repair the artefact store."""


@store_group.command(name="verify")
@click.option("--env", "env", default=None, callback=check_env,
              help="Only this environment (default: every environment and object).")
@handle_errors
def verify(env: str | None) -> None:
    """Check the store read-only: audit logs, witnesses and artefact hashes; exit 1 listing every problem with
    the exact command that repairs it (a witness that is missing or lags behind its log is one: while it lags, a
    deleted newest entry would go unnoticed). Damage a repair superseded is listed as repaired, not as a problem."""
    store = open_store_from_settings(settings())
    report = verify_store(store, env)
    for each, features in sorted(report.live.items()):
        click.echo(f"{each}: {len(features)} feature(s)")
        for feature_id, live in sorted(features.items()):
            click.echo(f"  {feature_id:<32} {'live ' + live[:16] if live else 'DAMAGED: live version unknown'}")
    click.echo(f"{report.objects_checked} artefact(s) checked in {report.store}")
    for repaired in report.repaired:
        click.echo(f"repaired: {repaired.render()}")
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
@click.option(
    "--feature",
    "feature",
    default=None,
    help="Repair this feature's audit log: re-record deleted newest entries from their copy, supersede "
    "damaged entries with an operator entry (their bytes are kept), and rewrite witnesses that lag behind it.",
)
@click.option(
    "--live",
    "live",
    default=None,
    metavar="HASH",
    help="With --feature: the version to record as live when the damaged log cannot tell (a stored artefact of "
    "FEATURE; a unique prefix of 8+ characters will do).",
)
@click.option("--message", "message", default=None, help="Why, for the audit log (with --feature).")
@click.option(
    "--from-build",
    "build",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Re-store artefacts the audit logs name that are missing or damaged, from this compiled build "
    "(the output of `feature-platform compile --out`); only bytes hashing to the missing key are written. "
    "Runs before the --feature repair.",
)
@handle_errors
def repair(env: str | None, feature: str | None, live: str | None, message: str | None, build: Path | None) -> None:
    """With --from-build, re-store missing or damaged artefacts the audit logs of ENV (of FEATURE) name; with
    --feature, repair FEATURE's audit log in ENV. Nothing is deleted or rewritten: damaged entries stay, and an
    appended `repair` entry names them (see `feature-platform store verify`)."""
    if feature is None and (live is not None or message is not None):
        raise click.UsageError("--live and --message repair a feature's audit log: give --feature too")
    if feature is None and build is None:
        raise click.UsageError("give --feature (a damaged audit log) and/or --from-build DIR (missing artefacts)")
    config = settings()
    target = env or config.env
    store = open_store_from_settings(config)
    store.require_exists()  # a typo in FP_ARTEFACT_STORE: nothing to repair there, and nothing is created
    if build is not None:
        report = verify_store(store, target)
        named = report.named
        wanted = [h for h, users in named.items() if feature is None or any(f == feature for _, f in users)]
        outcome = restore_artefacts(store, build, wanted)
        for content_hash in outcome.restored:
            click.echo(f"re-stored artefact {content_hash} from {build}")
        click.echo(f"{len(outcome.restored)} artefact(s) re-stored, {len(outcome.already_sound)} already sound")
    if feature is not None:
        if live is not None and len(live) < 64:
            live = _expand(store.list_artefacts(), live)
        done = repair_log(store, target, feature, actor=default_actor(), live=live, message=message)
        if done.nothing:
            click.echo(f"{feature} in {target!r}: nothing to repair")
        if done.rerecorded is not None:
            click.echo(
                f"{feature} in {target!r}: re-recorded generation {done.rerecorded.generation} "
                f"(live: {done.rerecorded.to_hash[:12]}) from its copy"
            )
        if done.repair is not None:
            missing = [d.generation for d in done.superseded if d.missing]
            if missing:  # a gap is one line, however wide
                click.echo(f"superseded missing generation(s) {ranges(missing)}")
            for damage in done.superseded:
                if not damage.missing:
                    click.echo(f"superseded generation {damage.generation} ({damage.reason}); its bytes are kept")
            click.echo(
                f"{feature} in {target!r}: recorded repair generation {done.repair.generation} "
                f"(live: {done.repair.to_hash[:12]})"
            )
        if done.rewritten:
            click.echo(
                f"{feature} in {target!r}: rewrote the {' and the '.join(done.rewritten)} from the newest audit entry"
            )


def _expand(hashes: list[str], prefix: str) -> str:
    matches = [h for h in hashes if h.startswith(prefix.lower())]
    if len(prefix) < 8 or len(matches) != 1:
        raise click.BadParameter(
            f"{prefix!r} matches {len(matches)} stored artefact(s); give at least 8 characters of exactly one",
            param_hint="--live",
        )
    return matches[0]
