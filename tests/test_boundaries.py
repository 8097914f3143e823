"""One definition, many runtimes: runtimes must load compiled artefacts, never the Python configs.

import-linter checks the static imports (``make test`` runs ``lint-imports``); this test checks what is
actually imported at run time, which also catches ``importlib`` tricks.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

RUNTIME_MODULES = [
    "feature_platform.artefact",
    "feature_platform.plugins",
    "feature_platform.store",
    "feature_platform.plan",
    "feature_platform.engine",
    "feature_platform.runtimes",
]
FORBIDDEN = ("feature_platform.authoring", "feature_platform.compiler", "feature_configs")


def test_runtime_packages_do_not_load_the_authoring_api_or_configs() -> None:
    script = (
        "import importlib, json, pkgutil, sys\n"
        f"roots = {RUNTIME_MODULES!r}\n"
        "for root in roots:\n"
        "    try:\n"
        "        pkg = importlib.import_module(root)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, root + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    offenders = [m for m in loaded if m.startswith(FORBIDDEN)]
    assert offenders == [], f"runtime packages imported {offenders}"
    assert "feature_platform.artefact.loader" in loaded  # the walk really imported the runtime side


def test_import_contract_is_kept() -> None:
    lint = REPO_ROOT / ".venv" / "bin" / "lint-imports"
    out = subprocess.run([str(lint)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kept, 0 broken" in out.stdout
