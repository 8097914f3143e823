"""Build the serving app from the platform settings (what ``feature-platform serve`` runs)."""

from __future__ import annotations

import os

from fastapi import FastAPI

from feature_platform.runtimes.online import open_online_store_from_settings
from feature_platform.runtimes.serve._app import Clock, create_app, utc_now
from feature_platform.runtimes.serve._auth import Authoriser, load_api_keys
from feature_platform.runtimes.serve._registry import LiveFeatures
from feature_platform.settings import PlatformSettings
from feature_platform.store import open_store_from_settings

SERVE_ENV = "FP_SERVE_ENV"
SERVE_ROUTE = "FP_SERVE_ROUTE"
# The import string of the factory below, for servers that import the app in their own worker (granian).
APP_FACTORY = f"{__name__}:app_from_environment"


def app_from_settings(settings: PlatformSettings, env: str, *, clock: Clock = utc_now,
                      fast_route: bool = True) -> FastAPI:
    keys = load_api_keys(settings.serve_api_keys_file, settings.serve_api_keys)  # a bad file stops start-up first
    online = open_online_store_from_settings(settings)
    live = LiveFeatures(env=env, store=open_store_from_settings(settings), online=online)
    return create_app(live, online, Authoriser(keys, enabled=settings.serve_auth), clock=clock,
                      max_in_flight=settings.serve_max_in_flight, reload_seconds=settings.serve_reload_seconds,
                      fast_route=fast_route)


def app_from_environment() -> FastAPI:
    """The app of ``FP_SERVE_ENV`` (default: the settings' env), for servers that import a factory by name
    in their own worker (granian): ``FP_SERVE_ROUTE=fastapi`` turns the Starlette hot route off."""
    settings = PlatformSettings()
    return app_from_settings(settings, os.environ.get(SERVE_ENV) or settings.env,
                             fast_route=os.environ.get(SERVE_ROUTE, "starlette") != "fastapi")
