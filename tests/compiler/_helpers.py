"""Paths and small helpers shared by the compile-plane tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from feature_platform.compiler import CompileResult
from feature_platform.compiler.build import MANIFEST_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIGS = REPO_ROOT / "feature_configs"
FIXTURES = REPO_ROOT / "tests" / "fixtures"
INVALID = FIXTURES / "invalid"
VALID_FIXTURE = FIXTURES / "valid" / "fixture_configs"

ERROR_MARKER = "# <- error"


def marker_line(path: Path, marker: str = ERROR_MARKER) -> int:
    """The 1-based number of the one line of ``path`` that carries ``marker``."""
    lines = [
        n for n, text in enumerate(path.read_text().splitlines(), start=1) if text.rstrip().endswith(marker)
    ]
    assert len(lines) == 1, f"{path} must carry the marker {marker!r} on exactly one line, found {lines}"
    return lines[0]


def compiled_files(result: CompileResult) -> dict[str, bytes]:
    """Every file a compile writes, by path relative to the output directory."""
    assert result.ok, result.issues
    files = {sealed.relative_path: sealed.data for sealed in result.artefacts.values()}
    files[MANIFEST_NAME] = result.manifest_bytes
    return dict(sorted(files.items()))


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (following a symlinked root), by POSIX path relative to it."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_package(parent: Path, name: str, modules: dict[str, str]) -> Path:
    """Write a config package ``parent/name`` holding ``modules`` (name -> source, dedented)."""
    package = parent / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(f'"""Generated test config package {name}."""\n')
    for module, source in modules.items():
        (package / f"{module}.py").write_text(textwrap.dedent(source).lstrip())
    return package
