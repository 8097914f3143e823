"""Build the serving app from the platform settings (what ``feature-platform serve`` runs)."""

from __future__ import annotations

from fastapi import FastAPI

from feature_platform.runtimes.online import open_online_store_from_settings
from feature_platform.runtimes.serve._app import Clock, create_app, utc_now
from feature_platform.runtimes.serve._auth import Authoriser, load_api_keys
from feature_platform.runtimes.serve._registry import LiveFeatures
from feature_platform.settings import PlatformSettings
from feature_platform.store import open_store_from_settings


def app_from_settings(settings: PlatformSettings, env: str, *, clock: Clock = utc_now) -> FastAPI:
    online = open_online_store_from_settings(settings)
    live = LiveFeatures(env=env, store=open_store_from_settings(settings), online=online)
    keys = load_api_keys(settings.serve_api_keys_file, settings.serve_api_keys)
    return create_app(live, online, Authoriser(keys, enabled=settings.serve_auth), clock=clock,
                      max_in_flight=settings.serve_max_in_flight, reload_seconds=settings.serve_reload_seconds)
