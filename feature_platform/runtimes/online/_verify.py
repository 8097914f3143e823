"""Compare what the online store serves with the snapshot table, on a sample of users.

Used by the Dagster check on ``F/online`` (and usable by anyone): the served sequence of a sampled user,
as of the snapshot's own instant with no tail, must equal that user's snapshot rows exactly.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import orjson
import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine.sequences import POSITION
from feature_platform.runtimes.online._sequence import SequenceRequest, assemble, batch_end
from feature_platform.runtimes.online._store import OnlineStore, UserRecord


@dataclass(frozen=True)
class ParityReport:
    sampled: int
    mismatched: int
    examples: tuple[str, ...]

    @property
    def mismatch_rate(self) -> float:
        return self.mismatched / self.sampled if self.sampled else 0.0


def sample_parity(artefact: Artefact, day: date, snapshot: pl.DataFrame, store: OnlineStore, *,
                  sample: int = 200) -> ParityReport:
    """Every k-th user of the snapshot (deterministic), up to ``sample`` users."""
    user = artefact.feature.entity_key.name
    users = snapshot.get_column(user).unique(maintain_order=True)
    step = max(1, users.len() // sample)
    chosen = users.gather_every(step).head(sample).to_list()
    columns = [c for c in snapshot.columns if c not in (user, POSITION)]
    schema = pl.Schema({c: snapshot.schema[c] for c in columns})
    records = store.read_users_sync(artefact.feature.id, [str(u) for u in chosen])
    mismatched = []
    for key, record in zip(chosen, records, strict=True):
        expected = snapshot.filter(pl.col(user) == key).sort(POSITION).select(columns)
        if not _equal(record, artefact, schema, day, expected):
            mismatched.append(str(key))
    return ParityReport(sampled=len(chosen), mismatched=len(mismatched), examples=tuple(mismatched[:10]))


def _equal(record: UserRecord, artefact: Artefact, schema: pl.Schema, day: date, expected: pl.DataFrame) -> bool:
    if record.batch is None:
        return expected.height == 0
    served = assemble(UserRecord(batch=record.batch), artefact, schema, SequenceRequest(), now=batch_end(day))
    if served.batch_day != day:
        return False
    lines = b"\n".join(orjson.dumps(e) for e in orjson.loads(b"[" + served.events_json + b"]"))
    frame = pl.read_ndjson(io.BytesIO(lines), schema=schema) if lines else pl.DataFrame(schema=schema)
    return frame.equals(expected)
