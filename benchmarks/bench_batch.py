"""Batch-indexing benchmark: ``index_days`` over all demo days vs an independent DuckDB SQL and the scan floor.

Data: the demo data generator's ``engagement_events`` (the only events source of ``recent_engagements_v1``)
with ``--events`` raw rows over ``--days`` daily partitions (``search_share=0``: every generated row is in
the source the feature reads), plus the item lookup tables. Generated once into ``--work`` and reused
while its ``_demo_data.json`` parameters match (not timed).

Contenders, each in its own subprocess (so the peak RSS, its ``VmHWM``, is that contender's alone), over
the same files, one after another:

* **floor**: polars merely scanning the columns the feature reads (all 9 of ``engagement_events`` and
  the lookup columns): a streaming scan that decodes every value (``sum`` / ``str.len_bytes().sum()``
  per column, so nothing is skipped or answered from statistics). A second floor, ``floor-collect``,
  materialises those columns in memory, which gives the raw data's in-memory size.
* **floor-write** (after ``ours``): polars writing the events and snapshot tables ``ours`` wrote, from
  memory, with the same Parquet options — the output any implementation must encode and write. It
  shows how far the scan floor is from reachable: the tables are several times the raw input.
* **ours**: ``index_days`` over all days into a fresh tables dir (events, rejects and the incremental
  per-day snapshots, all written as Parquet).
* **duckdb-days** (like for like, the headline comparison): ``benchmarks/duckdb_reference.py``'s
  ``index_days_sql``, hand-written SQL doing ``index_days``'s job: for each day in order, the events
  of raw partition D (same validity rules, replays dropped), its rejects, and the snapshot as of D+1
  built incrementally (the previous day's snapshot kept as a DuckDB table, UNION ALL day D's events, ranked
  with window functions), each written as one Parquet file per day per table (2 threads).
* **duckdb** (extra row, ``--skip-duckdb-final``): the same SQL semantics computing only the final
  day's snapshot by one full recompute over all days — less work than ``ours`` does.
* **engine-final** (informational, ``--skip-engine-final``): the engine doing DuckDB's job — the same
  plan over all raw days and one ``dedup_and_rank`` for the final snapshot, no tables — which separates
  the engine's speed from the cost of the runtime's daily incremental snapshots.

Each contender reports its wall time for the work alone (interpreter start and imports excluded), its
CPU seconds and its peak RSS; ``ours`` also reports where its time goes (wall seconds per stage, by
wrapping the runtime's functions from the outside). The defaults (200,000 users, 500,000 items) are the
demo's defaults scaled with ``--events``: about 100 raw events per user and 40 per item.

Targets (issue 3, point 7): ours within 3x of the floor, faster than DuckDB (like for like), peak memory
well below the raw data size. Then the equality checks: EVERY day's snapshot of ours equals DuckDB's
per-day one (all columns, floats exactly) and the events/rejects row counts agree per day; the
final-snapshot-only DuckDB figure (and engine-final) must equal our final snapshot too. A mismatch
prints the first differences and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parent.parent
FEATURE_ID = "recent_engagements_v1"
EVENTS_SOURCE = "engagement_events"
LOOKUPS = ("item_embeddings", "item_categories")
DEFAULT_WORK = REPO / "benchmarks" / ".work"
SEED = 7
INDEX_MARKER = "tables.json"
"""Written next to ``tables/`` once ``index_days`` has indexed the work dir's data: what was indexed."""


# ------------------------------------------------------------------------------------------------ set-up


def demo_parameters(events: int, days: int, users: int, items: int) -> dict[str, Any]:
    from feature_platform.demo_data import DemoDataConfig

    return DemoDataConfig(users=users, items=items, days=days, events=events, seed=SEED, search_share=0.0).to_json()


