"""Entry point of the `feature-platform` console script."""

from __future__ import annotations

import click

from feature_platform import __version__
from feature_platform.cli.batch_cmds import batch_index, training_set
from feature_platform.cli.compile_cmds import compile_cmd, plugins, schema, validate
from feature_platform.cli.online_cmds import hash_api_key, online_load, serve
from feature_platform.cli.release_cmds import history, plan, publish, rollback
from feature_platform.cli.store_cmds import store_group
from feature_platform.cli.stream_cmds import replay, stream
from feature_platform.demo_data.cli import demo_data_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feature-platform")
@click.option("--debug", is_flag=True, help="Show the traceback of an error instead of a one-line message.")
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """Config-as-code user-sequence features: validate, compile, plan, publish, index."""
    context.obj = {"debug": debug}


for command in (validate, compile_cmd, schema, plan, publish, rollback, history, plugins, demo_data_command,
                batch_index, training_set):
    cli.add_command(command)
for command in (online_load, serve, hash_api_key, stream, replay, store_group):
    cli.add_command(command)


def main() -> None:
    cli()
