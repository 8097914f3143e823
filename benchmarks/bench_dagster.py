"""Dagster benchmark: code-location load time for 100 generated features, and the demo graph's wall time.

Load time is measured the way a code server pays it: a fresh Python process imports
``feature_platform.definitions`` (which discovers and compiles the generated config package, pointed
at with ``FP_CONFIGS_DIR``) and resolves the asset graph and every job (``Definitions.validate_loadable``).
Baseline, measured in the same processes: importing ``dagster`` alone — the floor any Dagster code
location pays. Target: load ≤ 5 s for 100 features on 2 cores.

The demo graph is ``run_demo_graph`` (compile → validate → publish, then each day's batch assets and
checks for every example feature) on small demo data, in process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from benchmarks.bench_compile import generate

REPO_ROOT = Path(__file__).resolve().parent.parent

_LOAD_SCRIPT = """
import json, time
t0 = time.perf_counter()
import dagster
t1 = time.perf_counter()
from feature_platform.definitions import defs
t2 = time.perf_counter()
dagster.Definitions.validate_loadable(defs)
graph = defs.resolve_asset_graph()
t3 = time.perf_counter()
print(json.dumps({"import_dagster": t1 - t0, "build_defs": t2 - t1, "resolve": t3 - t2, "total": t3 - t0,
                  "assets": len(graph.get_all_asset_keys()), "checks": len(graph.asset_check_keys)}))
"""


def measure_load(configs_dir: Path, data_dir: Path, repeats: int) -> dict[str, float]:
    """Median timings of loading the code location in fresh processes."""
    env = {**os.environ, "FP_CONFIGS_DIR": str(configs_dir), "FP_DATA_DIR": str(data_dir)}
    samples = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _LOAD_SCRIPT], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, check=True)
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def measure_demo(root: Path, days: int, events: int) -> dict[str, float]:
    """Generate small demo data and run the demo graph over it (in a fresh process, like `make demo`)."""
    from feature_platform.demo_data import DemoDataConfig
    from feature_platform.demo_data import generate as generate_demo_data

    start = date(2026, 11, 1)
    generate_demo_data(DemoDataConfig(users=200, items=300, days=days, events=events, start_date=start),
                       root / "raw")
    day_names = [(start + timedelta(d)).isoformat() for d in range(days)]
    script = (
        "import json, sys, time\nfrom datetime import date\n"
        "from feature_platform.orchestration.demo import run_demo_graph\n"
        "t = time.perf_counter()\n"
        f"s = run_demo_graph([date.fromisoformat(d) for d in {day_names!r}])\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'ok': s.success, 'runs': len(s.runs)}))\n"
    )
    env = {**os.environ, "FP_DATA_DIR": str(root), "DAGSTER_HOME": str(root / "dagster_home")}
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").touch()
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--skip-demo", action="store_true", help="Only measure the code-location load.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        package = generate(root, args.features)
        load = measure_load(package, root / "data", args.repeats)
        example = measure_load(REPO_ROOT / "feature_configs", root / "data", args.repeats)
        print(f"dagster benchmark: code-location load in a fresh process, median of {args.repeats}")
        print(f"  baseline  import dagster alone                 {load['import_dagster'] * 1000:8.0f} ms")
        print(f"  {args.features} features: build defs (compile + graph)   {load['build_defs'] * 1000:8.0f} ms   "
              f"({int(load['assets'])} assets, {int(load['checks'])} checks)")
        print(f"  {args.features} features: validate_loadable + resolve    {load['resolve'] * 1000:8.0f} ms")
        print(f"  {args.features} features: total load                    {load['total'] * 1000:8.0f} ms   "
              f"{load['total'] / load['import_dagster']:5.2f}x baseline   target ≤ 5000 ms: "
              f"{'OK' if load['total'] <= 5 else 'MISSED'}")
        print(f"  example configs (3 features): total load       {example['total'] * 1000:8.0f} ms")
        results = {f"load_{k}_s": v for k, v in load.items()}
        if not args.skip_demo:
            demo = measure_demo(root / "demo", args.days, args.events)
            print(f"  demo graph: 3 features x {args.days} days, {args.events:,} raw events: "
                  f"{demo['seconds']:.1f} s in process ({int(demo['runs'])} runs, "
                  f"{'all checks passed' if demo['ok'] else 'FAILED'})")
            results["demo_graph_s"] = demo["seconds"]
    return results


if __name__ == "__main__":
    main()