def ensure_demo_data(data_dir: Path, events: int, days: int, users: int, items: int) -> dict[str, Any]:
    """The demo data set in ``data_dir`` for these parameters, generated unless it is already there."""
    from feature_platform.demo_data import MANIFEST_NAME, DemoDataConfig, generate

    wanted = demo_parameters(events, days, users, items)
    manifest_path = data_dir / MANIFEST_NAME
    if manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if manifest.get("parameters") == wanted:
            print(f"reusing demo data in {data_dir}", flush=True)
            return manifest
    print(f"generating demo data: {events:,} events, {days} days, {users:,} users, {items:,} items "
          f"into {data_dir} (not timed)...", flush=True)
    start = time.perf_counter()
    config = DemoDataConfig(users=users, items=items, days=days, events=events, seed=SEED, search_share=0.0)
    generate(config, data_dir)
    print(f"  generated in {time.perf_counter() - start:.1f} s", flush=True)
    manifest = json.loads(manifest_path.read_text())
    return manifest


def write_artefact(work: Path) -> Path:
    """Compile the example configs and write ``recent_engagements_v1``'s artefact (the children load it)."""
    from feature_platform.compiler import compile_configs

    result = compile_configs(REPO / "feature_configs")
    if not result.ok:
        raise SystemExit(f"the example configs do not compile: {result.issues[:3]}")
    sealed = result.artefacts[FEATURE_ID]
    path = work / "artefact" / f"{FEATURE_ID}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != sealed.data:
        path.write_bytes(sealed.data)
    return path


def ensure_indexed(work: Path, events: int, days: int, users: int, items: int) -> dict[str, Any]:
    """Demo data + ``index_days`` tables in ``work`` for these parameters (made if missing); the manifest."""
    manifest = ensure_demo_data(work / "data", events, days, users, items)
    artefact_path = write_artefact(work)
    marker_path = work / INDEX_MARKER
    expected = {"parameters": manifest["parameters"], "artefact": json.loads(artefact_path.read_text())["content_hash"],
                "days": manifest["days"]}
    if marker_path.exists() and json.loads(marker_path.read_text()) == expected:
        return manifest
    print("indexing the demo data with index_days (bench_batch's 'ours' step)...", flush=True)
    result = run_child("ours", work)
    print(f"  indexed in {result['seconds']:.1f} s", flush=True)
    return manifest


def day_range(manifest: dict[str, Any]) -> list[date]:
    return [date.fromisoformat(d) for d in manifest["days"]]


def event_files(data_dir: Path, days: list[date]) -> list[Path]:
    return sorted(p for d in days for p in (data_dir / EVENTS_SOURCE / f"dt={d.isoformat()}").glob("*.parquet"))


def lookup_files(data_dir: Path) -> dict[str, list[Path]]:
    return {name: sorted((data_dir / name).glob("*.parquet")) for name in LOOKUPS}


def warm_page_cache(paths: list[Path]) -> None:
    """Read every input file once so that no contender pays the first cold read."""
    for path in paths:
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


# ------------------------------------------------------------------------------------------------ measuring


def cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_bytes() -> int:
    """This process's peak resident set size (``VmHWM``).

    Not ``getrusage``/``wait4``: on Linux a child's ``ru_maxrss`` starts from the parent's RSS at fork time
    and survives ``exec``, so a small contender would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------------------------------------ children


def _child_floor(work: Path, collect: bool) -> dict[str, Any]:
    from feature_platform.artefact import load_artefact
    from feature_platform.engine import required_columns

    baseline_rss = peak_rss_bytes()
    artefact = load_artefact(work / "artefact" / f"{FEATURE_ID}.json")
    data_dir = work / "data"
    days = day_range(json.loads((data_dir / "_demo_data.json").read_text()))
    scans: list[tuple[str, pl.LazyFrame]] = [
        (EVENTS_SOURCE, pl.scan_parquet([str(p) for p in event_files(data_dir, days)]).select(
            list(required_columns(artefact, EVENTS_SOURCE))))
    ]
    for name, files in lookup_files(data_dir).items():
        scans.append((name, pl.scan_parquet([str(p) for p in files]).select(list(required_columns(artefact, name)))))
    out: dict[str, Any] = {"baseline_rss_bytes": baseline_rss}
    cpu = cpu_seconds()
    start = time.perf_counter()
    if collect:
        frames = pl.collect_all([frame for _, frame in scans])
        out["seconds"] = time.perf_counter() - start
        out["cpu_s"] = cpu_seconds() - cpu
        out["rows"] = {name: frame.height for (name, _), frame in zip(scans, frames, strict=True)}
        out["estimated_bytes"] = {name: frame.estimated_size() for (name, _), frame in zip(scans, frames, strict=True)}
        return out
    reduced = []
    for _, frame in scans:
        schema = frame.collect_schema()
        reductions = []
        for column, dtype in schema.items():
            if dtype == pl.String:
                reductions.append(pl.col(column).str.len_bytes().sum())
            elif isinstance(dtype, pl.List):
                reductions.append(pl.col(column).list.sum().sum())
            else:
                reductions.append(pl.col(column).sum())
        reductions.append(pl.len().alias("__rows"))
        reduced.append(frame.select(reductions))
    results = pl.collect_all(reduced, engine="streaming")
    out["seconds"] = time.perf_counter() - start
    out["cpu_s"] = cpu_seconds() - cpu
    out["rows"] = {name: int(frame["__rows"][0]) for (name, _), frame in zip(scans, results, strict=True)}
    return out


class StageTimer:
    """Wall time per stage of ``index_days``, by wrapping functions of the batch runtime (no edits to it).

    Only names that exist are wrapped, so a refactored runtime loses detail, not the benchmark.
    Stages are exclusive: ``previous snapshot read`` is taken out of ``snapshot rank+sort``, and the
    remainder of a day (``scan + plan collect + sorts``) is its total minus every other stage.
    """

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def add(self, label: str, seconds: float) -> None:
        self.totals[label] = self.totals.get(label, 0.0) + seconds

    def wrap(self, owner: Any, name: str, label: Any) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label(args) if callable(label) else label, time.perf_counter() - start)

        setattr(owner, name, timed)

    def install(self) -> None:
        from feature_platform.runtimes.batch import _indexer, _snapshot, contracts
        from feature_platform.storage import local

        def write_label(args: tuple[Any, ...]) -> str:
            columns = list(args[1]) if len(args) > 1 else []
            return "events: encode + write (streamed)" if "position" not in columns else "snapshot: advance + encode"

        self.wrap(_indexer, "_index", "day total")
        self.wrap(_indexer, "replay_free_order", "events: drop replays + order")
        self.wrap(_indexer, "write_frames", write_label)
        self.wrap(_snapshot, "write_frames", write_label)
        self.wrap(_snapshot, "_read_in_slices", "snapshot: decode previous (first slice)")
        self.wrap(_snapshot, "_advance", "snapshot: rank + gather (inside encode)")
        self.wrap(_indexer, "open_current_snapshot", "snapshot: verify stored base (sha256)")
        self.wrap(_indexer, "parquet_bytes", "rejects: encode")
        self.wrap(_indexer, "check_frame", "contracts: events")
        self.wrap(contracts.ContractTally, "check", "contracts: snapshot ranges (inside encode)")
        self.wrap(local.LocalObjectStorage, "_replace", "publish: fsync + rename")

    def stages(self) -> dict[str, float]:
        """Exclusive stages; ``rank + gather`` runs inside the snapshot's encode (the sink pulls it), so it
        is shown apart and taken out of the encode figure."""
        t = dict(self.totals)
        day = t.pop("day total", 0.0)
        inner = t.get("snapshot: rank + gather (inside encode)", 0.0)
        inner += t.get("contracts: snapshot ranges (inside encode)", 0.0)
        if "snapshot: advance + encode" in t:
            t["snapshot: advance + encode"] -= inner
            t["snapshot: encode + decode previous (rest)"] = t.pop("snapshot: advance + encode")
        t.pop("snapshot: decode previous (first slice)", None)  # a generator: only its first step is timed
        t["scan + engine plan collect (remainder)"] = day - sum(t.values())
        return dict(sorted(t.items(), key=lambda kv: -kv[1]))


def _child_ours(work: Path, *, check_contracts: bool = True) -> dict[str, Any]:
    """``index_days`` as users run it: every day checked against its data contracts before it is promoted.
    ``check_contracts=False`` (the "ungated" contender) measures what the gate costs."""
    from feature_platform.artefact import load_artefact
    from feature_platform.runtimes.batch import TableLocations, index_days

    artefact = load_artefact(work / "artefact" / f"{FEATURE_ID}.json")
    data_dir = work / "data"
    days = day_range(json.loads((data_dir / "_demo_data.json").read_text()))
    tables = work / ("tables" if check_contracts else "tables-ungated")
    if check_contracts:
        (work / INDEX_MARKER).unlink(missing_ok=True)
    if tables.exists():
        shutil.rmtree(tables)
    locations = TableLocations(str(data_dir), str(tables))
    timer = StageTimer()
    timer.install()
    cpu = cpu_seconds()
    start = time.perf_counter()
    results = index_days(artefact, days[0], days[-1], locations, check_contracts=check_contracts)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    if not check_contracts:
        shutil.rmtree(tables)
        return {"seconds": seconds, "cpu_s": cpu, "stages": timer.stages()}
    marker = {"parameters": json.loads((data_dir / "_demo_data.json").read_text())["parameters"],
              "artefact": artefact.content_hash, "days": [d.isoformat() for d in days]}
    (work / INDEX_MARKER).write_text(json.dumps(marker, sort_keys=True))
    per_day = [
        {key: getattr(result, key) for key in ("day", "events_rows", "rejects_rows", "snapshot_rows",
                                               "snapshot_users", "incremental") if hasattr(result, key)}
        for result in results
    ]
    return {"seconds": seconds, "cpu_s": cpu, "days": per_day, "stages": timer.stages()}


def _child_engine_final(work: Path) -> dict[str, Any]:
    """Informational: the engine alone doing DuckDB's job (one full recompute of the final snapshot).

    The same plan ``index_days`` runs per day (``build_feature_frame`` over each raw day with that day's
    ``max_event_time``), all days at once, then one ``dedup_and_rank`` as of the end of the last day,
    written as one Parquet file: no events/rejects tables, no daily snapshots.
    """
    from datetime import UTC, datetime

    from feature_platform.artefact import load_artefact
    from feature_platform.engine import INGEST_DAY, build_feature_frame, dedup_and_rank, required_columns, scan_source

    artefact = load_artefact(work / "artefact" / f"{FEATURE_ID}.json")
    data_dir = work / "data"
    days = day_range(json.loads((data_dir / "_demo_data.json").read_text()))
    out = work / "engine_final" / "snapshot.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    cpu = cpu_seconds()
    start = time.perf_counter()
    lookups = {
        name: scan_source(artefact.sources[name], str(data_dir), needed_by=required_columns(artefact, name)).frame
        for name in LOOKUPS
    }
    source = artefact.sources[EVENTS_SOURCE]
    parts = []
    for day in days:
        raw = scan_source(source, str(data_dir), [day], needed_by=required_columns(artefact, EVENTS_SOURCE)).frame
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        plan = build_feature_frame(artefact, {EVENTS_SOURCE: raw}, lookups,
                                   max_event_time=end - timedelta(microseconds=1))
        parts.append(plan.events.drop(INGEST_DAY, strict=False))
    last = days[-1]
    as_of = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    snapshot = dedup_and_rank(pl.concat(parts), artefact, as_of=as_of).collect()
    snapshot.write_parquet(out, compression="zstd")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu_s": cpu_seconds() - cpu, "rows": snapshot.height}


def _child_duckdb(work: Path) -> dict[str, Any]:
    from benchmarks.duckdb_reference import write_snapshot

    data_dir = work / "data"
    days = day_range(json.loads((data_dir / "_demo_data.json").read_text()))
    out = work / "duckdb" / "snapshot.parquet"
    if out.exists():
        out.unlink()
    (work / "duckdb" / "tmp").mkdir(parents=True, exist_ok=True)
    cpu = cpu_seconds()
    result = write_snapshot(work / "artefact" / f"{FEATURE_ID}.json", str(data_dir), days, out,
                            threads=2, temp_dir=work / "duckdb" / "tmp")
    result["cpu_s"] = cpu_seconds() - cpu
    return result


def _child_duckdb_days(work: Path) -> dict[str, Any]:
    """Like for like: DuckDB SQL doing ``index_days``'s job, every day's events, rejects and snapshot."""
    from benchmarks.duckdb_reference import index_days_sql

    data_dir = work / "data"
    days = day_range(json.loads((data_dir / "_demo_data.json").read_text()))
    out = work / "duckdb_days"
    if out.exists():
        shutil.rmtree(out)
    (out / "tmp").mkdir(parents=True, exist_ok=True)
    cpu = cpu_seconds()
    result = index_days_sql(work / "artefact" / f"{FEATURE_ID}.json", str(data_dir), days, out,
                            threads=2, temp_dir=out / "tmp")
    result["cpu_s"] = cpu_seconds() - cpu
    return result


def _child_floor_write(work: Path) -> dict[str, Any]:
    """The output floor: polars writing the tables ``ours`` wrote (events + snapshot of every day), from
    memory, with the same options — no computing, no fsync. Whatever computes them must write these
    bytes. Each day's frames are read untimed, one day at a time."""
    tables = work / "tables" / FEATURE_ID
    scratch = work / "floor-write"
    scratch.mkdir(exist_ok=True)
    seconds = cpu = 0.0
    written = 0
    for day in day_range(json.loads((work / "data" / "_demo_data.json").read_text())):
        for table in ("events", "snapshots"):
            live = next((tables / table / f"dt={day.isoformat()}").glob("part-*.parquet"))  # one, named by its hash
            frame = pl.read_parquet(live).rechunk()
            target = scratch / f"{table}-{day.isoformat()}.parquet"
            cpu_before, start = cpu_seconds(), time.perf_counter()
            frame.write_parquet(target, compression="zstd", compression_level=1, statistics=True)
            seconds += time.perf_counter() - start
            cpu += cpu_seconds() - cpu_before
            written += target.stat().st_size
            del frame
    shutil.rmtree(scratch)
    return {"seconds": seconds, "cpu_s": cpu, "written_bytes": written}


