"""Every event's JSON object, vectorised, with each distinct list value formatted once.

Why: formatting floats as JSON text (~40 ns a float32 in polars, no faster formatter measured here) was
most of an online load's CPU, and most of those floats are embeddings: a lookup enrichment of an item,
so the same vector recurs in every event of that item. A column whose values are lists of fixed-width
numbers (an embedding) is therefore *dictionary encoded* by the exact bytes of its values (Arrow's
hash-based ``dictionary_encode`` over the column's own value buffer, no copy: bit patterns, so ``-0.0``
and ``0.0`` stay distinct), each distinct value is formatted once, and the events are assembled from
pieces: the other columns' JSON (polars, per event) and the formatted distinct values, joined by one
``gather`` of string views and one copy into Arrow's contiguous buffer. The bytes are exactly those of
``pl.struct(columns).struct.json_encode()`` (tested), so stored and served JSON do not change.

When a column is mostly distinct (every event its own vector), the dictionary costs more than it saves:
a sample of the first rows decides, and such a column is formatted per event as before. The choice only
changes the cost, never the bytes. Measurements: ``benchmarks/RESULTS.md`` (online load).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

SAMPLE_ROWS = 65_536
"""Rows of a column looked at before deciding to dictionary encode it."""

MAX_DISTINCT_SHARE = 0.9
"""Dictionary encode a column only when at most this share of the sampled values are distinct. A sample
of an item embedding over ~100k items is ~60% distinct and the whole chunk ~14%; one vector per event is
100%."""

SEPARATOR = ","
"""Each event's JSON is followed by this (a user's body is the run of its events minus the last one)."""


@dataclass(frozen=True)
class Shared:
    """A dictionary-encoded column: each row's code and the JSON text of each distinct value."""

    name: str
    codes: pl.Series  # Int64, one per row, 0..m-1
    texts: pl.Series  # String, ``"name":value`` per distinct value, in code order

    def slice(self, offset: int, length: int) -> Shared:
        """The codes of rows ``offset`` to ``offset + length`` (the texts are shared, not copied)."""
        return Shared(name=self.name, codes=self.codes.slice(offset, length), texts=self.texts)


def shared_columns(rows: pl.DataFrame, columns: list[str]) -> dict[str, Shared]:
    """The columns of ``columns`` worth dictionary encoding, encoded (once for a whole snapshot: a loader
    then formats each distinct vector once, not once per chunk of users)."""
    return {name: s for name in columns if (s := _shared(rows.get_column(name))) is not None}


def events_json(
    rows: pl.DataFrame, columns: list[str], shared: dict[str, Shared] | None = None
) -> pa.LargeStringArray:
    """One string per row: ``json_encode`` of ``columns`` followed by :data:`SEPARATOR`, contiguous in
    the result's data buffer (a user's events are one slice of it). ``shared``: :func:`shared_columns` of
    exactly these rows (computed here when not given)."""
    if shared is None:
        shared = shared_columns(rows, columns)
    if not shared:
        # each event's JSON, then the separator: two pieces, so no string is built just to append a comma
        encoded = rows.select(pl.struct(columns).struct.json_encode().alias("s")).get_column("s")
        strings = pl.concat([encoded, pl.Series("s", [SEPARATOR])], rechunk=True)
        pairs = pl.DataFrame({"e": pl.int_range(0, rows.height, dtype=pl.Int64, eager=True)}).select(
            pl.concat_arr(pl.col("e"), pl.lit(rows.height, dtype=pl.Int64))
        )
        return _contiguous(strings.gather(pairs.to_series().reshape((-1,))), pieces=2)
    return _assemble(rows, columns, shared)


