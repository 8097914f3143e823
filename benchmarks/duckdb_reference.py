"""An independent DuckDB SQL implementation of the feature ``recent_engagements_v1``'s final snapshot.

It is the side-by-side contender of ``bench_batch`` and the oracle its equality check uses, so it is
written by hand from the specs, never derived from the engine or the artefact's expression trees:

* ``feature_configs/event_types.py``: ``save`` is ``action = 'save'``; ``click`` is
  ``action = 'click' AND pin_id IS NOT NULL`` (SQL ``WHERE``: a null comparison selects nothing).
  The two filters are disjoint (one ``action`` value each), so one pass over the raw rows with a
  ``CASE`` assigns each selected row its single event type.
* ``feature_configs/_shared.py``: the raw → normalised mapping (``event_ts_ms`` epoch milliseconds
  → timestamp, ``pin_id`` → ``item_id``, ``surface``/``device`` lower-cased, ``country`` upper-cased).
* ``feature_platform/engine/validation.py`` + the batch runtime's contract: a selected row is a reject
  (never an event) when its ``event_id``, ``user_id`` or timestamp is null (an epoch outside years
  0001-9999 is a null timestamp), when the timestamp is before 2000-01-01, or when it is not before the
  end of the day partition it arrived in (``dt + 1 day``, 00:00 UTC).
* ``feature_platform/plugins/builtin.py`` (``dwell_bucketiser``, clicks only): null when ``dwell_ms``
  is null or negative, else the number of boundaries ``<= dwell_ms``.
* enrichments: LEFT joins of ``item_embeddings`` / ``item_categories`` on ``item_id`` (one row per
  key: null keys dropped, the first row in table order wins), and the ``request_context`` fields the
  feature projects: ``context_key = surface || '|' || device || '|' || country`` (null when any part
  is), ``hour_of_day`` = the UTC hour.
* ``feature_platform/engine/sequences.py``: the sequence as of ``as_of`` (the end of the last day):
  ``as_of - retention <= ts < as_of``, ordered by ``ts, event_id, event_type`` descending,
  de-duplicated on ``dedup_by`` (first in that order wins), truncated to ``max_length``, ``position``
  0 = most recent.

From the compiled artefact JSON it reads only parameters: the dwell boundaries, ``max_length``,
``retention_seconds``, ``dedup_by``, the projected field list and the table paths. All enrichments
are row-local, so they are joined after the truncation (to the at most ``max_length`` rows per user
that survive) rather than to every event: the same result, less work.

Run alone: ``python -m benchmarks.duckdb_reference --artefact A.json --raw-root DIR --start D1 --end D2
--out snapshot.parquet``.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

FEATURE_ID = "recent_engagements_v1"
MIN_VALID_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
KNOWN_FIELDS = {
    # field -> SQL over the `kept` relation (k) and the lookups (emb, cat)
    "event_id": "k.event_id",
    "timestamp": "make_timestamp(k.ts_ms * 1000)",
    "event_type": "k.event_type",
    "item_id": "k.item_id",
    "item_embedding": "emb.embedding",
    "item_category": "cat.category",
    "surface": "k.surface",
    "context_key": "k.context_key",
    "dwell_bucket": "k.dwell_bucket",
    "hour_of_day": "k.hour_of_day",
}
# Fields available before the ranking (usable as dedup_by), i.e. everything but the lookups.
PRE_RANK_FIELDS = {"event_id", "event_type", "item_id", "surface", "context_key", "dwell_bucket", "hour_of_day",
                   "device", "country", "timestamp"}


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def snapshot_sql(doc: dict[str, Any], raw_root: str, days: list[date]) -> str:
    """The SELECT computing the snapshot as of the end of ``days[-1]`` from the raw partitions ``days``."""
    feature = doc["feature"]
    if feature["id"] != FEATURE_ID or sorted(feature["event_types"]) != ["click", "save"]:
        msg = f"this reference implements {FEATURE_ID} (save + click), not {feature['id']}"
        raise ValueError(msg)
    fields = [f["name"] for f in feature["fields"]]
    unknown = [f for f in fields if f not in KNOWN_FIELDS]
    if unknown:
        msg = f"the artefact projects field(s) this reference does not implement: {unknown}"
        raise ValueError(msg)
    dedup = list(feature["dedup_by"])
    if not set(dedup) <= PRE_RANK_FIELDS:
        msg = f"dedup_by {dedup} needs fields computed after the ranking"
        raise ValueError(msg)
    dwell = doc["event_types"]["click"]["executor"]
    if dwell["plugin"] != "dwell_bucketiser" or dwell["params"]["input_field"] != "dwell_ms":
        msg = f"unexpected click executor {dwell}"
        raise ValueError(msg)
    boundaries = [int(b) for b in dwell["params"]["boundaries_ms"]]
    max_length = int(feature["max_length"])
    retention_ms = int(feature["retention_seconds"]) * 1000
    as_of_ms = _day_ms(days[-1] + timedelta(days=1))

    sources = doc["sources"]
    root = raw_root.rstrip("/")
    events = sources["engagement_events"]["batch"]
    key = events["partition_key"]
    event_files = [f"{root}/{events['path']}/{key}={d.isoformat()}/*.parquet" for d in days]
    emb_files = f"{root}/{sources['item_embeddings']['batch']['path']}/*.parquet"
    cat_files = f"{root}/{sources['item_categories']['batch']['path']}/*.parquet"

    bucket = " + ".join(f"(dwell_ms >= {b})::INTEGER" for b in boundaries)
    dedup_cols = ", ".join({"timestamp": "ts_ms"}.get(d, d) for d in dedup)
    select = ",\n        ".join(f"{KNOWN_FIELDS[f]} AS \"{f}\"" for f in fields)
    return f"""
