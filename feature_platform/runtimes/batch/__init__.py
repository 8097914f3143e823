"""The batch indexer: day-partitioned events, rejects and sequence snapshots, and training sets.

It runs the engine's plan (:func:`feature_platform.engine.build_feature_frame`) lazily over one day of
raw files at a time and orders, de-duplicates and truncates sequences with
:func:`feature_platform.engine.dedup_and_rank` — whose module docstring is *the* sequence definition.
It reads compiled artefacts only and knows nothing of Dagster.

Tables
------
Under ``<tables_root>/<feature_id>/`` (a local directory or ``s3://bucket/prefix``)::

    events/dt=D/part-H.parquet          enriched, normalised events that ARRIVED in raw partition D
    rejects/dt=D/part-H.parquet         malformed raw rows of partition D, with their reasons
    snapshots/dt=D/part-H.parquet       every user's sequence as of D+1 00:00 UTC (long form)
    _manifests/dt=D.json                the commit point: the three files, hashes, counts, reasons, inputs
    watermark/dt=D/part-00000.parquet   the day is certified (``._watermark``)

``H`` is the first 20 hex digits of the file's sha256. One live file per partition and table, so DuckDB
(``read_parquet('<root>/<f>/events/*/*.parquet', hive_partitioning=true)``) and polars
(``scan_parquet(..., hive_partitioning=True)``) read the tables with no help; ``dt`` comes from the path.

Atomicity. Everything is computed and checked before anything visible changes: the large files are
streamed to *staged* files (locally a hidden ``.*.tmp`` file in the target directory, which no
``*.parquet`` glob matches; for S3 a local temporary file) and checked against the pandera data
contracts (:mod:`.contracts`) on their way, the snapshot one user range at a time. A contract failure
(:class:`~feature_platform.errors.ContractViolationError`) discards the staged files and the previous
version of the day stays live. Otherwise the files are published beside the live ones under their
content-hashed names (locally fsync + ``os.replace``; on S3 one upload), the manifest is replaced in one
atomic write — the swap a reader going through the manifest sees, old day or new day, never a mix — and
only then are the files no manifest names removed. Output is deterministic (sorted rows, row groups of
exactly 122,880 rows, fixed Parquet options, no wall-clock time in the manifest): re-indexing a day from
the same input rewrites byte-identical files under the same names.

Memory. A day holds its own events in memory (plus the engine's plan while it collects them). The
snapshot, which grows with users times ``max_length`` and is the largest table by far, is never held
whole: snapshot(D-1) is read two row groups at a time, each slice is cut at a user boundary, advanced
with that user range's new events and streamed into snapshot(D)'s file (``._snapshot``). Peak memory is
therefore one day's events plus a constant, whatever the history or the number of users.

Completeness. Every day of a snapshot's window with raw data must be indexed (``._completeness``), else
:class:`~feature_platform.errors.IncompleteHistoryError` unless ``allow_gaps``; the manifest records the
days missed. Only a complete, current, contract-clean day can be certified (``._watermark``).

events/dt=D
    The feature's events (``engine.events_schema``: entity key, then the feature's fields, then any
    ``dedup_by`` field) of the raw partitions D of every events source of the feature, enriched with
    the lookup tables. Valid iff ``2000-01-01 <= timestamp < D+1 00:00 UTC``: the engine is given
    ``max_event_time = D+1 00:00 - 1µs``, so an event from the future of its arrival day (including
    one at exactly D+1 00:00) is rejected as ``timestamp after max_event_time``. A late event (it
    happened on D-1 or earlier, arrived on D) is a valid event of partition D. Replays are dropped:
    one row per ``(event_id, event_type)`` (a raw row two event types select is two events), keeping
    the latest timestamp, then the first read; the number dropped is the manifest's
    ``events.duplicate_replays``. Rows are sorted by ``timestamp, event_id, event_type``.

rejects/dt=D
    ``engine.rejects_schema()``: every malformed raw row of partition D with its reason (exactly one: the
    first that applies, in the order of :mod:`feature_platform.engine.validation`), never dropped silently.
    Counted per reason in the result and the manifest; the counts add up to the rejects.

snapshots/dt=D
    ``user_id, position, <the other events columns>``, sorted by user and position (0 = most recent):
    ``dedup_and_rank(all events partitions <= D, as_of = D+1 00:00 UTC)``. Built incrementally as
    ``dedup_and_rank(snapshot(D-1) + events(D), as_of = D+1)``. This is exact because every event of a
    partition ``<= D-1`` is before ``D`` (the validity bound above), and an event that ``dedup_and_rank``
    drops as of ``D`` (outside the window, hidden by a more recent duplicate, or behind N more recent
    distinct events) stays dropped as of any later instant whatever events are added — the window's
    lower bound only moves forward, and everything ahead of it is at least as recent — while removing
    dropped events never changes what is kept. ``tests/batch`` checks it against full recomputes.

    snapshot(D-1) is used only when its day is complete, it was built by the same artefact (content
    hash) and it is *current*: its manifest records the events file (sha256) of every complete day of
    its retention window, and they must still be the files of those days. Otherwise (first day,
    another artefact version, or a day of the window re-indexed since) the snapshot is recomputed from
    every complete events partition from ``date(D+1 - R)`` (older partitions hold only events older
    than the window) to D, and the result says ``incremental=False``. Within one :func:`index_days`
    call, snapshot(D-1) is read through a handle opened on the file D-1 has just committed (the bytes
    its manifest hashes) instead of being re-read and re-hashed, under the same conditions. Events partitions written by
    another version of the feature are used when they have the columns this artefact needs (a snapshot
    after an artefact change may mix versions until the retention window has been re-indexed).

Correcting and backfilling
    Lookup tables are read as they are when a day is indexed, so re-indexing an old day applies the
    current enrichments. Re-indexing day d (late raw files, corrected lookups) rewrites d's three
    files; every later snapshot then no longer matches its recorded inputs. ``index_days(d, last)`` rebuilds them in
    order (each incrementally from the corrected previous one); a later day indexed without d+1…
    being re-run detects the stale base and recomputes in full. A backfill is ``index_days`` over a
    range.

Concurrency
    Any number of readers; one writer per (feature, day) at a time (a Dagster partition run). Two
    features, or two days of a feature indexed by different runs, never touch the same files — but
    day D+1 builds on day D, so a range is indexed in order (:func:`index_days`).

Inputs and bad input
    Day D reads raw partition D of every events source of the feature (``engine.scan_source``) and the
    lookup tables. A missing raw partition is a :class:`~feature_platform.errors.SourceDataError` naming
    the source, the day and the expected path, unless ``allow_missing=True``: then that source
    contributes no rows and is listed in ``missing_sources``. A missing lookup table is always an
    error. A raw file missing a column the artefact
    reads fails with the column, the source and the config object that reads it.

Training sets
    :func:`build_training_set` gives each example ``(user, t)`` the sequence of the events of the
    events table (all complete partitions, whatever their arrival day) strictly before ``t`` — the
    same window, de-duplication, truncation, projection and order as the snapshots. The partitions it
    reads per example day D (snapshot(D-1) and every partition ``>= D`` restricted to events before
    D+1) and why that is exact are in :mod:`feature_platform.runtimes.batch._training`. Because late
    events count by event time, an example can see an event that arrived after ``t`` (online serving at
    ``t`` could not have): that is the definition, not an accident. An example with a null user or
    timestamp is refused (:class:`~feature_platform.errors.SourceDataError`), never silently dropped.
"""

