"""A deliberately simple, slow, pure-Python reference of the engine, to compare fast paths with.

* :func:`evaluate` — one expression on one row (the semantics of ``feature_platform.engine.expressions``);
* :func:`reference_events` — a feature's events and rejects from raw rows and lookup rows
  (``feature_platform.engine.plan``);
* :func:`reference_sequences` — each user's sequence as of an instant
  (``feature_platform.engine.sequences``; the batch indexer, training sets and serving are compared
  with it too).

No polars in the logic: plain dicts and lists, sorted in Python. Use :func:`canonical` to compare
engine output (``DataFrame.to_dicts()``) with reference output.
"""

from tests.reference.compare import canonical, canonical_rows
from tests.reference.events import events_columns, reference_events
from tests.reference.expressions import cast, evaluate, parse_iso_timestamp
from tests.reference.sequences import reference_sequences

__all__ = [
    "canonical",
    "canonical_rows",
    "cast",
    "evaluate",
    "events_columns",
    "parse_iso_timestamp",
    "reference_events",
    "reference_sequences",
]
