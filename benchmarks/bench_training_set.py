"""Training-set benchmark: ``build_training_set`` on 1 million labelled examples, against a floor and a baseline.

Input: the tables ``bench_batch`` indexed in its work dir (demo data + ``index_days``; both are made
first when missing or made with other parameters), and ``--examples`` examples written to Parquet (not
timed): ``example_id``, ``user_id`` drawn uniformly from the demo population (users without any event
included), ``timestamp`` spread uniformly over the indexed days (microseconds, UTC), a ``label``. 2% of
them sit exactly on the timestamp of one of their user's events, which must then be left out (strictly
before).

Contenders, each in its own subprocess (peak RSS is its own ``VmHWM``), each timed from reading the
examples' Parquet to the finished frames in memory. ``ours`` is ONE ``build_training_set`` call on all
the examples (the realistic use; it bounds its own memory by processing the examples in chunks — per
example day, large days by user range, ``--max-examples-per-chunk``); ``--ours-chunks day`` calls it
once per example day instead. The floor and the baseline are run once per example day (``--chunks
day``, their outputs kept; ``--chunks none`` runs them on all examples at once).

* **floor**: read the examples, and their users' rows of the snapshot of the day before each example's
  day and of the example day's events: the base any exact strategy has to decode.
* **baseline**: the cheap, *stale* strategy — a polars ``join_asof`` of each example to its user's
  latest daily snapshot before the example's day (``by=user_id, on=day``), with the snapshot rows
  gathered into the same ``sequence`` list-of-structs column. It ignores the events of the example's
  own day and late arrivals, so it is not point-in-time correct: a floor for the join and the output
  materialisation, not a correct answer.
* **ours**: ``build_training_set`` (point-in-time exact: events strictly before each example's instant).

Then ``--sample`` examples (a quarter of them on an event's exact timestamp) are checked against a
brute force: every indexed event of their users, ``engine.dedup_and_rank`` with each example's own
``as_of``, gathered the same way; sequences must be equal exactly (embeddings included), and no
sequence may hold an event at or after its example's instant.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.bench_batch import (
    DEFAULT_WORK,
    FEATURE_ID,
    REPO,
    cpu_seconds,
    day_range,
    ensure_indexed,
    peak_rss_bytes,
)

SEED = 11
ON_EVENT_SHARE = 0.02
EXAMPLES_DIR = "training"


def _hash(n: int, seed: int) -> pl.Expr:
    return pl.int_range(n, dtype=pl.UInt64).hash(seed)


def write_examples(work: Path, manifest: dict[str, Any], n: int, sample: int) -> tuple[Path, Path]:
    """The examples Parquet and the JSON list of ``example_id``s to verify (made once per parameters)."""
    from feature_platform.demo_data import USER_ID_OFFSET
    from feature_platform.runtimes.batch import TableLocations, read_events

    params = manifest["parameters"]
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    tag = f"{n}-{SEED}-{digest}"
    out = work / EXAMPLES_DIR / f"examples-{tag}.parquet"
    sample_path = work / EXAMPLES_DIR / f"verify-{tag}-{sample}.json"
    if out.exists() and sample_path.exists():
        return out, sample_path
    out.parent.mkdir(parents=True, exist_ok=True)
    days = day_range(manifest)
    start_us = int(datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC).timestamp()) * 1_000_000
    span_us = len(days) * 86_400 * 1_000_000
    users = int(params["users"])
    frame = pl.select(
        pl.int_range(n, dtype=pl.Int64).alias("example_id"),
        (_hash(n, SEED) % users).cast(pl.Int64).add(USER_ID_OFFSET).alias("user_id"),
        (_hash(n, SEED + 1) % span_us).cast(pl.Int64).add(start_us).alias("__us"),
        (_hash(n, SEED + 2) % 100 < 7).cast(pl.Int8).alias("label"),
    )
    # Some examples sit exactly on one of their user's events: that event must not be in the sequence.
    on_event = int(n * ON_EVENT_SHARE)
    locations = TableLocations(str(work / "data"), str(work / "tables"))
    events = read_events(FEATURE_ID, locations).select("user_id", "timestamp").collect()
    picked = events[(pl.select(_hash(on_event, SEED + 3) % events.height).to_series()).to_list()]
    stride = n // max(on_event, 1)
    positions = pl.Series([i * stride for i in range(on_event)], dtype=pl.Int64)
    patch = pl.DataFrame({
        "example_id": positions,
        "__user": picked["user_id"],
        "__ts": picked["timestamp"].dt.epoch("us"),
    })
    frame = (
        frame.join(patch, on="example_id", how="left")
        .with_columns(
            pl.coalesce("__user", "user_id").alias("user_id"),
            pl.coalesce("__ts", "__us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("timestamp"),
        )
        .select("example_id", "user_id", "timestamp", "label")
    )
    frame.write_parquet(out)
    quarter = sample // 4
    chosen = positions.head(quarter).to_list()
    random_ids = pl.select(_hash(sample * 4, SEED + 4) % n).to_series().unique(maintain_order=True).to_list()
    chosen += [i for i in random_ids if i not in set(chosen)][: sample - len(chosen)]
    sample_path.write_text(json.dumps(sorted(int(i) for i in chosen)))
    return out, sample_path


# ------------------------------------------------------------------------------------------------ children


def _locations(work: Path) -> Any:
    from feature_platform.runtimes.batch import TableLocations

    return TableLocations(str(work / "data"), str(work / "tables"))


def _table_file(work: Path, table: str, day: date) -> Path:
    """The day's one live file (named by its content hash), or a path that does not exist."""
    directory = work / "tables" / FEATURE_ID / table / f"dt={day.isoformat()}"
    return next(directory.glob("part-*.parquet"), directory / "missing.parquet")


