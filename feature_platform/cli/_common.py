"""Shared CLI plumbing: settings, exit codes, turning platform errors into messages."""

from __future__ import annotations

import functools
import math
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from feature_platform.compiler import CompileResult, compile_configs, render_issues
from feature_platform.errors import FeaturePlatformError, StoreError, polars_io_error_message
from feature_platform.settings import PlatformSettings, SettingsError, redact_credentials
from feature_platform.store.layout import check_name

EXIT_ERROR = 1
EXIT_INVALID_CONFIG = 2
EXIT_BREAKING_CHANGE = 3

F = TypeVar("F", bound=Callable[..., Any])


def settings() -> PlatformSettings:
    """The settings. A bad ``FP_*`` value is one line naming the variable; one only some commands read (the
    serving API's, ``FP_ACTOR``) is raised when a command reads it, so ``validate`` or ``plan`` does not fail
    on a bad ``FP_SERVE_AUTH`` (see :data:`~feature_platform.settings.DEFERRABLE`)."""
    return PlatformSettings(defer_errors=True)


def _os_error(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}:{where}" if where else str(exc.strerror or exc)


def error_line(text: str) -> None:
    """Print ``error: <text>`` on stderr: the one format of every CLI error (a message is one line, unless it
    is a list on purpose, such as a refused release's broken rules). Credentials in a URL the message shows
    (``redis://user:password@…``) are redacted, whoever formatted it."""
    click.secho(f"error: {redact_credentials(text)}", fg="red", err=True)


def configs_option(fn: F) -> F:
    return click.option(
        "--configs",
        "configs",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Config package directory (default: $FP_CONFIGS_DIR or ./feature_configs).",
    )(fn)


def check_env(_context: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """The callback of every ``--env``: a name the store cannot hold (``--env ""`` from an unset variable, a
    path) is refused, never replaced by ``$FP_ENV`` or 'dev' (a rollback would act on a real environment)."""
    if value is None:
        return None
    try:
        return check_name("environment", value)
    except StoreError as exc:
        raise click.BadParameter(str(exc)) from None


def env_option(fn: F) -> F:
    return click.option("--env", "env", default=None, callback=check_env,
                        help="Environment (default: $FP_ENV or 'dev').")(fn)


PORT = click.IntRange(1, 65535)
"""The type of every ``--port``: the OS would silently take a port modulo 65536, or any free port for 0."""


class ListenHost(click.ParamType):
    """The type of every ``--host`` / ``--metrics-host`` a server binds: a name or address this machine can
    listen on, checked when the options are parsed (the server would announce itself, then fail to bind)."""

    name = "host"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        if not text or text != text.strip() or any(c.isspace() for c in text):
            self.fail(f"{text!r} is not a host name or address (empty, or holds spaces).", param, ctx)
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                text, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.fail(f"{text!r} is not a host name or address ({reason}).", param, ctx)
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.bind((address[0], 0, *address[2:]))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.fail(f"cannot listen on {text!r}: {reason} (not an address of this machine?).", param, ctx)
        return text


HOST = ListenHost()


def check_can_listen(host: str, port: int) -> None:
    """Refuse, as one line, a port that is taken before a server announces it is serving there."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            probe.bind(address)
    except OSError as exc:
        msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise FeaturePlatformError(msg) from None


class FiniteFloatRange(click.FloatRange):
    """A :class:`click.FloatRange` that also refuses ``nan`` and ``inf`` (``nan`` passes every comparison
    of a plain range)."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def debug_enabled() -> bool:
    """``feature-platform --debug …`` (or ``FP_DEBUG=1``): let errors through with their traceback."""
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    return bool(root is not None and (root.obj or {}).get("debug")) or os.environ.get("FP_DEBUG") == "1"


def handle_errors(fn: F) -> F:
    """Print platform errors and I/O errors (permission denied, no space left, a path that is a file, and a
    polars error that carries one) as one clear line on stderr and exit 1, instead of a traceback;
    ``--debug`` shows the traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (FeaturePlatformError, SettingsError, OSError) as exc:
            if debug_enabled():
                raise
            error_line(_os_error(exc) if isinstance(exc, OSError) else str(exc))
            sys.exit(EXIT_ERROR)
        except Exception as exc:  # a polars error carrying an OS error (a full disk): one line too
            if (io_text := polars_io_error_message(exc)) is None or debug_enabled():
                raise  # any other error is a bug: keep its traceback
            error_line(io_text)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


def compile_or_exit(configs: Path | None) -> CompileResult:
    """Compile in memory; on any issue print them all, grouped by file, and exit 2."""
    configs_dir = configs or settings().configs_dir
    result = compile_configs(configs_dir)
    if result.issues:
        click.secho(render_issues(result.issues), fg="red", err=True)
        click.secho("validation failed: nothing was compiled or published", fg="red", err=True)
        sys.exit(EXIT_INVALID_CONFIG)
    return result
