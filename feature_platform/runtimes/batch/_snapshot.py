"""Building snapshot(D) and streaming it to its file, one user range at a time.

snapshot(D) = ``dedup_and_rank(snapshot(D-1) + events(D), as_of = D+1)`` (see the package docstring
for why that is exact). Both inputs are consumed as a merge on the user: snapshot(D-1) is a Parquet
file sorted by user and position, read two row groups at a time; each slice is cut at a user boundary;
the day's events of the users up to that boundary are picked from the day's events by a user-sorted
index; the users of that range are advanced and handed to the Parquet sink
(:func:`._parquet_writer.write_frames`). Memory is therefore bounded by a slice (:data:`CHUNK_ROWS`
snapshot rows) and the day's events, not by the size of the snapshot, which grows with users times
``max_length``.

Within a range, a user with no new event keeps its rows; a user whose new events are all newer than
its previous rows (the common case) gets them prepended; only the others are ranked again
(:func:`_advance`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

import polars as pl

from feature_platform.artefact.format import Artefact
from feature_platform.engine import POSITION, dedup_and_rank, events_schema
from feature_platform.engine.plan import EVENT_ID, EVENT_TYPE, TIMESTAMP
from feature_platform.runtimes.batch._parquet_writer import ROW_GROUP_ROWS, write_frames
from feature_platform.runtimes.batch._tables import conform

CHUNK_ROWS = 2 * ROW_GROUP_ROWS
"""Rows of snapshot(D-1) read and advanced at a time: two row groups (~55 MB with a 32-float embedding)."""
_ROW = "__row"


@dataclass(frozen=True)
class WrittenSnapshot:
    rows: int
    users: int
    sha256: str


def snapshot_columns(artefact: Artefact) -> list[str]:
    """The snapshot's columns: the entity key, ``position``, then the other events columns."""
    user = artefact.feature.entity_key.name
    return [user, POSITION, *(c for c in events_schema(artefact) if c != user)]


def snapshot_schema(artefact: Artefact) -> pl.Schema:
    events = events_schema(artefact)
    return pl.Schema({c: pl.Int32 if c == POSITION else events[c] for c in snapshot_columns(artefact)})


def write_snapshot(artefact: Artefact, path: str, ranges: Iterable[pl.DataFrame]) -> WrittenSnapshot:
    """Write the snapshot ``ranges`` (successive user ranges, each sorted by user and position) to ``path``."""
    user = artefact.feature.entity_key.name
    users = [0]

    def counted() -> Iterator[pl.DataFrame]:
        for ranked in ranges:
            users[0] += ranked.get_column(user).n_unique() if ranked.height else 0
            yield ranked

    written = write_frames(path, snapshot_schema(artefact), counted())
    return WrittenSnapshot(written.rows, users[0], written.sha256)


def advance(
    artefact: Artefact, previous: BinaryIO, events: pl.DataFrame, kept: pl.Series, end: datetime
) -> Iterator[pl.DataFrame]:
    """snapshot(D), user range by user range, from the file of snapshot(D-1) and the rows ``kept`` of
    ``events`` (day D's events; one chunk per column, or gathering from it is slow)."""
    user = artefact.feature.entity_key.name
    by_user = _sorted_by_user(events, kept, user)
    users = events.get_column(user).gather(by_user)
    taken = 0
    held: pl.DataFrame | None = None  # the last user of a batch: its rows may continue in the next one
    for frame in _read_in_slices(previous, snapshot_schema(artefact)):
        chunk = frame if held is None else pl.concat([held, frame])
        cut = chunk.get_column(user).search_sorted(chunk.get_column(user)[-1], side="left")
        held = chunk.slice(cut)
        if cut == 0:
            continue
        done = chunk.slice(0, cut).rechunk()  # gathering from one chunk per column is much faster
        stop = int(users.search_sorted(done.get_column(user)[-1], side="right"))
        yield _advance(artefact, done, events[by_user.slice(taken, stop - taken)], end)
        taken = stop
    rest = held.rechunk() if held is not None else pl.DataFrame(schema=snapshot_schema(artefact))
    yield _advance(artefact, rest, events[by_user.slice(taken)], end)


def recompute(artefact: Artefact, candidates: pl.DataFrame, end: datetime) -> Iterator[pl.DataFrame]:
    """``dedup_and_rank(candidates, as_of=end)``, ranked one user range at a time."""
    user = artefact.feature.entity_key.name
    by_user = candidates.get_column(user).arg_sort()
    users = candidates.get_column(user).gather(by_user)
    for start, stop in _user_ranges(users, CHUNK_ROWS):
        yield rank(candidates[by_user.slice(start, stop - start)], artefact, as_of=end)


def rank(candidates: pl.DataFrame, artefact: Artefact, *, as_of: datetime) -> pl.DataFrame:
    """``dedup_and_rank(candidates, as_of=as_of)`` in the snapshot's columns, sorted by user and position.

    The ranking runs on the sort and de-duplication columns only; the kept rows are gathered after.
    """
    slim = candidates.select(_slim_columns(artefact)).with_row_index(_ROW)
    kept = dedup_and_rank(slim.lazy(), artefact, as_of=as_of).select(_ROW, POSITION).collect()
    return _gather(candidates, kept, artefact)


