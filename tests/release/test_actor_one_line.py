"""The audit log's actor is one line: FP_ACTOR holding a control character is refused (one line naming the
variable, nothing written), and `history` escapes the control characters an old entry may hold, so no
value can forge a row of its listing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.settings import PlatformSettings, SettingsError
from feature_platform.store import open_store_from_settings
from tests.conftest import REPO_ROOT

ENGAGEMENTS = "recent_engagements_v1"
FORGED = "evil\n   9  2099-01-01 00:00:00  publish   45bab8596bb0 000000000000 mallory          -"


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local store where the example configs were published to dev."""
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FP_ACTOR", "release-test")
    monkeypatch.delenv("FP_ARTEFACT_STORE", raising=False)
    configs = tmp_path / "repo" / "feature_configs"
    shutil.copytree(REPO_ROOT / "feature_configs", configs, ignore=shutil.ignore_patterns("__pycache__"))
    result = CliRunner().invoke(cli, ["publish", "--configs", str(configs), "--env", "dev"])
    assert result.exit_code == 0, result.output
    return configs


@pytest.mark.parametrize("actor", [FORGED, "a\rb", "bold\x1b[1m", "tab\there", "del\x7f", "sep\u2028x"])
def test_an_actor_with_a_control_character_is_refused_naming_the_variable(
    actor: str, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_ACTOR", actor)
    before = [e.generation for e in open_store_from_settings(PlatformSettings(actor='x')).history(
        "dev", ENGAGEMENTS)]
    for args in (["rollback", "--env", "dev", "--feature", ENGAGEMENTS], ["publish", "--configs", str(published)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "FP_ACTOR=" in errors[0] and "control characters" in errors[0], result.output
        assert "Traceback" not in result.output
    with pytest.raises(SettingsError, match="FP_ACTOR"):
        PlatformSettings()
    after = open_store_from_settings(PlatformSettings(actor='x')).history("dev", ENGAGEMENTS)
    assert [e.generation for e in after] == before  # nothing was written


def test_history_escapes_control_characters_an_old_entry_holds(published: Path) -> None:
    sequences = published / "sequences.py"
    sequences.write_text(sequences.read_text().replace("the homefeed ranker's main input", "the main input (v1)", 1))
    assert CliRunner().invoke(cli, ["publish", "--configs", str(published), "--env", "dev"]).exit_code == 0
    store = open_store_from_settings(PlatformSettings())
    # an entry written before FP_ACTOR was checked (the store takes any non-empty actor)
    store.rollback("dev", ENGAGEMENTS, actor=FORGED)
    entries = store.history("dev", ENGAGEMENTS)
    assert [e.generation for e in entries] == [1, 2, 3]
    result = CliRunner().invoke(cli, ["history", "--env", "dev", "--feature", ENGAGEMENTS])
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()
    assert len(rows) == 1 + len(entries), result.output  # the header and one row per entry, no forged row
    assert "evil\\n   9  2099-01-01" in rows[-1]
