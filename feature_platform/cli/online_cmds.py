"""online-load, serve, hash-api-key: the online store and the serving API on the command line.

``online-load`` loads the artefact LIVE in the environment's feature and a certified day's snapshot
(read through the batch runtime) into the online store (``FP_ONLINE_STORE``, default
``<data_dir>/online.sqlite``). ``serve`` runs the ASGI app on uvicorn.
"""

from __future__ import annotations

from datetime import datetime

import click

from feature_platform.cli._common import HOST, PORT, check_can_listen, env_option, handle_errors, settings
from feature_platform.errors import FeaturePlatformError
from feature_platform.runtimes.batch import TableLocations, latest_certified_day
from feature_platform.runtimes.online import load_day, open_online_store_from_settings, require_certified
from feature_platform.store import open_store_from_settings

_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command(name="online-load")
@env_option
@click.option("--feature", "feature", required=True, help="Feature id, e.g. recent_engagements_v1.")
@click.option("--date", "day", type=_DAY, default=None, help="Certified day to load (default: the latest).")
@handle_errors
def online_load(env: str | None, feature: str, day: datetime | None) -> None:
    """Load FEATURE's certified snapshot of a day into the online store (never regressing a newer day)."""
    config = settings()
    target = env or config.env
    artefact = open_store_from_settings(config).load_live(target, feature)
    locations = TableLocations.from_settings(config)
    chosen = day.date() if day is not None else latest_certified_day(feature, locations)
    if chosen is None:
        raise FeaturePlatformError(f"{feature} has no certified day under {locations.feature_root(feature)}")
    require_certified(feature, chosen, locations)  # says whether the day is not indexed or indexed, not certified
    store = open_online_store_from_settings(config)
    try:
        result = load_day(artefact, chosen, locations, store)
    finally:
        store.close()
    click.secho(
        f"{feature} {result.day} -> {store.describe()}: {result.users:,} users, {result.events:,} events; "
        f"written {result.written:,}, kept newer {result.kept_newer:,}, removed {result.removed:,} "
        f"in {result.seconds:.2f}s", fg="green",
    )


@click.command(name="serve")
@env_option
@click.option("--host", default="127.0.0.1", show_default=True, type=HOST)
@click.option("--port", default=8000, show_default=True, type=PORT)
@click.option("--no-auth", is_flag=True, help="Serve without API keys (local demos only; same as FP_SERVE_AUTH=false).")
@click.option("--server", type=click.Choice(["uvicorn", "granian"]), default="uvicorn", show_default=True,
              help="HTTP server (granian must be installed; see benchmarks/RESULTS.md for the comparison).")
@click.option("--route", type=click.Choice(["starlette", "fastapi"]), default="starlette", show_default=True,
              help="Who serves the one-user GET: the plain Starlette endpoint or FastAPI's routing (benchmarks).")
@handle_errors
def serve(env: str | None, host: str, port: int, no_auth: bool, server: str, route: str) -> None:
    """Serve ENV's live features over HTTP (GET /v1/features/{feature}/users/{user}/sequence)."""
    import os

    from feature_platform.runtimes.serve import (
        APP_FACTORY,
        SERVE_ENV,
        SERVE_ROUTE,
        app_from_settings,
        load_api_keys,
        run_granian,
    )

    config = settings()
    if no_auth:
        config = config.model_copy(update={"serve_auth": False})
    config.check()  # a bad FP_* value: one line, before announcing (a server reads most of them)
    target = env or config.env
    load_api_keys(config.serve_api_keys_file, config.serve_api_keys)  # a bad keys file: one line, before serving
    check_can_listen(host, port)  # a port in use: one line, before announcing it
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address, as a URL writes it
    click.echo(f"serving {target!r} on http://{shown}:{port} (auth {'on' if config.serve_auth else 'off'}, "
               f"{server}, {route} route)")
    if server == "granian":
        os.environ.update({SERVE_ENV: target, SERVE_ROUTE: route, "FP_SERVE_AUTH": str(config.serve_auth).lower()})
        run_granian(APP_FACTORY, host=host, port=port)
        return
    import uvicorn

    app = app_from_settings(config, target, fast_route=route == "starlette")
    uvicorn.run(app, host=host, port=port, loop="uvloop", http="httptools", access_log=False, log_level="warning")


@click.command(name="hash-api-key")
@click.argument("key")
def hash_api_key(key: str) -> None:
    """Print the sha256 of KEY, to put in the API keys file (the key itself is never stored)."""
    from feature_platform.runtimes.serve import hash_key

    click.echo(hash_key(key))
