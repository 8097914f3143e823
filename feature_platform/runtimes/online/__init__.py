"""The online store: per (feature id, user) a batch part and a streaming tail, served at request time.

Layout (the same in both backends; key names are Redis', table names SQLite's)::

    batch part   P:{F:U}:b   one blob: day D, the artefact hash that built it, and the user's events of
                             snapshot(D) pre-encoded as JSON with a timestamp/offset index (``_codec``)
    tail         P:{F:U}:t   event id -> (arrival time, event time, event JSON); written by the streaming
                             indexer, idempotent by event id (a replay overwrites itself), bounded to the
                             newest ``bound`` events
    users        P:F:users   users with a batch part, by day (to remove users absent from a newer snapshot)
    state        P:F:state   the latest loaded day, its artefact hash, the stream's heartbeat

(Redis also has ``P:{F:U}:s``, a load's staging copy of a blob inside its transaction: see ``_redis``.)

The batch path owns history, the stream owns "now": loading day D replaces each user's batch part
(never with an older day) and deletes that user's tail entries that *arrived* before D+1 00:00 — the
batch of D indexed everything that arrived up to then (partitions are by arrival day, late events
included), so those entries are now in the batch part. Serving also ignores such entries if a trim
lagged. Serving merges batch + tail with ``dedup_and_rank`` (see :mod:`._sequence`).

The runtime reads compiled artefacts only; it never imports Dagster, the authoring API or the compiler.
"""

from feature_platform.runtimes.online._certified import require_certified, uncertified_reason
from feature_platform.runtimes.online._codec import (
    BLOB_FORMAT,
    BatchPart,
    BlobFormatError,
    TailEvent,
    decode_blob,
    encode_snapshot,
    from_micros,
    to_micros,
)
from feature_platform.runtimes.online._factory import open_online_store, open_online_store_from_settings
from feature_platform.runtimes.online._load import OnlineLoadResult, UncertifiedDayError, load_day, load_snapshot
from feature_platform.runtimes.online._redis import RedisOnlineStore
from feature_platform.runtimes.online._sequence import SequenceRequest, ServedSequence, assemble, batch_end
from feature_platform.runtimes.online._sqlite import SqliteOnlineStore
from feature_platform.runtimes.online._store import (
    FeatureState,
    OnlineStore,
    OnlineStoreError,
    StreamStatus,
    UserRecord,
    WriteCounts,
)
from feature_platform.runtimes.online._verify import ParityReport, sample_parity

__all__ = [
    "BLOB_FORMAT",
    "BatchPart",
    "BlobFormatError",
    "FeatureState",
    "OnlineLoadResult",
    "OnlineStore",
    "OnlineStoreError",
    "ParityReport",
    "RedisOnlineStore",
    "SequenceRequest",
    "ServedSequence",
    "SqliteOnlineStore",
    "StreamStatus",
    "TailEvent",
    "UncertifiedDayError",
    "UserRecord",
    "WriteCounts",
    "assemble",
    "batch_end",
    "decode_blob",
    "encode_snapshot",
    "from_micros",
    "load_day",
    "load_snapshot",
    "open_online_store",
    "open_online_store_from_settings",
    "require_certified",
    "sample_parity",
    "to_micros",
    "uncertified_reason",
]
