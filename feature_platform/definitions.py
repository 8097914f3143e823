"""The Dagster code location: ``dagster dev -w workspace.yaml`` or ``-m feature_platform.definitions``.

Building ``defs`` compiles the configs in memory to generate the graph (one group per sequence
feature); it reads no data and writes nothing. Everything else lives in
:mod:`feature_platform.orchestration`. Settings come from ``FP_*`` environment variables.
"""

from feature_platform.orchestration import build_definitions

defs = build_definitions()
