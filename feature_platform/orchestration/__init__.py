"""The Dagster orchestration plane: the asset graph generated from the compiled configs.

``feature_platform.definitions`` exposes :func:`build_definitions`'s result as ``defs``; role modules:
``resources`` (store, data, environment, configs), ``assets`` (the per-feature factory), ``release`` and
``indexing`` (asset bodies), ``checks`` and ``contracts`` (the gates), ``freshness``, ``partitions``,
``sensors``, ``demo``. The engine and runtimes never import this package.
"""

from feature_platform.orchestration.code_location import build_definitions, load_catalogue
from feature_platform.orchestration.keys import FeatureKeys, feature_keys, raw_key

__all__ = ["FeatureKeys", "build_definitions", "feature_keys", "load_catalogue", "raw_key"]
