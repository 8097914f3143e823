"""store: operator commands for a damaged artefact store."""

from __future__ import annotations

import click

from feature_platform.cli._common import env_option, handle_errors, settings
from feature_platform.store import open_store_from_settings


@click.group(name="store")
def store_group() -> None:
    """Inspect and repair the artefact store."""


@store_group.command(name="repair")
@env_option
@click.option("--feature", "feature", required=True, help="Feature id, e.g. recent_engagements_v1.")
@handle_errors
def repair(env: str | None, feature: str) -> None:
    """Re-record FEATURE's newest audit entry in ENV from the pointer hint, if it was deleted."""
    config = settings()
    target = env or config.env
    store = open_store_from_settings(config)
    restored = store.repair_from_hint(target, feature)
    if restored is None:
        click.echo(f"{feature} in {target!r}: nothing to repair")
        return
    click.echo(f"{feature} in {target!r}: re-recorded generation {restored.generation} "
               f"(live: {restored.to_hash[:12]}) from the pointer hint")
