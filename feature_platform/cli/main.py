"""Entry point of the `feature-platform` console script."""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence
from typing import Any

import click

from feature_platform import __version__
from feature_platform.cli._common import error_line
from feature_platform.cli.batch_cmds import batch_index, training_set
from feature_platform.cli.compile_cmds import compile_cmd, plugins, schema, validate
from feature_platform.cli.online_cmds import hash_api_key, online_load, serve
from feature_platform.cli.release_cmds import history, plan, publish, rollback
from feature_platform.cli.store_cmds import store_group
from feature_platform.cli.stream_cmds import replay, stream
from feature_platform.demo_data.cli import demo_data_command


class _Cli(click.Group):
    """The root group: every error, click's own usage errors included, is one ``error: …`` line on stderr.

    Click prints its usage errors as ``Usage: …`` + ``Try …`` + ``Error: …`` (capitalised), and an
    exception raised by a command the same way; the platform's own errors are ``error: …``
    (:func:`~feature_platform.cli._common.handle_errors`). One format, whoever raised the error, so a
    script or a person reads every failure the same way. Exit codes stay click's (2 for a usage error)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            error_line("aborted")
            sys.exit(1)
        except click.exceptions.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "feature-platform"
            error_line(f"{exc.format_message()} (see '{command} --help')")
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            error_line(exc.format_message())
            sys.exit(exc.exit_code)
        except OSError as exc:  # a closed pipe (`… | head`): quietly, as click does
            if exc.errno != errno.EPIPE:
                raise
            sys.exit(1)
        # --help and --version end with their exit code; a command returns None
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
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
