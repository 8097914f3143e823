"""Regenerate the golden compiled artefacts of the example configs (``make golden``).

    uv run python -m tests.golden.regenerate

Compiles ``feature_configs/`` and writes every artefact and the manifest under ``tests/golden/compiled/``
exactly as ``feature-platform compile`` lays them out, removing files that are no longer produced.
``tests/compiler/test_golden.py`` fails whenever a compile differs from these bytes, so a change to
the compiled output is always a reviewed diff.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from feature_platform.compiler import CompileResult, compile_configs, render_issues
from feature_platform.compiler.build import MANIFEST_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS_DIR = REPO_ROOT / "feature_configs"
GOLDEN_DIR = Path(__file__).resolve().parent / "compiled"


def compiled_files(result: CompileResult) -> dict[str, bytes]:
    """Every file a compile writes, by POSIX path relative to the output directory."""
    files = {sealed.relative_path: sealed.data for sealed in result.artefacts.values()}
    files[MANIFEST_NAME] = result.manifest_bytes
    return dict(sorted(files.items()))


def golden_files() -> dict[str, bytes]:
    """The committed golden files, by POSIX path relative to the golden directory."""
    if not GOLDEN_DIR.is_dir():
        return {}
    return {
        p.relative_to(GOLDEN_DIR).as_posix(): p.read_bytes()
        for p in sorted(GOLDEN_DIR.rglob("*"))
        if p.is_file()
    }


def main() -> int:
    result = compile_configs(CONFIGS_DIR)
    if not result.ok:
        print(render_issues(result.issues), file=sys.stderr)
        print("the example configs do not validate; golden files left unchanged", file=sys.stderr)
        return 2
    files = compiled_files(result)
    if golden_files() == files:
        print(f"{GOLDEN_DIR.relative_to(REPO_ROOT)} is up to date ({len(files)} files)")
        return 0
    shutil.rmtree(GOLDEN_DIR, ignore_errors=True)
    for relative, data in files.items():
        target = GOLDEN_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"wrote {len(files)} golden files to {GOLDEN_DIR.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