def _assemble(rows: pl.DataFrame, columns: list[str], shared: dict[str, Shared]) -> pa.LargeStringArray:
    """The events from pieces. Each run of plain columns is one ``json_encode`` per row, its braces cut to
    what its place needs; each shared column contributes its distinct value's text, which carries the
    separators around it. Piece ``k`` of event ``i`` is element ``positions[k][i]`` of one pool of strings,
    so the events are one ``gather`` of that pool (string views: no bytes copied until the final buffer)."""
    segments: list[str | list[str]] = []
    for name in columns:
        if name in shared:
            segments.append(name)
        elif segments and isinstance(segments[-1], list):
            segments[-1].append(name)
        else:
            segments.append([name])
    runs: list[pl.Expr] = []
    for k, segment in enumerate(segments):
        if isinstance(segment, list):
            # the first run opens the object ("{a,b"), a later one has no brace of its own ("a,b" or "a,b}")
            encoded = pl.struct(segment).struct.json_encode()
            if k > 0:
                encoded = encoded.str.strip_prefix("{")
            if k < len(segments) - 1:
                encoded = encoded.str.strip_suffix("}")
            runs.append(encoded.alias(f"run{k}"))
    plain = rows.select(runs)  # one query: polars encodes the runs in parallel
    n = rows.height
    rows_index = pl.int_range(0, n, dtype=pl.Int64, eager=True)
    pool: list[pl.Series] = []
    positions: list[pl.Series] = []
    for k, segment in enumerate(segments):
        first, last = k == 0, k == len(segments) - 1
        base = sum(len(strings) for strings in pool)
        if isinstance(segment, str):
            entry = shared[segment]
            # a shared value carries the separator before it and, when a plain run follows, the one after
            before = "{" if first else ","
            after = "}" + SEPARATOR if last else ("," if isinstance(segments[k + 1], list) else "")
            pool.append(pl.select(pl.concat_str([pl.lit(before), pl.lit(entry.texts), pl.lit(after)])).to_series())
            positions.append(entry.codes + base)
        else:
            pool.append(plain.get_column(f"run{k}"))
            positions.append(rows_index + base)
            if last:
                pool.append(pl.Series([SEPARATOR]))
                positions.append(pl.repeat(base + n, n, dtype=pl.Int64, eager=True))
    strings = pl.concat([s.alias("s") for s in pool], rechunk=True)  # a gather from one chunk is ~10x cheaper
    # row-major: event i's pieces are positions[0][i], positions[1][i], ... (a fixed-size array, flattened)
    interleaved = pl.DataFrame({f"k{k}": p for k, p in enumerate(positions)}).select(pl.concat_arr(pl.all()))
    return _contiguous(strings.gather(interleaved.to_series().reshape((-1,))), pieces=len(positions))


def _contiguous(strings: pl.Series, *, pieces: int = 1) -> pa.LargeStringArray:
    """Arrow's large string layout: one data buffer holding every string back to back (the conversion
    from polars' string views is the one copy of the bytes)."""
    arrow = strings.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    assert arrow.null_count == 0
    if pieces == 1:
        return arrow
    # the events are runs of ``pieces`` strings: keep every ``pieces``-th offset
    offsets = pa.Array.from_buffers(pa.int64(), len(arrow) + 1, [None, arrow.buffers()[1]], offset=arrow.offset)
    starts = pl.Series(offsets).gather_every(pieces).to_arrow()
    return pa.LargeStringArray.from_buffers(len(starts) - 1, starts.buffers()[1], arrow.buffers()[2])


def _shared(column: pl.Series) -> Shared | None:
    """``column`` dictionary encoded by the exact bytes of its values, or None when it is not a list of
    fixed-width numbers without null elements, or when a sample says its values are mostly distinct."""
    keys = _byte_keys(column)
    if keys is None:
        return None
    if len(keys) > SAMPLE_ROWS:
        sample = pc.dictionary_encode(keys.slice(0, SAMPLE_ROWS))
        if len(sample.dictionary) > MAX_DISTINCT_SHARE * SAMPLE_ROWS:
            return None
    encoded = pc.dictionary_encode(keys, null_encoding="encode")
    distinct = len(encoded.dictionary)
    if distinct > MAX_DISTINCT_SHARE * len(keys):
        return None
    codes = pl.Series(encoded.indices).cast(pl.Int64)
    # codes number the values by first appearance, so the first occurrences, in row order, are codes 0..m-1
    firsts = codes.arg_unique()
    values = column.gather(firsts)
    text = pl.DataFrame({column.name: values}).select(pl.struct(column.name).struct.json_encode().alias("t"))
    texts = text.get_column("t").str.strip_prefix("{").str.strip_suffix("}")
    assert len(texts) == distinct
    return Shared(name=column.name, codes=codes, texts=texts)


def _byte_keys(column: pl.Series) -> pa.Array | None:
    """Each row's value as the bytes of its numbers (a view of the column's value buffer; a null row is a
    null key), or None when the column is not a list of fixed-width numbers without null elements."""
    dtype = column.dtype
    if not isinstance(dtype, pl.List | pl.Array) or not (dtype.inner.is_numeric() and dtype.inner != pl.Decimal):
        return None
    arrow = column.rechunk().to_arrow()
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    values = arrow.values  # the child array, whole (a list's offsets index into it)
    if values.null_count or not pa.types.is_primitive(values.type) or pa.types.is_boolean(values.type):
        return None
    width = values.type.bit_width // 8
    if pa.types.is_fixed_size_list(arrow.type):
        rows = pl.int_range(arrow.offset, arrow.offset + len(arrow) + 1, dtype=pl.Int64, eager=True)
        starts = (rows * arrow.type.list_size).to_arrow()
    else:
        starts = arrow.offsets.cast(pa.int64())
    byte_starts = pc.multiply(pc.add(starts, values.offset), width)
    validity = None if arrow.null_count == 0 else pc.is_valid(arrow).buffers()[1]
    return pa.Array.from_buffers(
        pa.large_binary(), len(arrow), [validity, byte_starts.buffers()[1], values.buffers()[1]]
    )
