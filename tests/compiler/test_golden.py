"""The example configs compile to the committed golden artefacts, byte for byte.

A change to the compiler, the artefact format or ``feature_configs/`` that changes the compiled output
shows up here, and is accepted by regenerating the golden files (``make golden``) and reviewing the diff.
"""

from __future__ import annotations

import difflib

from feature_platform.artefact import parse_artefact
from feature_platform.compiler import compile_configs
from tests.golden.regenerate import CONFIGS_DIR, GOLDEN_DIR, compiled_files, golden_files

REGENERATE = "run `make golden` (uv run python -m tests.golden.regenerate) and review the diff"


def _first_difference(name: str, expected: bytes, actual: bytes) -> str:
    diff = difflib.unified_diff(
        expected.decode("ascii", "replace").splitlines(),
        actual.decode("ascii", "replace").splitlines(),
        fromfile=f"golden/{name}",
        tofile=f"compiled/{name}",
        lineterm="",
        n=2,
    )
    return "\n".join(list(diff)[:40])


def test_example_configs_compile_to_the_golden_artefacts() -> None:
    result = compile_configs(CONFIGS_DIR)
    assert result.ok, result.issues
    actual = compiled_files(result)
    expected = golden_files()

    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing and not extra, (
        f"the compiled file set differs from {GOLDEN_DIR}: no longer produced {missing}, new {extra}; "
        f"{REGENERATE}"
    )
    changed = sorted(name for name in actual if actual[name] != expected[name])
    details = "\n\n".join(_first_difference(n, expected[n], actual[n]) for n in changed[:2])
    assert not changed, (
        f"compiled output differs from the golden files in {changed}; {REGENERATE}\n\n{details}"
    )


def test_golden_artefacts_are_loadable_and_match_the_manifest() -> None:
    """The committed files themselves are sound: each artefact verifies, and the manifest points at it."""
    import json

    files = golden_files()
    manifest = json.loads(files["manifest.json"])
    assert sorted(manifest["features"]) == [
        "recent_closeups_v1",
        "recent_engagements_v1",
        "recent_searches_v1",
    ]
    for feature_id, entry in manifest["features"].items():
        artefact = parse_artefact(
            files[entry["path"]], expected_hash=entry["content_hash"], origin=entry["path"]
        )
        assert artefact.feature.id == feature_id
        assert artefact.config_hash == entry["config_hash"]
