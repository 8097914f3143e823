"""Generate one chunk (one part file) of raw engagement or search events, fully vectorised.

A chunk is a random set of *sessions* (one file = one log writer): each session belongs to a user drawn
by activity weight, has one surface, device, country and client version, starts at a time drawn from the
hour-of-day profile, and holds a heavy-tailed number of events a few seconds to minutes apart. Late
sessions happened on the previous day and arrive early in this day. Row-level defects are then applied,
duplicates are exact copies of clean rows of the chunk, and rows are written in arrival order.

No Python loop runs per row or per session: every step is a polars/Arrow kernel over the chunk.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from feature_platform.demo_data import vocab
from feature_platform.demo_data.config import DefectRates
from feature_platform.demo_data.population import ITEM_ID_OFFSET, USER_ID_OFFSET, Population
from feature_platform.demo_data.rng import Rng, choose, cumulative, derive_key, mix64
from feature_platform.demo_data.schema import ENGAGEMENT_EVENTS, SEARCH_EVENTS

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# Row-level defect codes (exclusive; late is a session-level property of clean rows).
CLEAN, NULL_USER, NULL_ID, BAD_TS, DUPLICATE, NULL_PIN = 0, 1, 2, 3, 4, 5

_HOURLY_CUM = cumulative(vocab.HOURLY_WEIGHTS)
_DEVICE_CUM = cumulative(vocab.DEVICE_WEIGHTS)
_ACTION_CUM = cumulative(vocab.ACTION_WEIGHTS)
_ENGAGEMENT_SURFACE_CUM = cumulative(vocab.ENGAGEMENT_SURFACE_WEIGHTS)
_SEARCH_SURFACE_CUM = cumulative(vocab.SEARCH_SURFACE_WEIGHTS)
_SURFACE_STRINGS = pl.Series(vocab.SURFACES + vocab.LEGACY_SURFACES, dtype=pl.String)
_DEVICE_STRINGS = pl.Series(vocab.DEVICES + vocab.LEGACY_DEVICES, dtype=pl.String)
_COUNTRY_STRINGS = pl.Series(vocab.COUNTRIES + tuple(c.lower() for c in vocab.COUNTRIES), dtype=pl.String)
_ACTION_STRINGS = pl.Series(vocab.ACTIONS, dtype=pl.String)
_QUERY_STRINGS = pl.Series(vocab.QUERIES, dtype=pl.String)
_VARIANT_CUM = cumulative(
    [1.0 - sum(p for _, p in vocab.QUERY_VARIANTS), *(p for _, p in vocab.QUERY_VARIANTS)]
)
_YEAR_2300_MS = int(datetime(2300, 1, 1, tzinfo=UTC).timestamp()) * 1000
_DWELL_LOG_MEDIAN = pl.Series([math.log(m) for m in vocab.DWELL_MEDIAN_MS], dtype=pl.Float64)
_DWELL_SIGMA = pl.Series(vocab.DWELL_SIGMA, dtype=pl.Float64)
_DWELL_NULL_PROB = pl.Series(vocab.DWELL_NULL_PROB, dtype=pl.Float64)
_ROW_SLOTS = 1 << 23  # > MAX_CHUNK_ROWS
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"

PIN_REUSE_PROB = 0.25
"""Probability that an engagement targets the same pin as the previous one of the session
(close-up, then click, then save)."""
RETRY_DELAY_MEAN_MS = 20_000
LATE_LAG_MEAN_MS = 3 * HOUR_MS
"""Late sessions end on average this long before midnight..."""
LATE_ARRIVAL_MEAN_MS = 45 * 60_000
"""...and arrive on average this long after it."""


@dataclass(frozen=True)
class SessionShape:
    """Session length (events) and gap between events: discretised log-normals, capped."""

    length_median: float
    length_sigma: float
    length_cap: int
    gap_median_ms: float
    gap_sigma: float
    gap_cap_ms: int
    surface_cum: pl.Series

    @property
    def mean_length(self) -> float:
        return max(1.0, self.length_median * math.exp(self.length_sigma**2 / 2))


ENGAGEMENT_SESSIONS = SessionShape(4.0, 1.0, 150, 15_000.0, 1.2, 300_000, _ENGAGEMENT_SURFACE_CUM)
SEARCH_SESSIONS = SessionShape(1.6, 0.8, 40, 30_000.0, 1.0, 300_000, _SEARCH_SURFACE_CUM)


@dataclass(frozen=True)
class ChunkSpec:
    """Where a chunk goes: table, day index, chunk index, row count, and the day's epoch ms."""

    table: str
    day: int
    chunk: int
    rows: int
    day_start_ms: int
    has_previous_day: bool