WITH raw AS (
    SELECT event_id, user_id, pin_id, action, event_ts_ms, surface, device, country, dwell_ms,
           epoch_ms("{key}"::DATE + INTERVAL 1 DAY) AS partition_end_ms
    FROM read_parquet({_sql_list(event_files)}, hive_partitioning = true, hive_types = {{'{key}': DATE}})
    WHERE action = 'save' OR (action = 'click' AND pin_id IS NOT NULL)
),
valid AS (
    SELECT
        user_id,
        event_id,
        event_ts_ms AS ts_ms,
        CASE action WHEN 'save' THEN 'save' ELSE 'click' END AS event_type,
        pin_id AS item_id,
        lower(surface) AS surface,
        lower(device) AS device,
        upper(country) AS country,
        CASE WHEN action = 'click' AND dwell_ms >= 0 THEN {bucket} END AS dwell_bucket
    FROM raw
    WHERE event_id IS NOT NULL AND user_id IS NOT NULL AND event_ts_ms IS NOT NULL
      AND event_ts_ms >= {MIN_VALID_MS} AND event_ts_ms < partition_end_ms
      AND event_ts_ms >= {as_of_ms - retention_ms} AND event_ts_ms < {as_of_ms}
),
first_copies AS (
    SELECT * FROM valid
    QUALIFY row_number() OVER (PARTITION BY user_id, {dedup_cols}
                               ORDER BY ts_ms DESC, event_id DESC, event_type DESC) = 1
),
kept AS (
    SELECT *,
           (row_number() OVER (PARTITION BY user_id ORDER BY ts_ms DESC, event_id DESC, event_type DESC) - 1)
               ::INTEGER AS position,
           surface || '|' || device || '|' || country AS context_key,
           ((ts_ms // 3600000) % 24)::INTEGER AS hour_of_day
    FROM first_copies
    QUALIFY position < {max_length}
),
emb AS (
    SELECT item_id, embedding
    FROM read_parquet('{emb_files}', filename = true, file_row_number = true)
    WHERE item_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY filename, file_row_number) = 1
),
cat AS (
    SELECT item_id, category
    FROM read_parquet('{cat_files}', filename = true, file_row_number = true)
    WHERE item_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY filename, file_row_number) = 1
)
SELECT
        k.user_id AS user_id,
        k.position AS position,
        {select}
