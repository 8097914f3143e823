"""``python -m feature_platform.runtimes.stream --env ENV [--feature F ...] [--consumer NAME]``: the indexer
without the CLI's imports (the compiler), for fast restarts. Same options as ``feature-platform stream``,
plus ``--batch-growth`` (the adaptive micro-batch ceiling as a multiple of ``--batch-count``)."""

from __future__ import annotations

import argparse
import math

from feature_platform.runtimes.stream._run import run_stream
from feature_platform.settings import PlatformSettings, SettingsError
from feature_platform.store.layout import is_name


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m feature_platform.runtimes.stream")
    parser.add_argument("--env", default=None)
    parser.add_argument("--feature", action="append", default=[])
    parser.add_argument("--consumer", default="indexer-0")
    parser.add_argument("--metrics-port", type=int, default=None)
    parser.add_argument("--metrics-host", default="127.0.0.1")
    parser.add_argument("--batch-count", type=int, default=2_000)
    parser.add_argument("--batch-growth", type=int, default=8)
    parser.add_argument("--batch-ms", type=int, default=20)
    parser.add_argument("--claim-idle-ms", type=int, default=30_000)
    parser.add_argument("--reload-seconds", type=float, default=2.0)
    parser.add_argument("--log-keep-seconds", type=float, default=172_800.0)
    args = parser.parse_args()
    if args.env is not None and not is_name(args.env):  # as the CLI's --env: never falls back to $FP_ENV
        parser.error(f"invalid environment {args.env!r}")
    if args.metrics_port is not None and not 1 <= args.metrics_port <= 65535:
        parser.error("--metrics-port must be from 1 to 65535")
    for name in ("reload_seconds", "log_keep_seconds"):  # as the CLI's FiniteFloatRange(min=0)
        if not (math.isfinite(getattr(args, name)) and getattr(args, name) >= 0):
            parser.error(f"--{name.replace('_', '-')} must be a finite number of seconds, at least 0")
    if args.claim_idle_ms < 0:
        parser.error("--claim-idle-ms must be at least 0")
    for name in ("batch_count", "batch_growth", "batch_ms"):  # as the CLI's IntRange(min=1): 0 is unbounded
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        settings = PlatformSettings()
    except SettingsError as exc:  # a bad FP_* value: one line naming it, as the CLI prints it
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    run_stream(
        settings,
        args.env or settings.env,
        features=tuple(args.feature),
        consumer=args.consumer,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        batch_count=args.batch_count,
        batch_growth=args.batch_growth,
        batch_ms=args.batch_ms,
        claim_idle_ms=args.claim_idle_ms,
        reload_seconds=args.reload_seconds,
        log_keep_seconds=args.log_keep_seconds,
    )


if __name__ == "__main__":
    main()