@dataclass
class ChunkResult:
    frame: pl.DataFrame
    counts: Counter[str]


def _session_lengths(rng: Rng, n: int, shape: SessionShape) -> pl.Series:
    """Heavy-tailed session lengths summing exactly to ``n`` (the last session is cut)."""
    parts: list[pl.Series] = []
    total = 0
    while total < n:
        m = int((n - total) / shape.mean_length * 1.2) + 16
        z = rng.normal(m)
        lengths = (z * shape.length_sigma + math.log(shape.length_median)).exp().round()
        lengths = lengths.clip(1, shape.length_cap).cast(pl.Int64)
        parts.append(lengths)
        total += int(lengths.sum())
    lengths = pl.concat(parts) if len(parts) > 1 else parts[0]
    ends = lengths.cum_sum()
    last = int(ends.search_sorted(n, side="left"))
    lengths = lengths.head(last + 1)
    excess = int(ends[last]) - n
    return lengths.scatter(last, int(lengths[last]) - excess)


@dataclass(frozen=True)
class Sessions:
    """The sessions of a chunk and its rows.

    ``sessions``: one row per session: ``user`` (index), ``surface``, ``device``, ``country`` (indexes
    into the *_STRINGS tables, legacy-client variants included), ``legacy``, ``late``.
    ``rows``: one row per event: ``session``, ``pos`` (position in the session), ``late``, ``ts`` (event
    epoch ms) and ``arrival`` (epoch ms when it was logged, for the write order).
    """

    sessions: pl.DataFrame
    rows: pl.DataFrame


