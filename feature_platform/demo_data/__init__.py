"""Realistic, deterministic demo/test data for the example feature configs.

``generate(DemoDataConfig(...), out_dir)`` (or ``feature-platform demo-data --out DIR``) writes raw
``engagement_events`` and ``search_events`` partitioned by day, the ``item_embeddings`` and
``item_categories`` lookup tables, and ``_demo_data.json`` describing what was generated, including
the counts of every kind of injected defect. See :mod:`feature_platform.demo_data.generator`.

This package keeps its own schema constants (:mod:`~feature_platform.demo_data.schema`): it never
imports ``feature_configs``, the authoring API or the compiler.
"""

from feature_platform.demo_data.config import DefectRates, DemoDataConfig, DemoDataError
from feature_platform.demo_data.generator import MANIFEST_NAME, PARQUET_OPTIONS, generate
from feature_platform.demo_data.population import ITEM_ID_OFFSET, USER_ID_OFFSET
from feature_platform.demo_data.schema import SCHEMAS, logical_schema

__all__ = [
    "ITEM_ID_OFFSET",
    "MANIFEST_NAME",
    "PARQUET_OPTIONS",
    "SCHEMAS",
    "USER_ID_OFFSET",
    "DefectRates",
    "DemoDataConfig",
    "DemoDataError",
    "generate",
    "logical_schema",
]