FROM kept AS k
LEFT JOIN emb ON emb.item_id = k.item_id
LEFT JOIN cat ON cat.item_id = k.item_id
"""


def write_snapshot(
    artefact_json: Path,
    raw_root: str,
    days: list[date],
    out: Path,
    *,
    threads: int = 2,
    temp_dir: Path | None = None,
) -> dict[str, Any]:
    """Compute the snapshot with DuckDB and write it to ``out`` (one Parquet file); return its figures."""
    doc = json.loads(artefact_json.read_text())
    sql = snapshot_sql(doc, raw_root, days)
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = '{temp_dir}'")
    start = time.perf_counter()
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    seconds = time.perf_counter() - start
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()
    con.close()
    return {"seconds": seconds, "rows": int(rows[0]) if rows else 0}


# ------------------------------------------------------------------------------------------------ per day


MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z: epochs outside years 0001-9999 are unparseable
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _params(doc: dict[str, Any]) -> dict[str, Any]:
    """The artefact parameters the per-day SQL uses (checked as ``snapshot_sql`` checks them)."""
    feature = doc["feature"]
    snapshot_sql(doc, "/x", [date(2000, 1, 1)])  # validates the feature, fields, dedup_by and executor
    fields = [f["name"] for f in feature["fields"]]
    dedup = list(feature["dedup_by"])
    boundaries = [int(b) for b in doc["event_types"]["click"]["executor"]["params"]["boundaries_ms"]]
    return {"fields": fields, "dedup": dedup, "boundaries": boundaries, "max_length": int(feature["max_length"]),
            "retention_ms": int(feature["retention_seconds"]) * 1000}


def index_days_sql(
    artefact_json: Path,
    raw_root: str,
    days: list[date],
    out_root: Path,
    *,
    threads: int = 2,
    temp_dir: Path | None = None,
) -> dict[str, Any]:
    """The batch indexer's job in DuckDB SQL: per day, the events, rejects and snapshot Parquet files.

    For each day D, in order: the selected rows of raw partition D are split into rejects (null ids,
    null/unparseable timestamps, ``ts < 2000-01-01`` or ``ts >= D+1``; reasons joined by ``"; "``) and
    events (replays dropped: one row per ``(event_id, event_type)``, latest timestamp then first read,
    enriched with the lookups), and the snapshot as of ``D+1`` is computed *incrementally*:
    ``snapshot(D-1) UNION ALL events(D)``, windowed, de-duplicated and ranked with window functions —
    the previous snapshot stays a DuckDB table from one day to the next (the natural DuckDB way; it is
    exact for the same reason ours is, see ``feature_platform.runtimes.batch``). As ours does, only the
    users with events on D are re-ranked; the others keep their rows still inside the window. Files:
    ``out_root/{events,rejects,snapshots}/dt=D/part-00000.parquet``, sorted as ours are (events by
    ``timestamp, event_id, event_type``; snapshots by ``user_id, position``).
    """
    doc = json.loads(artefact_json.read_text())
    p = _params(doc)
    sources = doc["sources"]
    root = raw_root.rstrip("/")
    events_src = sources["engagement_events"]["batch"]
    key = events_src["partition_key"]
    emb_files = f"{root}/{sources['item_embeddings']['batch']['path']}/*.parquet"
    cat_files = f"{root}/{sources['item_categories']['batch']['path']}/*.parquet"
    bucket = " + ".join(f"(dwell_ms >= {b})::INTEGER" for b in p["boundaries"])
    dedup_cols = ", ".join({"timestamp": "ts_ms"}.get(d, d) for d in p["dedup"])
    internal = {"timestamp": "ts_ms"}
    columns = ["user_id", *[internal.get(f, f) for f in p["fields"]]]
    extra = [d for d in p["dedup"] if d not in {"timestamp", *p["fields"]}]
    table_columns = ", ".join(dict.fromkeys([*columns, *extra]))
    out_select = ", ".join(
        ["user_id", *[("make_timestamp(ts_ms * 1000) AS \"timestamp\"" if f == "timestamp" else f'"{f}"')
                      for f in p["fields"]]]
    )

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = '{temp_dir}'")
    start = time.perf_counter()
    # Lookups: one row per key, the first in table order; read once, like ours reads them per day lazily.
    con.execute(f"""
        CREATE TEMP TABLE emb AS SELECT item_id, embedding FROM read_parquet('{emb_files}', filename = true,
            file_row_number = true) WHERE item_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY filename, file_row_number) = 1""")
    con.execute(f"""
        CREATE TEMP TABLE cat AS SELECT item_id, category FROM read_parquet('{cat_files}', filename = true,
            file_row_number = true) WHERE item_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY filename, file_row_number) = 1""")
    per_day: list[dict[str, Any]] = []
    have_snapshot = False
    for day in days:
        day_start = time.perf_counter()
        end_ms = _day_ms(day + timedelta(days=1))
        files = f"{root}/{events_src['path']}/{key}={day.isoformat()}/*.parquet"
        paths = {t: out_root / t / f"{key}={day.isoformat()}" / "part-00000.parquet"
                 for t in ("events", "rejects", "snapshots")}
        for path in paths.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE raw_day AS
            SELECT *,
                   concat_ws('; ',
                       CASE WHEN event_id IS NULL THEN 'null event_id' END,
                       CASE WHEN user_id IS NULL THEN 'null user_id' END,
                       CASE WHEN event_ts_ms IS NULL THEN 'null timestamp'
                            WHEN event_ts_ms < {MIN_MS} OR event_ts_ms > {MAX_MS} THEN 'unparseable timestamp' END,
                       CASE WHEN event_ts_ms BETWEEN {MIN_MS} AND {MIN_VALID_MS - 1}
                            THEN 'timestamp before 2000-01-01' END,
                       CASE WHEN event_ts_ms BETWEEN {end_ms} AND {MAX_MS} THEN 'timestamp after max_event_time' END
                   ) AS reason
            FROM (
                SELECT event_id, user_id, pin_id, action, event_ts_ms, surface, device, country, dwell_ms,
                       filename, file_row_number
                FROM read_parquet('{files}', filename = true, file_row_number = true)
                WHERE action = 'save' OR (action = 'click' AND pin_id IS NOT NULL)
            )""")
        con.execute(f"""
            COPY (
                SELECT CASE action WHEN 'save' THEN 'save' ELSE 'click' END AS event_type,
                       'engagement_events' AS source, reason, event_id, user_id::VARCHAR AS user_id,
                       to_json(struct_pack(action, country, device, dwell_ms, event_id, event_ts_ms, pin_id,
                                           surface, user_id))::VARCHAR AS raw
                FROM raw_day WHERE reason <> ''
                ORDER BY event_type, file_row_number
            ) TO '{paths["rejects"]}' (FORMAT parquet, COMPRESSION zstd)""")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE events_day AS
            WITH valid AS (
                SELECT user_id, event_id, event_ts_ms AS ts_ms,
                       CASE action WHEN 'save' THEN 'save' ELSE 'click' END AS event_type,
                       pin_id AS item_id, lower(surface) AS surface, lower(device) AS device,
                       upper(country) AS country,
                       CASE WHEN action = 'click' AND dwell_ms >= 0 THEN {bucket} END AS dwell_bucket,
                       filename, file_row_number
                FROM raw_day WHERE reason = ''
                QUALIFY row_number() OVER (PARTITION BY event_id, event_type
                                           ORDER BY event_ts_ms DESC, filename, file_row_number) = 1
            )
            SELECT v.*, emb.embedding AS item_embedding, cat.category AS item_category,
                   v.surface || '|' || v.device || '|' || v.country AS context_key,
                   ((v.ts_ms // 3600000) % 24)::INTEGER AS hour_of_day
            FROM valid AS v
            LEFT JOIN emb ON emb.item_id = v.item_id
            LEFT JOIN cat ON cat.item_id = v.item_id""")
        con.execute(f"""
            COPY (SELECT {out_select} FROM events_day ORDER BY ts_ms, event_id, event_type)
            TO '{paths["events"]}' (FORMAT parquet, COMPRESSION zstd)""")
        lower_ms = end_ms - p["retention_ms"]
        # Only the users with events today are re-ranked; another user's sequence can only lose its
        # oldest rows to the window, which changes no position (the oldest are last).
        touched = "SELECT DISTINCT user_id FROM events_day"
        previous = (f"SELECT {table_columns} FROM snapshot WHERE user_id IN ({touched}) UNION ALL "
                    if have_snapshot else "")
        untouched = (f"""SELECT {table_columns}, position FROM snapshot
                         WHERE user_id NOT IN ({touched}) AND ts_ms >= {lower_ms}
                         UNION ALL """ if have_snapshot else "")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE snapshot_next AS
            WITH candidates AS (
                {previous}SELECT {table_columns} FROM events_day
            ),
            windowed AS (
                SELECT * FROM candidates
                WHERE ts_ms >= {lower_ms} AND ts_ms < {end_ms}
                QUALIFY row_number() OVER (PARTITION BY user_id, {dedup_cols}
                                           ORDER BY ts_ms DESC, event_id DESC, event_type DESC) = 1
            ),
            ranked AS (
                SELECT *, (row_number() OVER (PARTITION BY user_id ORDER BY ts_ms DESC, event_id DESC,
                                                                          event_type DESC) - 1)::INTEGER AS position
                FROM windowed
                QUALIFY position < {p["max_length"]}
            )
            {untouched}SELECT {table_columns}, position FROM ranked""")
        con.execute("DROP TABLE IF EXISTS snapshot")
        con.execute("ALTER TABLE snapshot_next RENAME TO snapshot")
        have_snapshot = True
        con.execute(f"""
            COPY (SELECT user_id, position, {out_select.removeprefix("user_id, ")} FROM snapshot
                  ORDER BY user_id, position)
            TO '{paths["snapshots"]}' (FORMAT parquet, COMPRESSION zstd)""")
        counts = con.execute("""
            SELECT (SELECT count(*) FROM events_day), (SELECT count(*) FROM raw_day WHERE reason <> ''),
                   (SELECT count(*) FROM snapshot), (SELECT count(DISTINCT user_id) FROM snapshot)""").fetchone()
        assert counts is not None
        per_day.append({"day": day.isoformat(), "events_rows": int(counts[0]), "rejects_rows": int(counts[1]),
                        "snapshot_rows": int(counts[2]), "snapshot_users": int(counts[3]),
                        "seconds": time.perf_counter() - day_start})
    seconds = time.perf_counter() - start
    con.close()
    return {"seconds": seconds, "days": per_day}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artefact", type=Path, required=True, help="compiled recent_engagements_v1 JSON")
    parser.add_argument("--raw-root", required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--print-sql", action="store_true")
    args = parser.parse_args(argv)
    days = [args.start + timedelta(days=i) for i in range((args.end - args.start).days + 1)]
    if args.print_sql:
        print(snapshot_sql(json.loads(args.artefact.read_text()), args.raw_root, days))
    result = write_snapshot(args.artefact, args.raw_root, days, args.out, threads=args.threads)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