def _sessions(rng: Rng, spec: ChunkSpec, population: Population, shape: SessionShape,
              late_rate: float) -> Sessions:
    """Draw the sessions of a chunk of ``spec.rows`` events, and each event's time."""
    n = spec.rows
    lengths = _session_lengths(rng, n, shape)
    m = len(lengths)
    ends = lengths.cum_sum()
    starts = ends - lengths
    u_user, u_surface, u_keep, u_device, u_legacy, u_hour, u_in_hour, u_late, u_lag, u_arrive = (
        rng.uniforms(m, 10)
    )
    user = choose(u_user, population.user_cum)
    legacy = u_legacy < vocab.LEGACY_CLIENT_RATE
    shift = legacy.cast(pl.UInt32)
    device = pl.select(
        pl.when(pl.lit(u_keep) < vocab.PRIMARY_DEVICE_STICKINESS)
        .then(pl.lit(population.user_device.gather(user)))
        .otherwise(pl.lit(choose(u_device, _DEVICE_CUM)))
    ).to_series()
    hour = choose(u_hour, _HOURLY_CUM).cast(pl.Int64)
    sessions = pl.DataFrame({
        "user": user,
        "surface": choose(u_surface, shape.surface_cum) + shift * len(vocab.SURFACES),
        "device": device + shift * len(vocab.DEVICES),
        "country": population.user_country.gather(user) + shift * len(vocab.COUNTRIES),
        "legacy": legacy,
        "late": (u_late < late_rate) if spec.has_previous_day else pl.repeat(False, m, eager=True),
        "start": hour * HOUR_MS + (u_in_hour * HOUR_MS).floor().cast(pl.Int64),
        "lag": (-(u_lag.log()) * LATE_LAG_MEAN_MS).floor().cast(pl.Int64),
        "arrive": (-(u_arrive.log()) * LATE_ARRIVAL_MEAN_MS).floor().cast(pl.Int64),
    })

    # Row -> session without a per-row search: mark each session's first row, then a running sum.
    session = pl.zeros(n, pl.UInt32, eager=True).scatter(starts.slice(1), 1).cum_sum()
    first_row = starts.gather(session)
    pos = pl.int_range(0, n, dtype=pl.Int64, eager=True) - first_row
    u1, u2 = rng.uniforms(n, 2)
    z = (-2.0 * u1.log()).sqrt() * (u2 * (2 * math.pi)).cos()
    gap = (z * shape.gap_sigma + math.log(shape.gap_median_ms)).exp().round().clip(200, shape.gap_cap_ms)
    gap = pl.select(pl.when(pl.lit(pos) == 0).then(0).otherwise(pl.lit(gap).cast(pl.Int64))).to_series()
    running = gap.cum_sum()
    offset = running - running.gather(first_row)  # ms since the session's first event
    day_start = spec.day_start_ms
    latest_start = DAY_MS - 1 - pl.col("duration")  # the whole session stays within its day
    sessions = sessions.with_columns(duration=offset.gather(ends - 1)).with_columns(
        begin=pl.when(pl.col("late"))
        .then(day_start - DAY_MS + (latest_start - pl.col("lag")).clip(0, latest_start))
        .otherwise(day_start + pl.col("start").clip(0, latest_start)),
        arrival_begin=day_start + pl.col("arrive"),
    )
    timing = sessions.select(pl.col("late", "begin", "arrival_begin").gather(pl.lit(session)))
    rows = timing.select(
        session=session,
        pos=pos,
        late=pl.col("late"),
        ts=pl.col("begin") + offset,
        arrival=pl.when(pl.col("late"))
        .then((pl.col("arrival_begin") + offset).clip(upper_bound=day_start + DAY_MS - 1))
        .otherwise(pl.col("begin") + offset),
    )
    return Sessions(sessions.select("user", "surface", "device", "country", "legacy", "late"), rows)


def _defect_codes(u: pl.Series, late: pl.Series, rates: DefectRates, with_pin: bool) -> pl.Series:
    """Exclusive row-level defect code per row; late rows stay clean of row-level defects."""
    thresholds = [
        (NULL_USER, rates.null_user_id),
        (NULL_ID, rates.null_event_id),
        (BAD_TS, rates.bad_timestamp),
        (DUPLICATE, rates.duplicate),
    ]
    if with_pin:
        thresholds.append((NULL_PIN, rates.null_pin_id))
    expr: pl.Expr = pl.lit(CLEAN, dtype=pl.UInt8)
    upper = sum(rate for _, rate in thresholds)
    # Build from the last interval to the first so that each `when` overrides the next ones.
    for code, rate in reversed(thresholds):
        expr = pl.when(pl.col("u") < upper).then(pl.lit(code, dtype=pl.UInt8)).otherwise(expr)
        upper -= rate
    return pl.DataFrame({"u": u, "late": late}).select(
        pl.when(pl.col("late")).then(pl.lit(CLEAN, dtype=pl.UInt8)).otherwise(expr)
    ).to_series()


def _where(mask: pl.Series, if_true: pl.Series, if_false: pl.Series) -> pl.Series:
    return pl.select(pl.when(pl.lit(mask)).then(pl.lit(if_true)).otherwise(pl.lit(if_false))).to_series()