def _fields(work: Path) -> list[str]:
    from feature_platform.artefact import load_artefact
    from feature_platform.engine import events_schema

    artefact = load_artefact(work / "artefact" / f"{FEATURE_ID}.json")
    user = artefact.feature.entity_key.name
    return [c for c in events_schema(artefact) if c != user]


def chunks(frame: pl.DataFrame, mode: str) -> list[pl.DataFrame]:
    """The examples as one frame (``none``) or one frame per example day (``day``, in day order)."""
    if mode == "none":
        return [frame]
    day = pl.col("timestamp").dt.date().alias("__chunk_day")
    parts = frame.with_columns(day).sort("__chunk_day", maintain_order=True).partition_by(
        "__chunk_day", maintain_order=True, include_key=False
    )
    return parts


def _user_days(chunk: pl.DataFrame, shift_days: int) -> pl.DataFrame:
    """Distinct (user_id, dt) of the examples, dt = the example's day minus ``shift_days``."""
    return chunk.select(
        "user_id", (pl.col("timestamp").dt.date() - timedelta(days=shift_days)).alias("dt")
    ).unique()


def _scan_for(work: Path, table: str, pairs: pl.DataFrame) -> pl.LazyFrame:
    """Rows of ``table`` for the (user_id, dt) ``pairs`` whose partition exists (dt from the path)."""
    files = [str(f) for d in sorted(pairs.get_column("dt").unique().to_list())
             if (f := _table_file(work, table, d)).exists()]
    if not files:  # e.g. the snapshot before the first day: no rows, the table's columns
        any_file = next((work / "tables" / FEATURE_ID / table).glob("dt=*/part-*.parquet"))
        return pl.scan_parquet(any_file, hive_partitioning=True).head(0)
    return pl.scan_parquet(files, hive_partitioning=True).join(
        pairs.lazy(), on=["user_id", "dt"], how="semi", maintain_order="left"
    )


def _floor(work: Path, chunk: pl.DataFrame, fields: list[str]) -> tuple[pl.DataFrame, dict[str, int]]:
    base = _scan_for(work, "snapshots", _user_days(chunk, 1)).collect()
    same_day = _scan_for(work, "events", _user_days(chunk, 0)).collect()
    return chunk, {"rows_read": base.height + same_day.height,
                   "bytes_read": base.estimated_size() + same_day.estimated_size()}