def _advance(artefact: Artefact, previous: pl.DataFrame, events: pl.DataFrame, end: datetime) -> pl.DataFrame:
    """The snapshot as of ``end`` of the users of ``previous`` (snapshot rows) and ``events`` (new events).

    Three kinds of user, each ordered without ranking more than it must:

    * **untouched** (no new event): the previous rows minus those that left the window — they are
      the oldest, so the positions of the others do not move;
    * **appended** (the common case): every new event the user keeps is more recent than every
      previous row still in the window, and no previous row shares a kept new event's ``dedup_by``
      values. Then the sequence is the new events ranked among themselves (k of them), followed by
      the previous rows with their positions moved down by k, cut at ``max_length`` — only the day's
      events are sorted and de-duplicated;
    * **merged** (a late event, a timestamp tie with a previous row, a replay or a repeated
      ``dedup_by`` value): ``dedup_and_rank`` over the user's previous rows and new events.
    """
    feature = artefact.feature
    user = feature.entity_key.name
    slim = _slim_columns(artefact)
    dedup = [d for d in dict.fromkeys([user, *feature.dedup_by])]
    ts = pl.col(TIMESTAMP)
    oldest = end - timedelta(seconds=feature.retention_seconds)
    old = previous.select(*slim, POSITION).with_row_index(_ROW).filter(ts >= oldest)
    new = events.select(slim).with_row_index(_ROW, offset=previous.height)
    active = pl.col(user).is_in(events.get_column(user).unique().implode())
    untouched = old.filter(~active).select(_ROW, user, POSITION)
    old = old.filter(active)

    fresh = dedup_and_rank(new.lazy(), artefact, as_of=end).collect()
    newest_old = old.filter(pl.col(POSITION) == 0).select(user, ts.alias("__newest_old"))
    per_user = fresh.group_by(user).agg(ts.min().alias("__oldest_new"), pl.len().cast(pl.Int32).alias("__k"))
    overlapping = per_user.join(newest_old, on=user).filter(pl.col("__oldest_new") <= pl.col("__newest_old"))
    repeated = old.join(fresh.select(dedup), on=dedup, how="semi", nulls_equal=True).select(user)
    merged_users = pl.concat([overlapping.select(user), repeated]).get_column(user).unique().implode()
    is_merged = pl.col(user).is_in(merged_users)

    new_first = fresh.filter(~is_merged).select(_ROW, user, POSITION)
    moved_down = (
        old.filter(~is_merged)
        .join(per_user.select(user, "__k"), on=user, how="left")  # no new event kept in the window: k = 0
        .select(_ROW, user, (pl.col(POSITION) + pl.col("__k").fill_null(0)).alias(POSITION))
        .filter(pl.col(POSITION) < feature.max_length)
    )
    merged = dedup_and_rank(
        pl.concat([old.filter(is_merged).drop(POSITION), new.filter(is_merged)]).lazy(), artefact, as_of=end
    ).select(_ROW, user, POSITION)
    order = pl.concat([untouched, new_first, moved_down, merged.collect()]).sort(user, POSITION)
    rows = pl.concat([previous.drop(POSITION), events.select(previous.drop(POSITION).columns)], rechunk=False)
    return _gather(rows, order, artefact)


def _slim_columns(artefact: Artefact) -> list[str]:
    """What ordering and de-duplication read: the entity key, the sort key and the ``dedup_by`` fields."""
    user = artefact.feature.entity_key.name
    return list(dict.fromkeys([user, TIMESTAMP, EVENT_ID, EVENT_TYPE, *artefact.feature.dedup_by]))


def _gather(rows: pl.DataFrame, kept: pl.DataFrame, artefact: Artefact) -> pl.DataFrame:
    """The rows ``kept[__row]`` of ``rows``, with ``kept[position]``, in the snapshot's columns."""
    return rows[kept.get_column(_ROW)].with_columns(kept.get_column(POSITION)).select(snapshot_columns(artefact))


def _read_in_slices(handle: BinaryIO, schema: pl.Schema) -> Iterator[pl.DataFrame]:
    """The file of ``handle`` (the bytes whose hash was checked, whatever has replaced its name since),
    :data:`CHUNK_ROWS` rows at a time, in order, in ``schema``.

    Each slice is its own query, which reads only the row groups it covers (two, as the tables are
    written): polars' ``collect_batches`` reads far ahead of a slow consumer (~600 MB on a 7 M-row
    snapshot), which is the memory this module exists to save.
    """
    frame = conform(pl.scan_parquet(handle), schema, where="the previous snapshot")
    total = int(frame.select(pl.len()).collect().item())
    for offset in range(0, total, CHUNK_ROWS):
        yield frame.slice(offset, CHUNK_ROWS).collect()


def _sorted_by_user(events: pl.DataFrame, kept: pl.Series, user: str) -> pl.Series:
    """The row numbers ``kept`` reordered by user (stable)."""
    return kept.gather(events.get_column(user).gather(kept).arg_sort())


def _user_ranges(users: pl.Series, target: int) -> Iterator[tuple[int, int]]:
    """``[start, stop)`` ranges of the sorted ``users`` of about ``target`` rows, never splitting a user."""
    start, total = 0, users.len()
    while start < total:
        stop = min(start + target, total)
        if stop < total:
            stop = int(users.search_sorted(users[stop - 1], side="right"))
        yield start, stop
        start = stop
