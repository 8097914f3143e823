"""The source's declared schema is checked on the stream exactly as on the batch path: a null in a
``nullable=False`` column and an integer out of its declared type's range make a row a dead letter with
the batch's reason strings (never a served event, never a silent null), and the batch rejects of a day
equal the stream's dead letters of the same rows."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import polars as pl
import pytest

from feature_platform.artefact import Artefact
from feature_platform.runtimes.batch import TableLocations, index_day
from feature_platform.runtimes.online import SqliteOnlineStore
from feature_platform.runtimes.stream import EventLog, IndexerConfig, StreamIndexer, payloads
from feature_platform.runtimes.stream._indexer import Unit, day_start_us
from tests.batch.conftest import DAYS, Demo, Published

FEATURE = "recent_engagements_v1"
SOURCE = "engagement_events"


def _strict(published: Published) -> Artefact:
    """The feature with ``device`` declared ``nullable=False`` (a column no key field is computed from)."""
    base = published.artefacts[FEATURE]
    source = base.sources[SOURCE]
    columns = tuple(c.model_copy(update={"nullable": False}) if c.name == "device" else c for c in source.columns)
    strict = source.model_copy(update={"columns": columns})
    return base.model_copy(update={"sources": {**base.sources, SOURCE: strict}, "content_hash": None})


def _bad_rows(raw: Path, day: date) -> pl.DataFrame:
    """Three saves of ``day``: one out of range for int64 (another writer's UInt64), one with a null device,
    one fine."""
    first = sorted((raw / SOURCE / f"dt={day.isoformat()}").glob("*.parquet"))[0]
    saves = pl.read_parquet(first).filter(
        pl.col("action") == "save", pl.col("event_id").is_not_null(), pl.col("user_id").is_not_null(),
        pl.col("device").is_not_null(),
    ).head(3)
    return saves.with_columns(
        pl.Series("event_id", ["too-big", "no-device", "fine"]),
        pl.Series("user_id", [9_000_000_001, 9_000_000_002, 9_000_000_003]),
        pl.Series("pin_id", [2**64 - 1, 5, 6], dtype=pl.UInt64),
        pl.Series("device", ["ios", None, "web"]),
    )


def _encode(rows: pl.DataFrame) -> list[bytes]:
    return [s.encode() for s in rows.select(pl.struct(pl.all()).struct.json_encode()).to_series().to_list()]


def _index(log: EventLog, artefact: Artefact, raw: Path, tmp_path: Path, day: date,
           rows: list[bytes]) -> tuple[StreamIndexer, SqliteOnlineStore]:
    """Append ``rows`` (arrival day ``day``) and run them through the indexer's micro-batch as one unit."""
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    config = IndexerConfig(env="dev", consumer="t", raw_root=str(raw))
    from feature_platform.store import open_store

    indexer = StreamIndexer(config, open_store(str(tmp_path / "store")), log, online)
    start = day_start_us(day)
    log.append(SOURCE, [(start + i, p) for i, p in enumerate(rows)])
    log.ensure_group(SOURCE, "g")
    entries = log.read(SOURCE, "g", "t", len(rows) + 10)
    assert len(entries) == len(rows)
    unit = Unit(artefact=artefact, group="g", streams={SOURCE: SOURCE})
    indexer.process(unit, SOURCE, SOURCE, entries)
    return indexer, online


@pytest.mark.parametrize("slow", [False, True], ids=["ndjson", "per-entry decoding"])
def test_a_null_non_nullable_column_and_an_out_of_range_integer_are_dead_letters_with_the_batch_reasons(
    slow: bool, log: EventLog, demo: Demo, published: Published, tmp_path: Path
) -> None:
    artefact = _strict(published)
    bad = _bad_rows(demo.root, DAYS[0])
    extra = [b"not json"] if slow else []  # one undecodable payload sends the micro-batch down the slow path
    _, online = _index(log, artefact, demo.root, tmp_path, DAYS[0], _encode(bad) + extra)
    letters = {d.event_id: d for d in log.dead_letters(FEATURE)}
    assert {k: (d.event_type, d.reason) for k, d in letters.items()} == {
        "too-big": ("save", "pin_id out of range for int64"),
        "no-device": ("save", "null device"),
        **({None: ("", "undecodable payload")} if slow else {}),
    }
    assert orjson.loads(letters["too-big"].raw)["pin_id"] == 2**64 - 1  # kept as it arrived, not nulled
    assert orjson.loads(letters["no-device"].raw)["device"] is None
    served = {e.event_id for r in online.read_users_sync(FEATURE, ["9000000001", "9000000002", "9000000003"])
              for e in r.tail}
    assert served == {"fine"}
    online.close()


def test_batch_rejects_of_a_day_equal_the_stream_dead_letters(
    log: EventLog, demo: Demo, published: Published, tmp_path: Path
) -> None:
    artefact = _strict(published)
    raw = tmp_path / "raw"
    shutil.copytree(demo.root, raw)
    day = DAYS[0]
    # one day of the demo (its own defects: null ids and users, late events, nulls in device) + the bad rows
    rows = payloads(artefact.sources[SOURCE], str(raw), day)
    bad = _bad_rows(raw, day)
    bad.write_parquet(raw / SOURCE / f"dt={day.isoformat()}" / "part-99999.parquet")
    rows += _encode(bad)

    locations = TableLocations(raw_root=str(raw), tables_root=str(tmp_path / "tables"))
    result = index_day(artefact, day, locations)
    assert result.reject_reasons["pin_id out of range for int64"] == 1
    assert result.reject_reasons["null device"] >= 1
    rejects = pl.read_parquet(locations.partition_file(FEATURE, "rejects", day))
    batch = Counter(zip(rejects["event_type"], rejects["event_id"], rejects["reason"], rejects["raw"], strict=True))

    _, online = _index(log, artefact, raw, tmp_path, day, rows)
    stream = Counter((d.event_type, d.event_id, d.reason, d.raw) for d in log.dead_letters(FEATURE))
    assert stream == batch
    assert {"too-big", "no-device"} <= {e for _, e, _, _ in stream}
    online.close()
