"""The streaming indexer: the event log (Redis Streams or an embedded SQLite log), the micro-batch
indexer writing the online store's tail, dead letters, and the replay producer.

It reads compiled artefacts only (through the artefact store's environment pointers) and runs the
engine's :func:`~feature_platform.engine.run_micro_batch` — the batch indexer's plan — so batch, stream
and serving agree by construction. It never imports Dagster, the authoring API or the compiler.
"""

from feature_platform.runtimes.stream._indexer import (
    ENTRY,
    UNDECODABLE,
    IndexerConfig,
    Lookups,
    StreamIndexer,
    decode_entries,
    streamed_sources,
    tail_bound,
)
from feature_platform.runtimes.stream._log import (
    DeadLetter,
    EventLog,
    EventLogError,
    GroupInfo,
    LogEntry,
    open_event_log,
)
from feature_platform.runtimes.stream._metrics import StreamMetrics
from feature_platform.runtimes.stream._replay import payloads, replay, stream_name
from feature_platform.runtimes.stream._run import open_event_log_from_settings, run_stream

__all__ = [
    "ENTRY",
    "UNDECODABLE",
    "DeadLetter",
    "EventLog",
    "EventLogError",
    "GroupInfo",
    "IndexerConfig",
    "LogEntry",
    "Lookups",
    "StreamIndexer",
    "StreamMetrics",
    "decode_entries",
    "open_event_log",
    "open_event_log_from_settings",
    "payloads",
    "replay",
    "run_stream",
    "stream_name",
    "streamed_sources",
    "tail_bound",
]
