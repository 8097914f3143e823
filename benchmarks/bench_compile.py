"""Compile benchmark: validate + compile 500 generated sequence features.

Generates a config package as real Python files (shared sources, 100 enrichments, 250 event types,
500 sequences, like a large team repo), then times discovery (import), validation and compilation.
Baseline, measured in the same run: importing the same package and collecting its objects (discovery
alone) — the floor any import-based compiler pays. Target: validate + compile under 2 s on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from feature_platform.compiler import compile_configs, write_output
from feature_platform.compiler.discovery import discover

HEADER = '''from datetime import timedelta
from feature_platform.authoring import (BatchOrigin, Column, DerivedEnrichment, EventType, Freshness, Lifecycle,
    LookupEnrichment, SequenceFeature, Source, col, concat, from_epoch_ms, when)
'''

SOURCES = '''
events = [Source(name=f"events_{i}", kind="events", owners=("bench",), timestamp_column="ts_ms",
    columns=(Column("event_id", "string"), Column("user_id", "int64"), Column("item_id", "int64"),
             Column("action", "string"), Column("ts_ms", "int64"), Column("surface", "string"),
             Column("country", "string"), Column("value", "float64")),
    batch=BatchOrigin(path=f"events_{i}")) for i in range(10)]
lookups = [Source(name=f"lookup_{i}", kind="lookup", key_column="item_id",
    columns=(Column("item_id", "int64"), Column("embedding", "list[float32]"), Column("category", "string")),
    batch=BatchOrigin(path=f"lookup_{i}")) for i in range(10)]
'''

ENRICHMENTS = '''
lookups_e = [LookupEnrichment(name=f"lookup_e{i}", lifecycle=Lifecycle.PRODUCTION, source=f"lookup_{i % 10}",
    on="item_id", columns={f"emb_{i}": "embedding", f"cat_{i}": "category"}) for i in range(50)]
derived_e = [DerivedEnrichment(name=f"derived_e{i}", lifecycle=Lifecycle.PRODUCTION, fields={
    f"ctx_{i}": concat(col("surface"), "|", col("country")),
    f"hour_{i}": col("timestamp").dt.hour(),
    f"band_{i}": when(col("value") > i).then("high").otherwise("low")}) for i in range(50)]
'''

EVENT_TYPES = '''
event_types = [EventType(name=f"et_{i}", lifecycle=Lifecycle.PRODUCTION, source=f"events_{i % 10}",
    filter=(col("action") == f"a{i % 7}") & (col("value") >= 0.5) & col("item_id").is_not_null(),
    fields={"event_id": col("event_id"), "user_id": col("user_id"), "timestamp": from_epoch_ms(col("ts_ms")),
            "item_id": col("item_id"), "surface": col("surface").str.lower(), "country": col("country"),
            "value": col("value") * 2.0},
    enrichments=(f"lookup_e{i % 50}", f"derived_e{(i * 7) % 50}")) for i in range({n_event_types})]
'''

SEQUENCES = '''
sequences = [SequenceFeature(name=f"seq_{i}", lifecycle=Lifecycle.PRODUCTION, owners=(f"team_{i % 20}",),
    event_types=(f"et_{i % {n_event_types}}", f"et_{(i * 3 + 1) % {n_event_types}}"), max_length=100 + i,
    retention=timedelta(days=30 + i % 60), fields=("item_id", "surface", "value"),
    freshness=Freshness(streaming_max_lag=timedelta(minutes=5), batch_max_lag=timedelta(days=1)))
    for i in range({n_features})]
'''


def generate(root: Path, n_features: int) -> Path:
    package = root / "bench_configs"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    n_event_types = max(2, n_features // 2)
    (package / "__init__.py").write_text("")
    (package / "sources.py").write_text(HEADER + SOURCES)
    (package / "enrichments.py").write_text(HEADER + ENRICHMENTS)
    (package / "event_types.py").write_text(HEADER + EVENT_TYPES.replace("{n_event_types}", str(n_event_types)))
    (package / "sequences.py").write_text(
        HEADER + SEQUENCES.replace("{n_event_types}", str(n_event_types)).replace("{n_features}", str(n_features))
    )
    return package


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        package = generate(Path(tmp), args.features)
        discover_times, compile_times, write_times = [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            found = discover(package)
            discover_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = compile_configs(package)
            compile_times.append(time.perf_counter() - start)
            if not result.ok:
                raise SystemExit(f"generated configs are invalid: {result.issues[:3]}")
            start = time.perf_counter()
            write_output(result, Path(tmp) / "out")
            write_times.append(time.perf_counter() - start)
        n_objects = len(found.objects)
    disc, comp, write = (statistics.median(t) for t in (discover_times, compile_times, write_times))
    print(f"compile benchmark: {args.features} sequence features, {n_objects} config objects, "
          f"median of {args.repeats}")
    print(f"  baseline  import + discover only        {disc * 1000:8.1f} ms")
    print(f"  validate + compile (incl. discovery)    {comp * 1000:8.1f} ms   "
          f"{comp / disc:5.2f}x baseline   target < 2000 ms: {'OK' if comp < 2 else 'MISSED'}")
    print(f"  write artefacts (staging + swap)        {write * 1000:8.1f} ms")
    return {"discover_s": disc, "compile_s": comp, "write_s": write}


if __name__ == "__main__":
    main()