@dataclass(frozen=True)
class WriteOrder:
    """Which generated row each written row takes its payload from, in write (arrival) order.

    ``take``: payload row (a duplicate takes a random clean row of the chunk, so it is an exact replay:
    same id, same payload); ``row``: the written row's own draws (its defect and defect kind);
    ``defect``: the written row's defect code.
    """

    take: pl.Series
    row: pl.Series
    defect: pl.Series


def _write_order(defect: pl.Series, late: pl.Series, arrival: pl.Series, u_src: pl.Series,
                 u_delay: pl.Series, day_end_ms: int) -> WriteOrder:
    """Resolve duplicates (a replay is logged a few seconds after its original) and sort rows by arrival
    time, then generation order: a total order, so the file is the same on every run."""
    n = len(defect)
    row = pl.int_range(0, n, dtype=pl.Int64, eager=True)
    clean = ((defect == CLEAN) & ~late).arg_true()
    is_dup = defect == DUPLICATE
    if clean.len() == 0:  # nothing to replay: duplicates stay clean rows
        defect = _where(is_dup, pl.repeat(CLEAN, n, dtype=pl.UInt8, eager=True), defect)
        take, written_arrival = row, arrival
    else:
        pick = (u_src * clean.len()).floor().cast(pl.UInt32).clip(0, clean.len() - 1)
        src = clean.gather(pick).cast(pl.Int64)
        delay = (-(u_delay.log()) * RETRY_DELAY_MEAN_MS).floor().cast(pl.Int64) + 1
        replayed = (arrival.gather(src) + delay).clip(upper_bound=day_end_ms - 1)
        take = _where(is_dup, src, row)
        written_arrival = _where(is_dup, replayed, arrival)
    # One unique int64 key (arrival within the day, then row): sorting its values is the cheapest sort,
    # and with unique keys any sort algorithm yields the same order.
    key = (written_arrival - (day_end_ms - DAY_MS)) * _ROW_SLOTS + row
    order_row = key.sort() % _ROW_SLOTS
    return WriteOrder(take=take.gather(order_row), row=order_row, defect=defect.gather(order_row))


def _event_ids(seed: int, spec: ChunkSpec, rows: pl.Series, prefix: str) -> pl.Series:
    """Unique ids: hex of a bijective 64-bit mix of (day, chunk, row), so no two rows share one."""
    counter = (spec.day << 40) | (spec.chunk << 24)
    key = derive_key(seed, spec.table, "ids")
    raw = (rows.cast(pl.UInt64) + counter).to_arrow()
    mixed = mix64(pc.bit_wise_xor(raw, pa.scalar(key, pa.uint64())))
    if sys.byteorder != "little":  # pragma: no cover - hex of the little-endian bytes on every machine
        mixed = _byteswap64(mixed)
    as_bytes = pa.Array.from_buffers(pa.binary(8), len(mixed), [None, mixed.buffers()[1]],
                                     offset=mixed.offset)
    hexed = pl.Series(as_bytes).bin.encode("hex")
    return pl.select(pl.concat_str(pl.lit(prefix), pl.lit(hexed))).to_series()


def _byteswap64(values: pa.Array) -> pa.Array:
    def u64(v: int) -> pa.Scalar:
        return pa.scalar(v, pa.uint64())

    out = pc.shift_left(pc.bit_wise_and(values, u64(0xFF)), u64(56))
    for i in range(1, 8):
        byte = pc.bit_wise_and(pc.shift_right(values, u64(8 * i)), u64(0xFF))
        out = pc.bit_wise_or(out, pc.shift_left(byte, u64(8 * (7 - i))))
    return out


def _gathered(chunk: Sessions, extra: pl.DataFrame, order: WriteOrder) -> pl.DataFrame:
    """Session context, event time and the ``extra`` per-event payload of the written rows, with
    their own ``defect``: one gather per column."""
    take = order.take
    session = chunk.rows["session"].gather(take)
    return pl.concat(
        [
            chunk.sessions.select(pl.all().gather(pl.lit(session))),
            chunk.rows.select(pl.col("ts").gather(pl.lit(take))),
            extra.select(pl.all().gather(pl.lit(take))),
        ],
        how="horizontal",
    ).with_columns(defect=order.defect)