def _baseline(work: Path, chunk: pl.DataFrame, fields: list[str]) -> tuple[pl.DataFrame, dict[str, int]]:
    keyed = chunk.with_columns(
        (pl.col("timestamp").dt.date() - timedelta(days=1)).alias("__snapshot_day"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("__row"),
    )
    sequences = (
        _scan_for(work, "snapshots", _user_days(chunk, 1))  # files in day order, rows by (user, position)
        .group_by("dt", "user_id", maintain_order=True)
        .agg(pl.struct(fields).alias("sequence"))
        .rename({"dt": "__snapshot_day"})
        .collect()
    )
    if sequences.height == 0:
        empty = pl.List(pl.Struct({f: pl.Null for f in fields}))
        sequences = pl.DataFrame(schema={"__snapshot_day": pl.Date, "user_id": pl.Int64, "sequence": empty})
    out = (
        keyed.sort("__snapshot_day")
        .join_asof(sequences.set_sorted("__snapshot_day"), on="__snapshot_day", by="user_id",
                   strategy="backward", check_sortedness=False)
        .sort("__row")
        .with_columns(pl.col("sequence").fill_null(pl.lit([], dtype=sequences.schema["sequence"])))
        .with_columns(pl.col("sequence").list.len().cast(pl.Int32).alias("sequence_length"))
        .drop("__snapshot_day", "__row")
    )
    return out, {}


MAX_EXAMPLES_PER_CHUNK: int | None = None
"""``--max-examples-per-chunk`` in the ``ours`` child (None: ``build_training_set``'s default)."""


def _ours(work: Path, chunk: pl.DataFrame, fields: list[str]) -> tuple[pl.DataFrame, dict[str, int]]:
    from feature_platform.artefact import load_artefact
    from feature_platform.runtimes.batch import build_training_set

    artefact = load_artefact(work / "artefact" / f"{FEATURE_ID}.json")
    options = {} if MAX_EXAMPLES_PER_CHUNK is None else {"max_examples_per_chunk": MAX_EXAMPLES_PER_CHUNK}
    out = build_training_set(artefact, chunk, _locations(work), **options)
    carried = all(out.get_column(c).equals(chunk.get_column(c)) for c in chunk.columns)
    return out, {"chunks_not_carried_through": 0 if carried else 1}


CONTENDERS = {"floor": _floor, "baseline": _baseline, "ours": _ours}


def run_contender(kind: str, work: Path, examples: Path, sample_path: Path, mode: str) -> dict[str, Any]:
    """Time one contender over the examples (read + every chunk); summarise its output; verify ours."""
    fields = _fields(work)
    contender = CONTENDERS[kind]
    cpu, start = cpu_seconds(), time.perf_counter()
    frame = pl.read_parquet(examples)
    outputs, counters = [], {}
    for chunk in chunks(frame, mode):
        out, extra = contender(work, chunk, fields)
        outputs.append(out)
        for key, value in extra.items():
            counters[key] = counters.get(key, 0) + value
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {"seconds": seconds, "cpu_s": cpu_seconds() - cpu, "max_rss_bytes": peak_rss_bytes(),
                              "chunks": len(outputs), **counters}
    if kind == "floor":
        return result
    lengths = pl.concat([o.get_column("sequence_length") for o in outputs])
    result.update(rows=int(lengths.len()), elements=int(lengths.sum()), empty=int((lengths == 0).sum()),
                  estimated_bytes=sum(o.estimated_size() for o in outputs))
    if kind == "ours":
        from feature_platform.artefact import load_artefact

        sample_ids = pl.Series(json.loads(sample_path.read_text()))
        picked = pl.concat([o.filter(pl.col("example_id").is_in(sample_ids.implode())) for o in outputs])
        del outputs
        artefact = load_artefact(work / "artefact" / f"{FEATURE_ID}.json")
        result["verify"] = verify_sample(work, artefact, picked)
    return result


def verify_sample(work: Path, artefact: Any, picked: pl.DataFrame) -> dict[str, Any]:
    """``picked`` rows of our training set against brute force over every indexed event of their users."""
    from feature_platform.engine import POSITION, dedup_and_rank
    from feature_platform.runtimes.batch import read_events

    fields = _fields(work)
    users = picked.get_column("user_id").unique()
    events = (
        read_events(FEATURE_ID, _locations(work))
        .filter(pl.col("user_id").is_in(users.implode()))
        .drop("dt", strict=False)
        .collect()
    )
    keys = picked.select("example_id", "user_id", pl.col("timestamp").alias("__as_of"))
    ranked = dedup_and_rank(keys.lazy().join(events.lazy(), on="user_id"), artefact, as_of="__as_of",
                            keys=["example_id"]).collect()
    expected = (
        ranked.sort("example_id", POSITION)
        .group_by("example_id", maintain_order=True)
        .agg(pl.struct(fields).alias("expected"))
    )
    both = picked.select("example_id", "timestamp", "sequence").join(expected, on="example_id", how="left")
    empty = pl.lit([], dtype=both.schema["sequence"])
    both = both.with_columns(pl.col("expected").fill_null(empty).cast(both.schema["sequence"])).sort("example_id")
    mismatched = [
        row["example_id"]
        for row in both.select("example_id", pl.col("sequence").ne_missing(pl.col("expected")).alias("bad"))
        .iter_rows(named=True)
        if row["bad"]
    ]
    # Examples on an event's exact timestamp: that event must not be in their sequence (strictly before).
    exact_ts = events.join(keys, left_on=["user_id", "timestamp"], right_on=["user_id", "__as_of"])
    leaked = (
        picked.select("example_id", "timestamp", pl.col("sequence").list.eval(pl.element().struct.field("timestamp"))
                      .alias("__seen"))
        .explode("__seen")
        .filter(pl.col("__seen") >= pl.col("timestamp"))
        .height
    )
    detail = ""
    if mismatched:
        first = both.filter(pl.col("example_id") == mismatched[0])
        detail = (f"example {mismatched[0]} at {first['timestamp'][0]}: ours "
                  f"{first['sequence'].list.len()[0]} events, brute force {first['expected'].list.len()[0]}")
    return {"checked": both.height, "mismatched": len(mismatched), "first_mismatch": detail,
            "non_empty": int((both["expected"].list.len() > 0).sum()),
            "elements": int(both["expected"].list.len().sum()),
            "examples_on_an_event_timestamp": exact_ts.get_column("example_id").n_unique(),
            "events_at_or_after_as_of": leaked}


def run_child(kind: str, work: Path, examples: Path, sample_path: Path, mode: str,
              max_per_chunk: int | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_training_set", "--child", kind, "--work", str(work),
               "--examples-file", str(examples), "--sample-file", str(sample_path), "--chunks", mode]
    if max_per_chunk is not None:
        command += ["--max-examples-per-chunk", str(max_per_chunk)]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"contender '{kind}' failed with exit code {proc.returncode}:\n{proc.stdout[-3000:]}")
    result: dict[str, Any] = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    result["wall_s"] = time.perf_counter() - start
    return result


