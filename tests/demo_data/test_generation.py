"""Determinism, chunking (bounded memory), the manifest, the command line and the RNG."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from click.testing import CliRunner

from feature_platform.demo_data import DefectRates, DemoDataConfig, DemoDataError, generate
from feature_platform.demo_data.cli import demo_data_command
from feature_platform.demo_data.generator import MANIFEST_NAME, allocate, split_evenly
from feature_platform.demo_data.rng import GOLDEN, MASK64, Rng, mix64, mix64_int
from tests.demo_data.conftest import DemoData

SMALL = DemoDataConfig(users=300, items=800, days=3, events=24_000, chunk_rows=5_000)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    generate(SMALL, tmp_path / "a", workers=1)
    generate(SMALL, tmp_path / "b", workers=3)  # concurrency never changes the output
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) > 10
    assert a.keys() == b.keys()
    assert [name for name in a if a[name] != b[name]] == []


def test_a_different_seed_gives_different_data(tmp_path: Path) -> None:
    generate(SMALL, tmp_path / "a")
    generate(DemoDataConfig(**{**SMALL.__dict__, "seed": SMALL.seed + 1}), tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys()  # same layout and sizes...
    differing = [name for name in a if a[name] != b[name]]
    assert len(differing) == len(a)  # ...but every file differs


def test_no_part_file_exceeds_the_chunk_size(demo: DemoData) -> None:
    """The memory strategy: generation and writing happen per (day, chunk) of at most chunk_rows rows."""
    chunk_rows = demo.config.chunk_rows
    for table in ("engagement_events", "search_events"):
        partitions = demo.manifest["tables"][table]["partitions"]
        for day, entry in partitions.items():
            parts = sorted((demo.root / table / f"dt={day}").glob("part-*.parquet"))
            sizes = [pl.scan_parquet(p).select(pl.len()).collect().item() for p in parts]
            assert all(0 < size <= chunk_rows for size in sizes), (table, day, sizes)
            assert sum(sizes) == entry["rows"]
            assert len(parts) == entry["files"] == -(-entry["rows"] // chunk_rows)
    assert max(e["files"] for e in demo.manifest["tables"]["engagement_events"]["partitions"].values()) > 1


def test_lookup_tables_are_chunked_too(tmp_path: Path) -> None:
    config = DemoDataConfig(users=100, items=2_500, days=1, events=3_000, chunk_rows=1_000)
    manifest = generate(config, tmp_path)
    parts = sorted((tmp_path / "item_embeddings").glob("part-*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert all(pl.read_parquet(p).height <= 1_000 for p in parts)
    assert manifest["tables"]["item_embeddings"]["files"] == 3


def test_manifest_describes_the_data_set(demo: DemoData) -> None:
    manifest = demo.manifest
    assert manifest["seed"] == demo.config.seed
    assert manifest["parameters"]["events"] == demo.config.events
    assert manifest["days"] == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    event_rows = sum(manifest["tables"][t]["rows"] for t in ("engagement_events", "search_events"))
    assert event_rows == manifest["totals"]["event_rows"] == demo.config.events
    search = manifest["tables"]["search_events"]["rows"]
    assert search == round(demo.config.events * demo.config.search_share)
    assert all(isinstance(n, str) for n in manifest["notes"])
    assert "wrong type" in " ".join(manifest["notes"])


def test_defaults_are_small_and_realistic(tmp_path: Path) -> None:
    manifest = generate(DemoDataConfig(), tmp_path)
    assert manifest["parameters"]["events"] == 200_000
    assert 0.005 <= manifest["totals"]["defect_rate"] <= 0.02


def test_no_defects_gives_clean_data(tmp_path: Path) -> None:
    config = DemoDataConfig(users=200, items=500, days=2, events=10_000, defects=DefectRates.none())
    manifest = generate(config, tmp_path)
    assert manifest["totals"]["defect_rows"] == 0
    frame = pl.read_parquet(tmp_path / "engagement_events" / "**" / "*.parquet")
    assert frame["event_id"].is_unique().all() and frame.null_count()["user_id"].item() == 0


def test_rows_are_allocated_exactly() -> None:
    assert allocate(10, [1.0, 1.0, 1.0]) == [4, 3, 3]
    assert sum(allocate(1_000_003, [0.9, 1.1, 1.3])) == 1_000_003
    assert split_evenly(10, 4) == [4, 3, 3]
    assert split_evenly(0, 4) == [0]
    assert max(split_evenly(2_500_001, 1_000_000)) <= 1_000_000


def test_generation_replaces_a_previous_set_but_refuses_foreign_directories(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(DemoDataConfig(users=100, items=200, days=3, events=3_000), out)
    (out / "README.txt").write_text("mine")
    generate(DemoDataConfig(users=100, items=200, days=2, events=3_000), out)
    assert sorted(p.name for p in (out / "engagement_events").iterdir()) == ["dt=2026-11-01", "dt=2026-11-02"]
    assert (out / "README.txt").read_text() == "mine"
    assert not (out / ".demo_data.staging").exists()

    foreign = tmp_path / "foreign"
    (foreign / "engagement_events").mkdir(parents=True)
    with pytest.raises(DemoDataError, match="will not overwrite"):
        generate(DemoDataConfig(users=100, items=200, days=1, events=1_000), foreign)


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(DemoDataError, match="chunk_rows"):
        DemoDataConfig(chunk_rows=10).validate()
    with pytest.raises(DemoDataError, match="late"):
        DemoDataConfig(defects=DefectRates(late=0.9)).validate()


def test_cli_writes_the_data_set(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["--out", str(out), "--users", "200", "--items", "400", "--days", "2", "--events", "5000",
            "--seed", "3", "--start-date", "2027-01-30", "--chunk-rows", "2000", "--duplicate-rate", "0.01"]
    result = CliRunner().invoke(demo_data_command, args)
    assert result.exit_code == 0, result.output
    assert "wrote 5,000 events" in result.output and "events/s" in result.output
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["days"] == ["2027-01-30", "2027-01-31"]
    assert manifest["parameters"]["defects"]["duplicate"] == 0.01
    assert manifest["parameters"]["chunk_rows"] == 2_000
    assert (out / "engagement_events" / "dt=2027-01-31" / "part-00001.parquet").exists()

    foreign = tmp_path / "foreign"
    (foreign / "item_embeddings").mkdir(parents=True)
    result = CliRunner().invoke(demo_data_command, ["--out", str(foreign), "--events", "100", "-q"])
    assert result.exit_code == 1
    assert "will not overwrite" in result.output


def test_cli_no_defects_flag(tmp_path: Path) -> None:
    args = ["--out", str(tmp_path), "--events", "2000", "--users", "50", "--items", "100", "--days", "1",
            "--no-defects", "-q"]
    result = CliRunner().invoke(demo_data_command, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / MANIFEST_NAME).read_text())["totals"]["defect_rows"] == 0


def test_rng_is_splitmix64_with_wrapping_arithmetic() -> None:
    # Reference value: the first output of splitmix64 seeded with 0.
    assert mix64_int(GOLDEN) == 0xE220A8397B1DCDAF
    values = [random.Random(5).getrandbits(64) for _ in range(50)] + [0, MASK64, GOLDEN]
    mixed = mix64(pa.array(values, pa.uint64())).to_pylist()
    assert mixed == [mix64_int(v) for v in values]


def test_rng_streams_are_reproducible_and_addressable() -> None:
    a = Rng(7, "t", 1).uniforms(1_000, 3)
    b = Rng(7, "t", 1).uniforms(1_000, 3)
    assert all(x.equals(y) for x, y in zip(a, b, strict=True))
    assert not a[0].equals(a[1])
    assert not Rng(8, "t", 1).uniform(1_000).equals(a[0])
    u = Rng(7, "t", 1).uniform(100_000)
    low, high, mean = u.min(), u.max(), u.mean()
    assert isinstance(low, float) and isinstance(high, float) and isinstance(mean, float)
    assert low > 0.0 and high < 1.0 and abs(mean - 0.5) < 0.01
    # Counter addressing: draws 500.. of a stream equal the tail of draws 0..
    assert Rng(7, "x").uniform(500, start=500).equals(Rng(7, "x").uniform(1_000).slice(500))


def test_start_date_is_respected(tmp_path: Path) -> None:
    manifest = generate(DemoDataConfig(users=50, items=100, days=1, events=500, start_date=date(2030, 2, 28)),
                        tmp_path)
    frame = pl.read_parquet(tmp_path / "search_events" / "dt=2030-02-28" / "part-00000.parquet")
    parsed = frame["event_time"].str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", strict=False).drop_nulls()
    assert parsed.dt.date().unique().to_list() == [date(2030, 2, 28)]
    assert manifest["window"]["start"] == "2030-02-28"


def test_embeddings_do_not_depend_on_how_items_are_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    from feature_platform.demo_data import population as pop_module

    config = DemoDataConfig(items=1_000)
    population = pop_module.build_population(config)
    whole = pop_module.item_embeddings_chunk(config, population, 0, 1_000)
    monkeypatch.setattr(pop_module, "EMBEDDING_BLOCK_ITEMS", 77)
    blocked = pop_module.item_embeddings_chunk(config, population, 0, 1_000)
    parts = pl.concat([pop_module.item_embeddings_chunk(config, population, s, 250) for s in range(0, 1_000, 250)])
    assert whole.equals(blocked) and whole.equals(parts)


@pytest.mark.parametrize("start", [date(1990, 1, 1), date(1999, 12, 31)])
def test_a_start_date_batch_index_would_refuse_is_refused(start: date, tmp_path: Path) -> None:
    """demo-data once wrote 1990-1999 partitions that batch-index refuses ("days run from 2000-01-01"): one rule
    (:mod:`feature_platform._days`) for the days both accept."""
    from feature_platform._days import FIRST_DAY
    from feature_platform.errors import SourceDataError
    from feature_platform.runtimes.batch._indexer import check_day

    with pytest.raises(DemoDataError) as refused:
        generate(DemoDataConfig(users=5, items=10, days=1, events=50, start_date=start), tmp_path / "demo")
    assert str(refused.value) == (
        f"start_date {start.isoformat()} would be a partition batch-index refuses: days run from 2000-01-01 "
        f"(events before it are invalid) to 9999-12-30, not {start.isoformat()}"
    )
    assert not (tmp_path / "demo").exists()  # refused before anything is written
    generate(DemoDataConfig(users=5, items=10, days=1, events=50, start_date=FIRST_DAY), tmp_path / "first")
    with pytest.raises(SourceDataError, match="days run from 2000-01-01"):  # the rule it follows is the indexer's
        check_day(start)
