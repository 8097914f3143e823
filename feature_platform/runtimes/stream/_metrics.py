"""Prometheus metrics of one streaming indexer (a registry per indexer, so tests can build many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class StreamMetrics:
    """``fp_stream_entries_total`` and ``fp_stream_events_total`` (rate = events/s), micro-batch latency,
    lag behind the log head (entries and seconds), dead letters, claims, reload refusals and errors."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.entries = Counter(
            "fp_stream_entries", "Log entries processed and acknowledged.", ["feature_id"], registry=r
        )
        self.events = Counter("fp_stream_events", "Events written to the online tail.", ["feature_id"], registry=r)
        self.dead = Counter(
            "fp_stream_dead_letters", "Malformed events sent to the dead letters.", ["feature_id"], registry=r
        )
        self.dead_total = Gauge(
            "fp_stream_dead_letters_stored", "Dead letters stored for the feature.", ["feature_id"], registry=r
        )
        self.batch_seconds = Histogram(
            "fp_stream_micro_batch_seconds", "Micro-batch latency (read to ack).", buckets=_BUCKETS, registry=r
        )
        self.lag_entries = Gauge(
            "fp_stream_lag_entries", "Entries behind the log head (undelivered + pending).", ["feature_id"], registry=r
        )
        self.lag_seconds = Gauge(
            "fp_stream_lag_seconds",
            "Arrival time of the log head minus that of the newest committed entry (0 when caught up).",
            ["feature_id"],
            registry=r,
        )
        self.claimed = Counter("fp_stream_claimed_entries", "Entries claimed from dead consumers.", registry=r)
        self.trimmed = Counter(
            "fp_stream_trimmed_entries", "Log entries trimmed once every group had acknowledged them.", ["stream"],
            registry=r,
        )
        self.reload_refusals = Counter(
            "fp_stream_reload_refusals", "Artefacts refused on reload (kept the previous).", registry=r
        )
        self.errors = Counter(
            "fp_stream_errors", "Iterations that failed (log or store unreachable) and retried.", registry=r
        )
        self.info = Gauge(
            "fp_stream_artefact_info",
            "Artefact indexed per feature (value 1).",
            ["feature_id", "content_hash"],
            registry=r,
        )

    def artefact(self, feature_id: str, content_hash: str) -> None:
        for labels in list(self.info._metrics):
            if labels[0] == feature_id:
                self.info.remove(*labels)
        self.info.labels(feature_id, content_hash).set(1)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)