# ------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=200, help="examples verified against brute force")
    parser.add_argument("--events", type=int, default=20_000_000, help="demo data (as bench_batch)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=500_000)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--chunks", choices=["day", "none"], default="day",
                        help="floor and baseline: once per example day (default) or once for all examples")
    parser.add_argument("--ours-chunks", choices=["day", "none"], default="none",
                        help="build_training_set: one call for all examples (default) or one per example day")
    parser.add_argument("--max-examples-per-chunk", type=int, default=None,
                        help="build_training_set's internal chunk size (default: its own default)")
    parser.add_argument("--child", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--examples-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work: Path = args.work.resolve()

    if args.child:
        global MAX_EXAMPLES_PER_CHUNK
        MAX_EXAMPLES_PER_CHUNK = args.max_examples_per_chunk
        result = run_contender(args.child, work, args.examples_file, args.sample_file, args.chunks)
        print(json.dumps(result, default=str), flush=True)
        return result

    work.mkdir(parents=True, exist_ok=True)
    manifest = ensure_indexed(work, args.events, args.days, args.users, args.items)
    examples, sample_path = write_examples(work, manifest, args.examples, args.sample)
    days = day_range(manifest)
    from feature_platform.runtimes.batch._training import DEFAULT_MAX_EXAMPLES_PER_CHUNK

    chunk_size = args.max_examples_per_chunk or DEFAULT_MAX_EXAMPLES_PER_CHUNK
    calls = "ONE build_training_set call for all examples" if args.ours_chunks == "none" else "one call per day"
    mode = (f"ours: {calls}"
            f" (internal chunks of at most {chunk_size:,} examples: per day, large days by user range); floor and "
            f"baseline: {'one call per example day' if args.chunks == 'day' else 'one call'}")
    print(f"training-set benchmark: {FEATURE_ID}, {args.examples:,} examples (users uniform over "
          f"{args.users:,}, times uniform over {days[0]}..{days[-1]}, {ON_EVENT_SHARE:.0%} on an event's "
          f"timestamp) against tables of {manifest['parameters']['events']:,} raw events; {mode}; "
          f"polars {pl.__version__}, load average {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for kind in ("floor", "baseline", "ours"):
        print(f"  running {kind}...", flush=True)
        if kind == "ours":
            results[kind] = run_child(kind, work, examples, sample_path, args.ours_chunks, args.max_examples_per_chunk)
        else:
            results[kind] = run_child(kind, work, examples, sample_path, args.chunks)

    labels = {
        "floor": "floor: read examples + their users' base rows",
        "baseline": "baseline: stale join_asof on daily snapshots",
        "ours": "ours: build_training_set (point-in-time)",
    }
    n = args.examples
    print(f"\n  {'contender':<47}{'time':>9}{'CPU':>9}{'examples/s':>12}{'peak RSS':>11}")
    for kind, result in results.items():
        print(f"  {labels[kind]:<47}{result['seconds']:>8.2f}s{result['cpu_s']:>8.1f}s{n / result['seconds']:>12,.0f}"
              f"{result['max_rss_bytes'] / 1e6:>8,.0f} MB")
    ours, base, floor = results["ours"], results["baseline"], results["floor"]
    print(f"  (floor: the examples, their users' rows of the previous day's snapshot and of the example day's "
          f"events: {floor['rows_read']:,} rows, ~{floor['bytes_read'] / 1e6:,.0f} MB decoded; load average "
          f"after the runs {os.getloadavg()[0]:.1f})")
    print(f"\n  ours / baseline   {ours['seconds'] / base['seconds']:6.2f}x")
    print(f"  ours / floor      {ours['seconds'] / floor['seconds']:6.2f}x")
    print(f"  output: ours {ours['elements']:,} sequence elements ({ours['elements'] / n:.1f} per example, "
          f"{ours['empty']:,} empty sequences), ~{ours['estimated_bytes'] / 1e6:,.0f} MB in memory; baseline "
          f"{base['elements']:,} ({base['elements'] / n:.1f} per example: stale, misses the example day's events)")
    carried = ours.get("chunks_not_carried_through", 0) == 0
    print(f"  example columns carried through unchanged, in order, by every call: {carried}")
    verify = ours["verify"]
    first = f" ({verify['first_mismatch']})" if verify["mismatched"] else ""
    ok = (verify["mismatched"] == 0 and verify["checked"] == args.sample and verify["events_at_or_after_as_of"] == 0
          and carried)
    print(f"\n{'VERIFY PASS' if ok else 'VERIFY FAIL'}: {verify['checked']} sampled examples "
          f"({verify['examples_on_an_event_timestamp']} on an event's exact timestamp, {verify['non_empty']} with a "
          f"non-empty sequence, {verify['elements']:,} events) vs brute-force dedup_and_rank over all indexed "
          f"events: {verify['mismatched']} mismatched{first}; "
          f"{verify['events_at_or_after_as_of']} sequence events at or after their example's instant")
    figures = {"ours_s": ours["seconds"], "baseline_s": base["seconds"], "floor_s": floor["seconds"],
               "ours_rss": ours["max_rss_bytes"], "verified": ok}
    if not ok:
        raise SystemExit(1)
    return figures


if __name__ == "__main__":
    main()
