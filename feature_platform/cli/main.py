"""Entry point of the `feature-platform` console script."""

from __future__ import annotations

import click

from feature_platform import __version__
from feature_platform.cli.batch_cmds import batch_index, training_set
from feature_platform.cli.compile_cmds import compile_cmd, plugins, schema, validate
from feature_platform.cli.online_cmds import hash_api_key, online_load, serve
from feature_platform.cli.release_cmds import history, plan, publish, rollback
from feature_platform.cli.stream_cmds import replay, stream
from feature_platform.demo_data.cli import demo_data_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feature-platform")
def cli() -> None:
    """Config-as-code user-sequence features: validate, compile, plan, publish, index."""


for command in (validate, compile_cmd, schema, plan, publish, rollback, history, plugins, demo_data_command,
                batch_index, training_set):
    cli.add_command(command)
for command in (online_load, serve, hash_api_key, stream, replay):
    cli.add_command(command)


def main() -> None:
    cli()
