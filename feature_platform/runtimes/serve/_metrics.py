"""Prometheus metrics of one server (a registry per app, so tests can build many apps in one process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from feature_platform.runtimes.serve._registry import LiveFeatures

_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _LiveCollector(Collector):
    """Loaded artefact hashes and reload refusals, read from the registry at scrape time."""

    def __init__(self, live: LiveFeatures) -> None:
        self._live = live

    def collect(self) -> Iterator[Any]:
        info = GaugeMetricFamily("fp_serve_artefact_info", "Artefact served per feature (value 1).",
                                 labels=["feature_id", "content_hash", "batch_day"])
        for feature_id, loaded in sorted(self._live.features.items()):
            day = loaded.state.batch_day.isoformat() if loaded.state and loaded.state.batch_day else ""
            info.add_metric([feature_id, loaded.content_hash, day], 1.0)
        yield info
        refused = CounterMetricFamily("fp_serve_reload_refusals", "Artefacts refused on reload (kept the previous).")
        refused.add_metric([], float(self._live.reload_failures))
        yield refused


class ServeMetrics:
    def __init__(self, live: LiveFeatures) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram("fp_serve_request_seconds", "Request latency by route and status.",
                                  ["route", "method", "status"], buckets=_BUCKETS, registry=self.registry)
        self.store = Histogram("fp_serve_store_seconds", "Online store round trips by operation.",
                               ["op"], buckets=_BUCKETS, registry=self.registry)
        self.shed = Counter("fp_serve_shed", "Requests refused with 503 because too many were in flight.",
                            registry=self.registry)
        self.store_errors = Counter("fp_serve_store_errors", "Requests answered 503 because the store failed.",
                                    registry=self.registry)
        self.registry.register(_LiveCollector(live))


class Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def route_of(path: str) -> str:
    """A bounded route label for a request path (never the raw path: users must not become labels)."""
    if path.startswith("/v1/features/"):
        if path.endswith("/sequence"):
            return "/v1/features/{feature}/users/{user}/sequence"
        if path.endswith("/sequences"):
            return "/v1/features/{feature}/sequences"
        return "other"
    if path in ("/healthz", "/readyz", "/metrics", "/v1/features", "/openapi.json", "/docs"):
        return path
    return "other"