CHILDREN = {
    "floor-write": _child_floor_write,
    "floor": lambda work: _child_floor(work, collect=False),
    "floor-collect": lambda work: _child_floor(work, collect=True),
    "ours": _child_ours,
    "ours-ungated": lambda work: _child_ours(work, check_contracts=False),
    "engine-final": _child_engine_final,
    "duckdb-days": _child_duckdb_days,
    "duckdb": _child_duckdb,
}


def run_child(kind: str, work: Path, module: str = "benchmarks.bench_batch") -> dict[str, Any]:
    """Run one contender in a fresh interpreter: its JSON result (with its own ``max_rss_bytes``) + ``wall_s``."""
    command = [sys.executable, "-m", module, "--child", kind, "--work", str(work)]
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    proc.wait()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"contender '{kind}' failed with exit code {proc.returncode}:\n{output[-3000:]}")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall_s"] = wall
    return result


# ------------------------------------------------------------------------------------------------ equality


def _normalise(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    frame = frame.select(columns)
    ts = frame.schema.get("timestamp")
    if isinstance(ts, pl.Datetime):
        value = pl.col("timestamp").dt.cast_time_unit("us")
        value = value.dt.replace_time_zone("UTC") if ts.time_zone is None else value.dt.convert_time_zone("UTC")
        frame = frame.with_columns(value)
    return frame.with_columns(pl.col("position").cast(pl.Int32)).sort("user_id", "position")


def compare_snapshots(ours: pl.DataFrame, theirs: pl.DataFrame, fields: list[str]) -> list[str]:
    """Differences between two long-form snapshots (empty when equal): rows, dtypes, then values."""
    columns = ["user_id", "position", *fields]
    problems: list[str] = []
    for name, frame in (("ours", ours), ("duckdb", theirs)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            problems.append(f"{name} lacks column(s) {missing}")
    if problems:
        return problems
    a, b = _normalise(ours, columns), _normalise(theirs, columns)
    for column in columns:
        if a.schema[column] != b.schema[column]:
            problems.append(f"column {column}: dtype {a.schema[column]} (ours) vs {b.schema[column]} (duckdb)")
    if a.height != b.height:
        problems.append(f"row count {a.height:,} (ours) vs {b.height:,} (duckdb)")
        keys = ["user_id", "event_id"]
        only_a = a.join(b.select(keys), on=keys, how="anti")
        only_b = b.join(a.select(keys), on=keys, how="anti")
        problems.append(f"{only_a.height:,} (user, event) only in ours, e.g.\n{only_a.head(5)}")
        problems.append(f"{only_b.height:,} (user, event) only in duckdb, e.g.\n{only_b.head(5)}")
        return problems
    if problems:
        return problems
    for column in columns:
        if a[column].equals(b[column]):
            continue
        pair = pl.DataFrame({"ours": a[column], "duckdb": b[column]}).with_row_index()
        bad = pair.filter(pl.col("ours").ne_missing(pl.col("duckdb")))
        first = bad.head(3)["index"].to_list()
        problems.append(
            f"column {column}: {bad.height:,} row(s) differ, first at\n"
            f"{a[first].select('user_id', 'position', 'event_id', column)}\nvs\n"
            f"{b[first].select('user_id', 'position', 'event_id', column)}"
        )
    return problems


def check_days_equality(work: Path, days: list[date], fields: list[str], ours_days: list[dict[str, Any]],
                        duck_days: list[dict[str, Any]]) -> bool:
    """Every day's snapshot of ours vs DuckDB's per-day one, and the per-day row counts; prints PASS/FAIL."""
    from feature_platform.runtimes.batch import TableLocations, read_snapshot

    locations = TableLocations(str(work / "data"), str(work / "tables"))
    ours_by_day = {str(d["day"]): d for d in ours_days}
    duck_by_day = {str(d["day"]): d for d in duck_days}
    ok = True
    for day in days:
        mine, theirs_counts = ours_by_day.get(day.isoformat(), {}), duck_by_day.get(day.isoformat(), {})
        count_problems = [
            f"{key} {mine.get(key)} (ours) vs {theirs_counts.get(key)} (duckdb)"
            for key in ("events_rows", "rejects_rows", "snapshot_rows", "snapshot_users")
            if mine.get(key) != theirs_counts.get(key)
        ]
        ours = read_snapshot(FEATURE_ID, day, locations)
        ours = ours.collect() if isinstance(ours, pl.LazyFrame) else ours
        theirs = pl.read_parquet(work / "duckdb_days" / "snapshots" / f"dt={day.isoformat()}" / "part-00000.parquet")
        problems = count_problems + compare_snapshots(ours, theirs, fields)
        if problems:
            ok = False
            print(f"EQUALITY FAIL: day {day}: ours differs from DuckDB's per-day output:")
            for problem in problems:
                print("  " + problem.replace("\n", "\n    "))
        else:
            users, events, rejects = (mine.get(k, 0) for k in ("snapshot_users", "events_rows", "rejects_rows"))
            print(f"EQUALITY PASS: day {day}: snapshot {ours.height:,} rows / {users:,} users equal exactly "
                  f"({len(fields) + 2} columns, embeddings included); events {events:,} rows and rejects "
                  f"{rejects:,} rows, same counts")
        del ours, theirs
    return ok


def check_equality(work: Path, last_day: date, fields: list[str], *, engine_final: bool) -> bool:
    """Our final-day snapshot (and, when it ran, the engine-final one) against DuckDB's; prints PASS/FAIL."""
    from feature_platform.runtimes.batch import TableLocations, read_snapshot

    theirs = pl.read_parquet(work / "duckdb" / "snapshot.parquet")
    locations = TableLocations(str(work / "data"), str(work / "tables"))
    candidates: list[tuple[str, Any]] = [("our final-day snapshot (read_snapshot)",
                                          lambda: read_snapshot(FEATURE_ID, last_day, locations))]
    if engine_final:
        candidates.append(("the engine-final snapshot",
                           lambda: pl.read_parquet(work / "engine_final" / "snapshot.parquet")))
    ok = True
    for label, load in candidates:
        ours = load()
        if isinstance(ours, pl.LazyFrame):
            ours = ours.collect()
        problems = compare_snapshots(ours, theirs, fields)
        if problems:
            print(f"EQUALITY FAIL: {label} ({last_day}) differs from DuckDB's:")
            for problem in problems:
                print("  " + problem.replace("\n", "\n    "))
            ok = False
        else:
            users = ours.get_column("user_id").n_unique()
            print(f"EQUALITY PASS: {label} ({last_day}) equals DuckDB's: {ours.height:,} rows, {users:,} users, "
                  f"{len(fields) + 2} columns compared exactly (embeddings included)")
        del ours
    return ok


# ------------------------------------------------------------------------------------------------ report


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000_000, help="raw engagement rows (all days)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=500_000)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--skip-duckdb", action="store_true", help="skip both DuckDB contenders")
    parser.add_argument("--skip-duckdb-final", action="store_true",
                        help="skip the extra contender: DuckDB computing only the final snapshot")
    parser.add_argument("--skip-engine-final", action="store_true",
                        help="skip the informational contender: the engine computing only the final snapshot")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work: Path = args.work.resolve()

    if args.child:
        result = CHILDREN[args.child](work)
        result["max_rss_bytes"] = peak_rss_bytes()
        print(json.dumps(result, default=str), flush=True)
        return result

    work.mkdir(parents=True, exist_ok=True)
    data_dir = work / "data"
    manifest = ensure_demo_data(data_dir, args.events, args.days, args.users, args.items)
    artefact_path = write_artefact(work)
    doc = json.loads(artefact_path.read_text())
    fields = [f["name"] for f in doc["feature"]["fields"]]
    days = day_range(manifest)
    events_paths = event_files(data_dir, days)
    lookup_paths = [p for files in lookup_files(data_dir).values() for p in files]
    disk_events = sum(p.stat().st_size for p in events_paths)
    disk_lookups = sum(p.stat().st_size for p in lookup_paths)
    raw_rows = int(manifest["tables"][EVENTS_SOURCE]["rows"])
    warm_page_cache(events_paths + lookup_paths)

    print(f"batch benchmark: {FEATURE_ID}, {raw_rows:,} raw {EVENTS_SOURCE} rows over {len(days)} days "
          f"({days[0]}..{days[-1]}), {args.users:,} users, {args.items:,} items; polars "
          f"{pl.__version__}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    kinds = ["floor", "floor-collect", "ours", "ours-ungated", "floor-write"]
    kinds += [] if args.skip_engine_final else ["engine-final"]
    kinds += [] if args.skip_duckdb else ["duckdb-days"]
    kinds += [] if args.skip_duckdb or args.skip_duckdb_final else ["duckdb"]
    for kind in kinds:
        print(f"  running {kind}...", flush=True)
        results[kind] = run_child(kind, work)

    print(f"  load average after the runs: {os.getloadavg()[0]:.1f} (other processes share the cores)")
    mem_events = results["floor-collect"]["estimated_bytes"][EVENTS_SOURCE]
    mem_total = sum(results["floor-collect"]["estimated_bytes"].values())
    print(f"\n  raw data: {raw_rows:,} rows; on disk {_mb(disk_events)} events + {_mb(disk_lookups)} lookups "
          f"(Parquet zstd); in memory ~{_mb(mem_events)} events + {_mb(mem_total - mem_events)} lookups "
          f"(polars estimated_size of the columns read)")
    print(f"  raw events files (all 9 columns read): {len(events_paths)} Parquet files; peak RSS of each contender "
          f"below is to be read against these sizes")
    print(f"  {'contender':<44}{'time':>9}{'CPU':>9}{'events/s':>13}{'peak RSS':>11}")
    labels = {
        "floor": "floor: polars streaming scan of the columns",
        "floor-collect": "floor: polars scan + collect into memory",
        "ours": "ours: index_days (events+rejects+snapshots)",
        "ours-ungated": "info: ours without the data-contract gate",
        "floor-write": "floor: polars writing our output tables",
        "engine-final": "info: engine, final snapshot only (full)",
        "duckdb-days": "DuckDB SQL: same job (events+rejects+snaps)",
        "duckdb": "info: DuckDB SQL, final snapshot only (full)",
    }
    for kind, result in results.items():
        print(f"  {labels[kind]:<44}{result['seconds']:>8.2f}s{result.get('cpu_s', float('nan')):>8.1f}s"
              f"{raw_rows / result['seconds']:>13,.0f}{result['max_rss_bytes'] / 1e6:>8,.0f} MB")
    print(f"  (CPU = user + system seconds of the contender; 2 cores give at most 2x its time. Peak RSS includes "
          f"the interpreter with polars imported, {results['floor']['baseline_rss_bytes'] / 1e6:,.0f} MB)")
    ours = results["ours"]
    floor = min(results["floor"]["seconds"], results["floor-collect"]["seconds"])
    ratio_floor = ours["seconds"] / floor
    print(f"\n  ours / floor (faster floor)     {ratio_floor:6.2f}x   target <= 3x: "
          f"{'OK' if ratio_floor <= 3 else 'MISSED'}")
    write_floor = results["floor-write"]["seconds"]
    print(f"  output floor / scan floor       {write_floor / floor:6.2f}x   (writing the "
          f"{results['floor-write']['written_bytes'] / 1e9:.2f} GB of events + snapshots alone, from memory: "
          f"no engine can be within 3x of the scan floor while it writes these tables)")
    print(f"  ours / (scan + output floors)   {ours['seconds'] / (floor + write_floor):6.2f}x")
    gate = ours["seconds"] / results["ours-ungated"]["seconds"]
    print(f"  ours / ours without the gate    {gate:6.2f}x   (what checking every day's contracts costs)")
    figures: dict[str, Any] = {
        "raw_rows": raw_rows, "disk_bytes": disk_events + disk_lookups, "memory_bytes": mem_total,
        "ours_s": ours["seconds"], "floor_s": floor, "ours_rss": ours["max_rss_bytes"],
        "ratio_floor": ratio_floor, "write_floor_s": write_floor, "gate_ratio": gate,
    }
    if "duckdb-days" in results:
        duck = results["duckdb-days"]
        speedup = duck["seconds"] / ours["seconds"]
        print(f"  DuckDB (same job) / ours        {speedup:6.2f}x   target > 1 (ours faster): "
              f"{'OK' if speedup > 1 else 'MISSED'}")
        print(f"  DuckDB (same job) / floor       {duck['seconds'] / floor:6.2f}x")
        figures.update(duckdb_s=duck["seconds"], duckdb_rss=duck["max_rss_bytes"], speedup_vs_duckdb=speedup)
    if "duckdb" in results:
        print(f"  info: DuckDB final-only / ours  {results['duckdb']['seconds'] / ours['seconds']:6.2f}x   "
              f"(DuckDB doing a seventh of the job)")
        figures["duckdb_final_s"] = results["duckdb"]["seconds"]
    if "engine-final" in results:
        final = results["engine-final"]
        print(f"  info: engine-final / floor        {final['seconds'] / floor:6.2f}x")
        if "duckdb" in results:
            print(f"  info: DuckDB / engine-final       {results['duckdb']['seconds'] / final['seconds']:6.2f}x")
        figures["engine_final_s"] = final["seconds"]
    rss_ratio = ours["max_rss_bytes"] / mem_total
    print(f"  ours peak RSS / raw in memory   {rss_ratio:6.2f}x   ({ours['max_rss_bytes'] / 1e6:,.0f} MB vs "
          f"{mem_total / 1e6:,.0f} MB; target well below 1: {'OK' if rss_ratio < 0.5 else 'MISSED'})")
    print(f"  ours peak RSS / raw on disk     {ours['max_rss_bytes'] / (disk_events + disk_lookups):6.2f}x")
    per_day_lists = [("ours", ours.get("days", []))]
    if "duckdb-days" in results:
        per_day_lists.append(("DuckDB (same job)", results["duckdb-days"].get("days", [])))
    for who, day_list in per_day_lists:
        print(f"\n  {who}, per day:")
        for day in day_list:
            print("    " + ", ".join(
                f"{k}={v:,}" if isinstance(v, int) and not isinstance(v, bool)
                else f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in day.items()))
    if ours.get("stages"):
        print(f"  ours, where the time goes (all days, wall seconds, {ours['seconds']:.1f} s in total):")
        for stage, seconds in ours["stages"].items():
            print(f"    {stage:<48}{seconds:8.1f} s  {100 * seconds / ours['seconds']:5.1f}%")
    figures["rss_ratio"] = rss_ratio

    if "duckdb-days" not in results:
        print("\n  equality check skipped (--skip-duckdb)")
        return figures
    print()
    ok = check_days_equality(work, days, fields, ours.get("days", []), results["duckdb-days"].get("days", []))
    if "duckdb" in results:
        ok = check_equality(work, days[-1], fields, engine_final="engine-final" in results) and ok
    print(f"\nEQUALITY {'PASS' if ok else 'FAIL'} overall")
    figures["equal"] = ok
    if not ok:
        raise SystemExit(1)
    return figures


if __name__ == "__main__":
    main()
