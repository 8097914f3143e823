"""Sequence features are identified by name and version: v1 and v2 compile side by side."""

from __future__ import annotations

import shutil
from pathlib import Path

from feature_platform.compiler import compile_configs
from tests.conftest import REPO_ROOT

SECOND_VERSION = '''
recent_engagements_v2 = SequenceFeature(
    name="recent_engagements",
    version=2,
    owners=(HOMEFEED,),
    lifecycle=Lifecycle.STAGING,
    event_types=(save, click),
    max_length=500,
    retention=timedelta(days=90),
    fields=(*ITEM_FIELDS, "dwell_bucket"),
    freshness=STANDARD_FRESHNESS,
)
'''


def _configs(tmp_path: Path, extra: str) -> Path:
    target = tmp_path / "versions_repo" / "feature_configs"
    shutil.copytree(REPO_ROOT / "feature_configs", target, ignore=shutil.ignore_patterns("__pycache__"))
    with (target / "sequences.py").open("a") as f:
        f.write(extra)
    return target


def test_two_versions_of_one_feature_compile_to_two_artefacts(tmp_path: Path) -> None:
    result = compile_configs(_configs(tmp_path, SECOND_VERSION))
    assert result.issues == []
    v1 = result.artefacts["recent_engagements_v1"].artefact.feature
    v2 = result.artefacts["recent_engagements_v2"].artefact.feature
    assert (v1.version, v2.version) == (1, 2)
    assert "hour_of_day" in [f.name for f in v1.fields]
    assert "hour_of_day" not in [f.name for f in v2.fields]


def test_the_same_name_and_version_twice_is_a_duplicate(tmp_path: Path) -> None:
    result = compile_configs(_configs(tmp_path, SECOND_VERSION.replace("version=2", "version=1")))
    assert len(result.issues) == 1
    issue = result.issues[0]
    assert issue.name == "recent_engagements"
    assert "duplicate sequence feature name 'recent_engagements' version 1" in issue.message
    assert "sequences.py:" in issue.message
