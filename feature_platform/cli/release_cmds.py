"""plan, publish, rollback, history: the release side of the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from feature_platform.cli._common import (
    EXIT_BREAKING_CHANGE,
    compile_or_exit,
    configs_option,
    env_option,
    handle_errors,
    settings,
)
from feature_platform.errors import PublishRefusedError
from feature_platform.plan import render_json, render_text
from feature_platform.release import plan_release, publish_release, source_revision
from feature_platform.release.publisher import SealedBytes, default_actor
from feature_platform.settings import escape_control_characters
from feature_platform.store import ArtefactStore, open_store_from_settings
from feature_platform.store.logstate import ranges


def _store(*, must_exist: bool = True) -> ArtefactStore:
    """The configured store; every command but ``publish`` refuses one whose root does not exist (a typo in
    FP_ARTEFACT_STORE is never read as an empty store)."""
    store = open_store_from_settings(settings())
    if must_exist:
        store.require_exists()
    return store


def _env(env: str | None) -> str:
    return env or settings().env


@click.command()
@configs_option
@env_option
@click.option("--feature", "features", multiple=True, help="Only this feature id (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def plan(configs: Path | None, env: str | None, features: tuple[str, ...], fmt: str) -> None:
    """Compare the freshly compiled set with what is live in ENV, field by field, with impacts."""
    result = compile_or_exit(configs)
    compiled = {k: v.artefact for k, v in result.artefacts.items()}
    # plan previews a publish: against the default store not created yet it plans everything as new (and says
    # so); a configured FP_ARTEFACT_STORE that does not exist is a typo, refused like every other read.
    store = _store(must_exist=settings().artefact_store is not None)
    if not store.exists():
        click.secho(
            f"note: the artefact store {store.describe()} does not exist yet: planned against an empty store "
            "(the first publish creates it)",
            fg="yellow",
            err=True,
        )
    the_plan = plan_release(compiled, store, _env(env), features or None)
    click.echo(render_json(the_plan) if fmt == "json" else render_text(the_plan), nl=fmt == "text")


@click.command()
@configs_option
@env_option
@click.option("--feature", "features", multiple=True, help="Only this feature id (repeatable).")
@handle_errors
def publish(configs: Path | None, env: str | None, features: tuple[str, ...]) -> None:
    """Compile, plan, and publish created/changed features to ENV.

    A release that breaks a rule (a breaking change, an artefact failing its format or the JSON Schema)
    exits with code 3 and publishes nothing; the rules are those of the Dagster release gate.
    """
    configs_dir = configs or settings().configs_dir
    result = compile_or_exit(configs_dir)
    compiled = {k: SealedBytes(artefact=v.artefact, data=v.data) for k, v in result.artefacts.items()}
    target = _env(env)
    store = _store(must_exist=False)
    existed = store.exists()
    try:
        outcome = publish_release(compiled, store, target, features=features or None,
                                  actor=default_actor(), source_revision=source_revision(configs_dir))
    except PublishRefusedError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(EXIT_BREAKING_CHANGE)
    click.echo(render_text(outcome.plan))
    if not existed and store.exists():
        click.secho(f"\ncreated the artefact store {store.describe()} (it did not exist)", fg="yellow")
    click.echo(f"\npublished to {target!r} in {store.describe()}:")
    for entry in outcome.published:
        click.secho(f"  {entry.feature_id:<32} -> {entry.to_hash[:12]}  (generation {entry.generation})", fg="green")
    for feature_id in outcome.unchanged:
        click.echo(f"  {feature_id:<32} unchanged")
    for feature_id in outcome.not_unpublished:
        click.secho(f"  {feature_id:<32} no longer in the configs; its pointer was left as it is", fg="yellow")


@click.command()
@env_option
@click.option("--feature", "feature", required=True, help="Feature id, e.g. recent_engagements_v1.")
@click.option("--to", "to_hash", default=None, help="A hash from `history` (default: the previous version).")
@handle_errors
def rollback(env: str | None, feature: str, to_hash: str | None) -> None:
    """Make an earlier version of FEATURE live again in ENV."""
    store = _store()
    target = _env(env)
    if to_hash is not None and len(to_hash) < 64:
        to_hash = _expand_hash(store, target, feature, to_hash)
    live = store.current(target, feature) if to_hash is not None else None
    if live is not None and live.to_hash == to_hash:
        click.echo(f"{to_hash[:12]} is already live in {target!r} (generation {live.generation}); nothing to do")
        return
    entry = store.rollback(target, feature, to_hash, actor=default_actor())
    click.echo(f"{feature} in {target!r}: {entry.from_hash[:12] if entry.from_hash else '-'} -> "
               f"{entry.to_hash[:12]} (generation {entry.generation})")


@click.command()
@env_option
@click.option("--feature", "feature", required=True, help="Feature id, e.g. recent_engagements_v1.")
@handle_errors
def history(env: str | None, feature: str) -> None:
    """The audit log of FEATURE's pointer in ENV, oldest first (generations a `store repair` superseded are left
    out; its `repair` entry names them)."""
    entries = _store().history(_env(env), feature)
    if not entries:
        click.echo(f"{feature} has never been published in {_env(env)!r}")
        return
    click.echo(f"{'gen':>4}  {'when (UTC)':<20} {'action':<9} {'from':<12} {'to':<12} {'actor':<16} revision")
    for e in entries:  # an old entry may hold a newline in its actor: escaped, so it cannot forge a row
        actor, revision = escape_control_characters(e.actor), escape_control_characters(e.source_revision or "-")
        click.echo(f"{e.generation:>4}  {e.at:%Y-%m-%d %H:%M:%S}  {e.action:<9} "
                   f"{(e.from_hash or '-')[:12]:<12} {e.to_hash[:12]:<12} {actor:<16} {revision}"
                   + (f"  (supersedes {ranges(s.generation for s in e.supersedes)})" if e.supersedes else ""))


def _expand_hash(store: ArtefactStore, env: str, feature: str, prefix: str) -> str:
    matches = sorted({e.to_hash for e in store.history(env, feature) if e.to_hash.startswith(prefix)})
    if len(matches) != 1:
        raise click.BadParameter(f"{prefix!r} matches {len(matches)} versions in the history", param_hint="--to")
    return matches[0]
