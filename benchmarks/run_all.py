"""`make bench`: run every benchmark in one process tree and print their figures one after another."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "benchmarks.bench_compile",
    "benchmarks.bench_dagster",
    "benchmarks.bench_batch",
    "benchmarks.bench_training_set",
    "benchmarks.bench_online",
    "benchmarks.bench_stream",
]


def main() -> None:
    selected = sys.argv[1:] or BENCHMARKS
    for name in selected:
        module = importlib.import_module(name if name.startswith("benchmarks.") else f"benchmarks.{name}")
        print(f"\n=== {module.__name__} ===", flush=True)
        module.main([])


if __name__ == "__main__":
    main()
