"""One definition, many runtimes: runtimes must load compiled artefacts, never the Python configs.

import-linter checks the static imports (``make test`` runs ``lint-imports``); this test checks what is
actually imported at run time, which also catches ``importlib`` tricks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

RUNTIME_MODULES = [
    "feature_platform.artefact",
    "feature_platform.plugins",
    "feature_platform.store",
    "feature_platform.plan",
    "feature_platform.engine",
    "feature_platform.runtimes",
    "feature_platform.storage",
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


_CONTRACT_RESULTS = (
    "import json, sys\n"
    "from importlinter import configuration\n"
    "from importlinter.application import use_cases\n"
    "configuration.configure()\n"
    "use_cases._register_built_in_contract_types()  # what lint-imports does first\n"
    "report = use_cases.create_report(use_cases.read_user_options('pyproject.toml'), cache_dir=None)\n"
    "print(json.dumps({c.name: check.kept for c, check in report.get_contracts_and_checks()}))\n"
)
LAYERS = (
    "Layers: orchestration and CLI > compile plane > release, runtimes > engine, plan, store > plugins > artefact "
    "> storage"
)
DAGSTER = "Only orchestration/ and cli/ import Dagster"
CONFIGS = "No code of the platform imports feature_configs (configs are discovered by the compiler at run time)"


def _contract_results(root: Path) -> dict[str, bool]:
    """Each import contract of ``root``'s pyproject.toml and whether the code under ``root`` keeps it."""
    out = subprocess.run(
        [sys.executable, "-c", _CONTRACT_RESULTS], cwd=root, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    results: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def test_the_import_contracts_are_the_architecture_and_all_are_kept() -> None:
    assert _contract_results(REPO_ROOT) == {LAYERS: True, DAGSTER: True, CONFIGS: True}


@pytest.mark.parametrize(
    ("module", "imports", "broken"),
    [
        ("runtimes/batch/_violation.py", "import feature_platform.authoring", {LAYERS}),
        ("engine/_violation.py", "from feature_platform.compiler import compile_configs", {LAYERS}),
        ("store/_violation.py", "import feature_platform.runtimes", {LAYERS}),
        ("storage/_violation.py", "import feature_platform.artefact", {LAYERS}),
        ("runtimes/_violation.py", "import dagster", {DAGSTER}),
        ("release/_violation.py", "import dagster_aws.s3", {DAGSTER}),
        ("compiler/_violation.py", "import feature_configs", {CONFIGS}),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, imports: str, broken: set[str]) -> None:
    shutil.copytree(REPO_ROOT / "feature_platform", tmp_path / "feature_platform",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "feature_configs").mkdir()
    (tmp_path / "feature_configs" / "__init__.py").write_text("")
    (tmp_path / "feature_platform" / module).write_text(f"{imports}\n")

    results = _contract_results(tmp_path)
    assert {name for name, kept in results.items() if not kept} == broken


def _private_imports_across_packages(package_dir: Path) -> list[tuple[str, str]]:
    """``(importer, imported)`` pairs where a module imports a ``_private`` module or name that belongs to
    a package it is not inside: the public ``__init__`` of each package is its API."""
    import ast

    found: list[tuple[str, str]] = []
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                segments = name.split(".")
                private = next((i for i, s in enumerate(segments) if s[:1] == "_" and s[:2] != "__"), None)
                if segments[0] != "feature_platform" or private is None:
                    continue
                owner = ".".join(segments[:private])
                if package != owner and not package.startswith(owner + "."):
                    found.append((module, name))
    return found


# The compiler installs the authoring API's construction log (where each config object was defined) while
# it imports config modules; the two are one plane, and only the compiler does this.
_PRIVATE_IMPORT_ALLOWED = {"feature_platform.compiler.discovery"}


def test_orchestration_cli_and_runtimes_use_only_public_apis() -> None:
    offenders = [
        pair for pair in _private_imports_across_packages(REPO_ROOT / "feature_platform")
        if pair[0] not in _PRIVATE_IMPORT_ALLOWED
    ]
    assert offenders == [], f"imports of another package's private modules: {offenders}"


def test_private_import_check_finds_a_planted_import(tmp_path: Path) -> None:
    package = tmp_path / "feature_platform"
    (package / "orchestration").mkdir(parents=True)
    (package / "runtimes" / "batch").mkdir(parents=True)
    (package / "runtimes" / "batch" / "_tables.py").write_text("X = 1\n")
    planted = "from feature_platform.runtimes.batch._tables import X\n"
    (package / "runtimes" / "batch" / "_indexer.py").write_text(planted)  # inside the package: allowed
    (package / "orchestration" / "x.py").write_text(planted)
    assert _private_imports_across_packages(package) == [
        ("feature_platform.orchestration.x", "feature_platform.runtimes.batch._tables"),
        ("feature_platform.orchestration.x", "feature_platform.runtimes.batch._tables.X"),
    ]
