#!/usr/bin/env bash
# `make demo`: demo data → validate → compile → plan → publish → batch-index (through Dagster) →
# load the certified snapshots online → serve one user's sequence over HTTP, all on the embedded
# defaults under $FP_DATA_DIR (SQLite online store, no server needed), then print where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"  # the Makefile passes its own (bootstrapped into .tools/ when uv is not on PATH)
FP="$UV run --frozen feature-platform"
export FP_DATA_DIR="${FP_DATA_DIR:-fp_data}"
export FP_ENV="${FP_ENV:-dev}"
RAW="$FP_DATA_DIR/raw"
START="${FP_DEMO_START:-2026-11-01}"
DAYS="${FP_DEMO_DAYS:-7}"
END=$(date -u -d "$START + $((DAYS - 1)) days" +%F)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. demo data ($DAYS days from $START) -> $RAW"
if [ -f "$RAW/_demo_data.json" ]; then
  echo "reusing $RAW (delete it to regenerate)"
else
  $FP demo-data --out "$RAW" --days "$DAYS" --start-date "$START"
fi

step "2. validate"
$FP validate

step "3. compile -> $FP_DATA_DIR/compiled"
$FP compile

step "4. plan against '$FP_ENV'"
$FP plan --env "$FP_ENV"

step "5. publish to '$FP_ENV'"
$FP publish --env "$FP_ENV"

export DAGSTER_HOME="${DAGSTER_HOME:-$(cd "$FP_DATA_DIR" && pwd)/dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml"
step "6. the Dagster graph for $START..$END: compile -> validate -> publish -> events/snapshots -> checks -> watermark"
"$UV" run --frozen python -m feature_platform.orchestration.demo

step "7. a few users' sequences"
"$UV" run --frozen python - "$END" <<'PY'
import sys
from datetime import date

import polars as pl

from feature_platform.runtimes.batch import TableLocations, read_snapshot
from feature_platform.settings import PlatformSettings

day = date.fromisoformat(sys.argv[1])
locations = TableLocations.from_settings(PlatformSettings())
pl.Config.set_tbl_rows(12)
pl.Config.set_tbl_width_chars(120)
pl.Config.set_fmt_str_lengths(30)
shown = {
    "recent_engagements_v1": ["position", "timestamp", "event_type", "item_id", "item_category", "surface",
                              "dwell_bucket", "embedding_dims"],
    "recent_searches_v1": ["position", "timestamp", "query_norm", "query_tokens", "surface", "region"],
}
for feature_id, cols in shown.items():
    snapshot = read_snapshot(feature_id, day, locations)
    if "item_embedding" in snapshot.columns:
        snapshot = snapshot.with_columns(pl.col("item_embedding").list.len().alias("embedding_dims"))
    sizes = snapshot.group_by("user_id").len()
    print(f"\n{feature_id}: {sizes.height} users as of the end of {day}; sequence length "
          f"median {sizes['len'].median():.0f}, max {sizes['len'].max()}")
    user = sizes.sort(["len", "user_id"], descending=True)["user_id"][0]
    print(f"the 5 most recent events of user {user}:")
    print(snapshot.filter(pl.col("user_id") == user).select(cols).head(5))
PY

step "8. online: load the certified snapshots into $FP_DATA_DIR/online.sqlite, serve one user over HTTP"
for feature in recent_engagements_v1 recent_searches_v1 recent_closeups_v1; do
  $FP online-load --env "$FP_ENV" --feature "$feature"
