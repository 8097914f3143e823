"""The registry of executor plugins, by name. Plugins register themselves on import of ``builtin``."""

from __future__ import annotations

from typing import Any

from feature_platform.errors import FeaturePlatformError
from feature_platform.plugins.base import ExecutorPlugin

_REGISTRY: dict[str, ExecutorPlugin[Any]] = {}


class UnknownPluginError(FeaturePlatformError, KeyError):
    """No plugin is registered under that name."""


def register(plugin_cls: type[ExecutorPlugin[Any]]) -> type[ExecutorPlugin[Any]]:
    """Class decorator: register one instance of the plugin under its ``name``."""
    name = plugin_cls.name
    if name in _REGISTRY and type(_REGISTRY[name]) is not plugin_cls:
        msg = f"two executor plugins are registered as '{name}': {type(_REGISTRY[name])} and {plugin_cls}"
        raise FeaturePlatformError(msg)
    _REGISTRY[name] = plugin_cls()
    return plugin_cls


def get_plugin(name: str) -> ExecutorPlugin[Any]:
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        msg = f"no executor plugin named '{name}' (registered: {known})"
        raise UnknownPluginError(msg) from None


def plugin_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


ENTRY_POINT_GROUP = "feature_platform.plugins"
"""Installed packages add plugins through this entry-point group (each entry point names a plugin class)."""

_entry_points_loaded = False


def _load_builtins() -> None:
    """The platform's plugins: the built-in ones, then those of installed packages' entry points.

    Plugins come only from the platform's code; config modules never add any (discovery reports one that
    tries, and imports configs in a child process so the registry here never sees it).
    """
    global _entry_points_loaded
    from feature_platform.plugins import builtin  # noqa: F401  (registers on import)

    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        plugin_cls = entry.load()
        if plugin_cls.name not in _REGISTRY:
            register(plugin_cls)
