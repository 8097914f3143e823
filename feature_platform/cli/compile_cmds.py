"""validate, compile, schema, plugins."""

from __future__ import annotations

import json
from pathlib import Path

import click

from feature_platform.cli._common import compile_or_exit, configs_option, handle_errors, settings
from feature_platform.compiler import artefact_json_schema, write_output
from feature_platform.errors import writing
from feature_platform.plugins import get_plugin, plugin_names
from feature_platform.storage import open_storage


@click.command()
@configs_option
@handle_errors
def validate(configs: Path | None) -> None:
    """Validate every config; print all errors with file:line and exit 2 if there are any."""
    result = compile_or_exit(configs)
    assert result.discovery is not None
    counts: dict[str, int] = {}
    for item in result.discovery.objects:
        counts[item.kind.plural] = counts.get(item.kind.plural, 0) + 1
    summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
    click.secho(f"valid: {summary}", fg="green")


@click.command(name="compile")
@configs_option
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Output directory (default: <data_dir>/compiled). Swapped in atomically.")
@handle_errors
def compile_cmd(configs: Path | None, out: Path | None) -> None:
    """Compile one artefact per sequence feature plus a manifest, atomically, only if all is valid."""
    result = compile_or_exit(configs)
    out_dir = out or settings().data_dir / "compiled"
    with writing(f"the compiled output {out_dir}"):  # a full disk names the output, not just "No space left"
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        write_output(result, out_dir)
    click.echo(f"compiled {len(result.artefacts)} feature(s) into {out_dir}")
    for feature_id, sealed in result.artefacts.items():
        a = sealed.artefact.feature
        click.echo(f"  {feature_id:<32} {sealed.content_hash[:12]}  {a.lifecycle:<12} N={a.max_length:<5} "
                   f"{len(sealed.artefact.event_types)} event type(s), {len(a.fields)} field(s)")


@click.command()
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write to this file instead of stdout (replaced atomically).")
@handle_errors
def schema(out: Path | None) -> None:
    """Export the JSON Schema of the artefact format."""
    text = json.dumps(artefact_json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        with writing(f"--out {out}"):
            open_storage(str(out.parent)).put(out.name, text.encode())  # nothing half-written under the name
        click.echo(f"wrote {out}")


@click.command()
def plugins() -> None:
    """List the registered executor plugins and their parameters."""
    for name in plugin_names():
        plugin = get_plugin(name)
        click.echo(f"{name}: {plugin.description}")
        for field_name, info in plugin.params_model.model_fields.items():
            click.echo(f"    {field_name} (default {info.default!r}): {info.description}")
