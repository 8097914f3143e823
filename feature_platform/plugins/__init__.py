"""Executor plugins: named, parameterised per-event logic that configs reference but never contain."""

from feature_platform.plugins.base import ExecutorPlugin
from feature_platform.plugins.registry import UnknownPluginError, get_plugin, plugin_names, register

__all__ = ["ExecutorPlugin", "UnknownPluginError", "get_plugin", "plugin_names", "register"]
