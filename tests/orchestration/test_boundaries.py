"""The engine and the runtimes know nothing of Dagster: orchestration depends on them, never the reverse."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

LOWER_LAYERS = ["feature_platform.artefact", "feature_platform.engine", "feature_platform.runtimes",
                "feature_platform.store", "feature_platform.plan"]


def test_engine_and_runtimes_do_not_import_orchestration_or_dagster() -> None:
    script = (
        "import importlib, json, pkgutil, sys\n"
        f"for root in {LOWER_LAYERS!r}:\n"
        "    pkg = importlib.import_module(root)\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, root + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    offenders = [m for m in loaded if m.startswith(("feature_platform.orchestration", "dagster"))]
    assert offenders == []
    assert "feature_platform.engine.plan" in loaded
