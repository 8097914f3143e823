"""`run_demo_graph`, what `make demo` calls: every feature, release then each day, all checks passing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from feature_platform.orchestration.demo import demo, main, raw_days, run_demo_graph
from tests.orchestration.conftest import Platform


def test_the_demo_graph_runs_every_feature_for_the_given_days(batch_platform: Platform) -> None:
    summary = run_demo_graph([date(2026, 11, 1), date(2026, 11, 2)], instance=batch_platform.instance)

    assert summary.success, summary.render()
    assert summary.features == ["recent_closeups_v1", "recent_engagements_v1", "recent_searches_v1"]
    assert [r.label for r in summary.runs] == ["compile → validate → publish", "index 2026-11-01",
                                               "index 2026-11-02"]
    assert len(summary.runs[0].checks_passed) == 9  # 3 gates x 3 features
    assert len(summary.runs[1].checks_passed) == 6  # 2 data contracts x 3 features
    assert summary.runs[2].row_counts["recent_engagements_v1/events"] > 0
    text = summary.render()
    assert "all runs and checks passed" in text and "recent_searches_v1/snapshots" in text


def test_the_demo_entry_point_finds_the_days_of_the_raw_data(demo_raw: Path) -> None:
    assert raw_days(demo_raw) == [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]


def test_the_demo_entry_point_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FP_RAW_DATA_ROOT", raising=False)
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "demo-data" in capsys.readouterr().err


def test_the_demo_entry_point_parses_its_options_with_click(capsys: pytest.CaptureFixture[str]) -> None:
    assert isinstance(demo, click.Command)
    assert "--day" in CliRunner().invoke(demo, ["--help"]).output

    with pytest.raises(SystemExit) as exc:
        main(["--day", "2026-11-31"])  # not a date: refused while parsing, before any run
    assert exc.value.code == 2
    assert "Invalid value for '--day'" in capsys.readouterr().err