from feature_platform.runtimes.batch._completeness import raw_days_in_window, source_raw_days
from feature_platform.runtimes.batch._files import check_output_file, write_parquet_file
from feature_platform.runtimes.batch._indexer import DayIndexResult, index_day, index_days
from feature_platform.runtimes.batch._locations import TableLocations
from feature_platform.runtimes.batch._readers import read_events, read_snapshot, stale_snapshots
from feature_platform.runtimes.batch._snapshot import snapshot_columns, snapshot_schema
from feature_platform.runtimes.batch._training import SEQUENCE, SEQUENCE_LENGTH, build_training_set
from feature_platform.runtimes.batch._watermark import (
    Certification,
    certified_days,
    certify_day,
    is_indexed,
    latest_certified_day,
    read_certification,
    revoke_certifications_from,
    watermark_path,
)

__all__ = [
    "SEQUENCE",
    "SEQUENCE_LENGTH",
    "Certification",
    "DayIndexResult",
    "TableLocations",
    "build_training_set",
    "certified_days",
    "certify_day",
    "check_output_file",
    "index_day",
    "index_days",
    "is_indexed",
    "latest_certified_day",
    "raw_days_in_window",
    "read_certification",
    "read_events",
    "read_snapshot",
    "revoke_certifications_from",
    "snapshot_columns",
    "snapshot_schema",
    "source_raw_days",
    "stale_snapshots",
    "watermark_path",
    "write_parquet_file",
]
