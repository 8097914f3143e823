"""The serving runtime: an ASGI app answering "sequence X for user U" from the online store.

It reads compiled artefacts from the artefact store (hot-reloaded when the environment's pointer
moves) and sequences from the online store; it never imports Dagster, the authoring API or the compiler.
"""

from feature_platform.runtimes.serve._app import MAX_BATCH_USERS, create_app
from feature_platform.runtimes.serve._auth import (
    ApiKey,
    ApiKeys,
    ApiKeysError,
    Authoriser,
    hash_key,
    load_api_keys,
)
from feature_platform.runtimes.serve._factory import APP_FACTORY, SERVE_ENV, SERVE_ROUTE, app_from_settings
from feature_platform.runtimes.serve._granian import run_granian
from feature_platform.runtimes.serve._registry import LiveFeatures, LoadedFeature

__all__ = [
    "APP_FACTORY",
    "MAX_BATCH_USERS",
    "SERVE_ENV",
    "SERVE_ROUTE",
    "ApiKey",
    "ApiKeys",
    "ApiKeysError",
    "Authoriser",
    "LiveFeatures",
    "LoadedFeature",
    "app_from_settings",
    "create_app",
    "hash_key",
    "load_api_keys",
    "run_granian",
]