done
PORT=$("$UV" run --frozen python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER_LOG="$FP_DATA_DIR/serve.log"
$FP serve --env "$FP_ENV" --port "$PORT" --no-auth >"$SERVER_LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM "$SERVER" 2>/dev/null || true' EXIT
READY=""
for _ in $(seq 1 150); do
  if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then READY=1; break; fi
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$READY" ]; then
  echo "the server did not become ready; its log ($SERVER_LOG):" >&2
  cat "$SERVER_LOG" >&2
  exit 1
fi
DEMO_USER=$("$UV" run --frozen python - <<'PY'
from feature_platform.runtimes.batch import TableLocations, latest_certified_day, read_snapshot
from feature_platform.settings import PlatformSettings

loc = TableLocations.from_settings(PlatformSettings())
day = latest_certified_day("recent_searches_v1", loc)
assert day is not None, "recent_searches_v1 has no certified day"
sizes = read_snapshot("recent_searches_v1", day, loc).group_by("user_id").len()
print(sizes.sort(["len", "user_id"], descending=True)["user_id"][0])
PY
)
QUERY="limit=3&fields=timestamp,query_norm,surface"
URL="http://127.0.0.1:$PORT/v1/features/recent_searches/users/$DEMO_USER/sequence?$QUERY"
echo "\$ curl -s '$URL'"
curl -sf "$URL" | "$UV" run --frozen python -m json.tool
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true
trap - EXIT
cat <<TXT

The server above ran for this demo only. To serve and query it yourself:
  $FP serve --env $FP_ENV --no-auth --port 8000 &
  curl -s 'http://127.0.0.1:8000/v1/features/recent_searches/users/$DEMO_USER/sequence?$QUERY'
  curl -s 'http://127.0.0.1:8000/v1/features'        # what is served, with each feature's loaded day
TXT

PREV=$(date -u -d "$END - 1 day" +%F)
step "stream: batch up to $PREV in a fresh online store, then part of $END through the event log, served live"
export FP_ONLINE_STORE="$FP_DATA_DIR/online_live.sqlite" FP_EVENT_LOG="$FP_DATA_DIR/event_log.sqlite"
rm -f "$FP_ONLINE_STORE"* "$FP_EVENT_LOG"*
for feature in recent_engagements_v1 recent_searches_v1 recent_closeups_v1; do
  $UV run feature-platform online-load --env "$FP_ENV" --feature "$feature" --date "$PREV" >/dev/null \
    || echo "  (no certified day $PREV for $feature)"
done
$UV run feature-platform serve --env "$FP_ENV" --port "$PORT" --no-auth >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
$UV run feature-platform stream --env "$FP_ENV" --consumer demo >"$FP_DATA_DIR/stream.log" 2>&1 &
INDEXER=$!
$UV run python - "$END" "$PORT" <<'PY'
import subprocess, sys, time
from datetime import date

import httpx
import polars as pl

from feature_platform.runtimes.stream import open_event_log_from_settings
from feature_platform.settings import PlatformSettings

day, port = sys.argv[1], sys.argv[2]
settings = PlatformSettings()
raw = pl.read_parquet(f"{settings.raw_root}/engagement_events/dt={day}/*.parquet")
chunk = raw.height // 10
active = raw.head(5 * chunk).filter(pl.col("action").is_in(["save", "click"]))["user_id"].value_counts(sort=True)
base = f"http://127.0.0.1:{port}/v1/features/recent_engagements/users"
# an active user of the replayed half whose sequence is not yet at max_length, so it visibly grows
user = next((u for u in active["user_id"].head(200).to_list()
             if len(httpx.get(f"{base}/{u}/sequence", params={"limit": 500}).json()["events"]) < 400),
            active["user_id"][0])
log = open_event_log_from_settings(settings)
url = f"{base}/{user}/sequence"
print(f"user {user}: replaying the first half of {day} in 5 parts of {chunk:,} rows")
for part in range(5):
    subprocess.run(["feature-platform", "replay", "--source", "engagement_events", "--date", day,
                    "--offset", str(part * chunk), "--limit", str(chunk)], check=True, capture_output=True)
    group = "fp-indexer.recent_engagements_v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = log.group_info("engagement_events", group)
        if info.lag == 0 and info.pending == 0:
            break
        time.sleep(0.05)
    doc = httpx.get(url, params={"fields": "timestamp,event_type,item_id", "limit": 500}).json()
    profile = doc["profile"]
    newest = doc["events"][0] if doc["events"] else {}
    print(f"  after part {part + 1}: {profile['count']} events served ({profile['tail_events_merged']} from the "
          f"stream tail, batch day {profile['batch_day']}); newest {newest}")
PY
kill -TERM "$INDEXER"; wait "$INDEXER" 2>/dev/null || true
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true

step "where to look"
cat <<TXT
  compiled artefacts   $FP_DATA_DIR/compiled/            (feature-platform compile)
  artefact store       $FP_DATA_DIR/artefacts/           (objects/, envs/$FP_ENV/{audit,pointers,live})
  indexed tables       $FP_DATA_DIR/tables/<feature>/{events,rejects,snapshots}/dt=YYYY-MM-DD/
  online store         $FP_DATA_DIR/online.sqlite      (feature-platform online-load / serve)
  pointer history      $UV run feature-platform history --env $FP_ENV --feature recent_engagements_v1
  event log            $FP_DATA_DIR/event_log.sqlite      (FP_EVENT_LOG=redis://... for Redis Streams)
  Dagster runs         DAGSTER_HOME=$DAGSTER_HOME
  Dagster UI           make ui    (then open http://127.0.0.1:3000: groups, lineage, checks, these runs)
TXT