def _count_common(counts: Counter[str], frame: pl.DataFrame) -> None:
    stats = frame.select(
        rows=pl.len(),
        late_events=pl.col("late").sum(),
        null_user_id=(pl.col("defect") == NULL_USER).sum(),
        null_event_id=(pl.col("defect") == NULL_ID).sum(),
        duplicate_events=(pl.col("defect") == DUPLICATE).sum(),
        legacy_client_rows=pl.col("legacy").sum(),
    ).row(0, named=True)
    counts.update({key: int(value) for key, value in stats.items()})


def _context_columns() -> dict[str, pl.Expr]:
    """user_id, surface, device and country of the written rows (user_id null for NULL_USER rows)."""
    return {
        "user_id": pl.when(pl.col("defect") == NULL_USER).then(None)
        .otherwise(pl.col("user").cast(pl.Int64) + USER_ID_OFFSET),
        "surface": pl.lit(_SURFACE_STRINGS).gather(pl.col("surface")),
        "device": pl.lit(_DEVICE_STRINGS).gather(pl.col("device")),
        "country": pl.lit(_COUNTRY_STRINGS).gather(pl.col("country")),
    }


def engagement_chunk(seed: int, spec: ChunkSpec, population: Population, rates: DefectRates) -> ChunkResult:
    """One part file of ``engagement_events``."""
    rng = Rng(seed, spec.table, spec.day, spec.chunk)
    chunk = _sessions(rng, spec, population, ENGAGEMENT_SESSIONS, rates.late)
    n = spec.rows
    (u_action, u_pin, u_reuse, u_dwell1, u_dwell2, u_dwell_null, u_defect, u_kind, u_src,
     u_delay) = rng.uniforms(n, 10)
    action = choose(u_action, _ACTION_CUM)
    z = (-2.0 * u_dwell1.log()).sqrt() * (u_dwell2 * (2 * math.pi)).cos()
    dwell = (_DWELL_LOG_MEDIAN.gather(action) + _DWELL_SIGMA.gather(action) * z).exp().round()
    reuse = (chunk.rows["pos"] > 0) & (u_reuse < PIN_REUSE_PROB)
    events = pl.DataFrame({
        "action": action,
        # the same pin as the previous event of the session (close-up, then click, then save...)
        "item": pl.select(pl.when(pl.lit(reuse)).then(None).otherwise(pl.lit(population.draw_items(u_pin)))
                          .forward_fill()).to_series(),
        "dwell": pl.select(pl.when(pl.lit(u_dwell_null) < pl.lit(_DWELL_NULL_PROB.gather(action))).then(None)
                           .otherwise(pl.lit(dwell).clip(1, vocab.DWELL_MAX_MS).cast(pl.Int64))).to_series(),
    })
    late, arrival = chunk.rows["late"], chunk.rows["arrival"]
    defect = _defect_codes(u_defect, late, rates, with_pin=True)
    order = _write_order(defect, late, arrival, u_src, u_delay, spec.day_start_ms + DAY_MS)
    kind = choose(u_kind, cumulative([1.0] * len(vocab.OUT_OF_RANGE_KINDS))).gather(order.row)
    written = _gathered(chunk, events, order).with_columns(kind=kind)

    counts: Counter[str] = Counter()
    _count_common(counts, written)
    has_pin = pl.col("defect") != NULL_PIN
    bad = pl.col("defect") == BAD_TS
    missing_embedding = pl.lit(population.missing_embedding).gather(pl.col("item"))
    missing_category = pl.lit(population.missing_category).gather(pl.col("item"))
    stats = written.select(
        out_of_range_timestamp=bad.sum(),
        null_pin_id=(~has_pin).sum(),
        rows_with_pin_missing_embedding=(missing_embedding & has_pin).sum(),
        rows_with_pin_missing_category=(missing_category & has_pin).sum(),
        null_dwell_ms=pl.col("dwell").is_null().sum(),
        **{f"out_of_range_timestamp.{name}": (bad & (pl.col("kind") == k)).sum()
           for k, name in enumerate(vocab.OUT_OF_RANGE_KINDS)},
    ).row(0, named=True)
    counts.update({key: int(value) for key, value in stats.items()})

    ids = _event_ids(seed, spec, order.take, "e")
    context = _context_columns()
    out = written.select(
        event_id=pl.when(pl.col("defect") == NULL_ID).then(None).otherwise(pl.lit(ids)),
        user_id=context["user_id"],
        pin_id=pl.when(~has_pin).then(None).otherwise(pl.col("item").cast(pl.Int64) + ITEM_ID_OFFSET),
        action=pl.lit(_ACTION_STRINGS).gather(pl.col("action")),
        event_ts_ms=pl.when(~bad).then(pl.col("ts"))
        .when(pl.col("kind") == 0).then(0)
        .when(pl.col("kind") == 1).then(pl.col("ts") // 1000)
        .otherwise(_YEAR_2300_MS + pl.col("ts") % DAY_MS),  # the same time of day, on 2300-01-01
        surface=context["surface"],
        device=context["device"],
        country=context["country"],
        dwell_ms=pl.col("dwell"),
    )
    return ChunkResult(out, counts)


def _typed_queries(rng: Rng, n: int) -> tuple[pl.Expr, dict[str, pl.Series]]:
    """How each query was typed: case, whitespace, punctuation variants, and empty/blank/null queries.

    Returns the expression over the canonical ``query_base`` column and the draws it reads.
    """
    u_variant, u_pad, u_punct, u_blank, u_blank_kind = rng.uniforms(n, 5)
    draws = {
        "variant": choose(u_variant, _VARIANT_CUM),
        "pad": choose(u_pad, cumulative([1.0] * len(vocab.PADDINGS))),
        "punct": choose(u_punct, cumulative([1.0] * len(vocab.PUNCTUATION))),
        "u_blank": u_blank,
        "blank_kind": choose(u_blank_kind, cumulative([1.0] * len(vocab.BLANK_QUERIES))),
    }
    base = pl.col("query_base")
    capitalised = pl.concat_str(base.str.slice(0, 1).str.to_uppercase(), base.str.slice(1))
    code = {name: i for i, name in enumerate(["as_typed"] + [name for name, _ in vocab.QUERY_VARIANTS])}
    variant = pl.col("variant")
    typed = (
        pl.when(variant == code["title_case"]).then(base.str.to_titlecase())
        .when(variant == code["upper_case"]).then(base.str.to_uppercase())
        .when(variant == code["padded_whitespace"]).then(pl.concat_str(
            pl.lit(pl.Series([p[0] for p in vocab.PADDINGS])).gather(pl.col("pad")), base,
            pl.lit(pl.Series([p[1] for p in vocab.PADDINGS])).gather(pl.col("pad"))))
        .when(variant == code["double_space"]).then(base.str.replace(" ", "  ", literal=True))
        .when(variant == code["trailing_punctuation"]).then(pl.concat_str(
            base, pl.lit(pl.Series(vocab.PUNCTUATION)).gather(pl.col("punct"))))
        .when(variant == code["sentence_question"]).then(pl.concat_str(capitalised, pl.lit("?")))
        .otherwise(base)
    )
    empty_to = vocab.EMPTY_QUERY_RATE
    blank_to = empty_to + vocab.BLANK_QUERY_RATE
    null_to = blank_to + vocab.NULL_QUERY_RATE
    blank = pl.col("u_blank")
    text = (
        pl.when(blank < empty_to).then(pl.lit(""))
        .when(blank < blank_to).then(pl.lit(pl.Series(vocab.BLANK_QUERIES)).gather(pl.col("blank_kind")))
        .when(blank < null_to).then(None)
        .otherwise(typed)
    )
    return text, draws


def search_chunk(seed: int, spec: ChunkSpec, population: Population, rates: DefectRates) -> ChunkResult:
    """One part file of ``search_events``."""
    rng = Rng(seed, spec.table, spec.day, spec.chunk)
    chunk = _sessions(rng, spec, population, SEARCH_SESSIONS, rates.late)
    n = spec.rows
    u_query, u_jitter1, u_jitter2, u_null_results, u_defect, u_kind, u_src, u_delay = rng.uniforms(n, 8)
    query = population.draw_queries(u_query)
    jitter = ((-2.0 * u_jitter1.log()).sqrt() * (u_jitter2 * (2 * math.pi)).cos() * 0.15).exp()
    results = (population.query_results.gather(query).cast(pl.Float64) * jitter).round().cast(pl.Int64)
    text_expr, draws = _typed_queries(rng, n)
    events = pl.DataFrame({
        "query_base": _QUERY_STRINGS.gather(query),
        "num_results": pl.select(pl.when(pl.lit(u_null_results) < vocab.NUM_RESULTS_NULL_RATE).then(None)
                                 .otherwise(pl.lit(results))).to_series(),
        **draws,
    })
    late, arrival = chunk.rows["late"], chunk.rows["arrival"]
    defect = _defect_codes(u_defect, late, rates, with_pin=False)
    order = _write_order(defect, late, arrival, u_src, u_delay, spec.day_start_ms + DAY_MS)
    kind = choose(u_kind, cumulative([1.0] * len(vocab.UNPARSEABLE_TIMESTAMPS))).gather(order.row)
    written = _gathered(chunk, events, order).with_columns(kind=kind)

    counts: Counter[str] = Counter()
    _count_common(counts, written)
    ids = _event_ids(seed, spec, order.take, "q")
    bad_strings = pl.Series([text for _, text in vocab.UNPARSEABLE_TIMESTAMPS], dtype=pl.String)
    epoch_kind = [name for name, _ in vocab.UNPARSEABLE_TIMESTAMPS].index("epoch_number")
    iso = pl.from_epoch(pl.col("ts"), time_unit="ms").dt.strftime(_ISO_FORMAT)
    context = _context_columns()
    out = written.select(
        query_id=pl.when(pl.col("defect") == NULL_ID).then(None).otherwise(pl.lit(ids)),
        user_id=context["user_id"],
        query_text=text_expr,
        event_time=pl.when(pl.col("defect") != BAD_TS).then(iso)
        .when(pl.col("kind") == epoch_kind).then(pl.col("ts").cast(pl.String))
        .otherwise(pl.lit(bad_strings).gather(pl.col("kind"))),
        surface=context["surface"],
        device=context["device"],
        country=context["country"],
        num_results=pl.col("num_results"),
    )
    bad = pl.col("defect") == BAD_TS
    stats = pl.concat([out.select("query_text", "num_results"), written.select("defect", "kind")],
                      how="horizontal").select(
        unparseable_timestamp=bad.sum(),
        **{f"unparseable_timestamp.{name}": (bad & (pl.col("kind") == k)).sum()
           for k, (name, _) in enumerate(vocab.UNPARSEABLE_TIMESTAMPS)},
        empty_query=(pl.col("query_text") == "").sum(),
        blank_query=((pl.col("query_text").str.strip_chars() == "") & (pl.col("query_text") != "")).sum(),
        null_query=pl.col("query_text").is_null().sum(),
        null_num_results=pl.col("num_results").is_null().sum(),
    ).row(0, named=True)
    counts.update({key: int(value) for key, value in stats.items()})
    return ChunkResult(out, counts)


CHUNK_GENERATORS = {ENGAGEMENT_EVENTS: engagement_chunk, SEARCH_EVENTS: search_chunk}
