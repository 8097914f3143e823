"""Write one table file from a stream of frames, so a large partition is never in memory whole.

The frames come from a Python generator (the snapshot is computed one user range at a time) and are
handed to polars' streaming Parquet sink through an IO-source plugin (``register_io_source``): polars
pulls a frame when it is ready for one and encodes row groups on its own threads while the generator
computes the next frame. The sink's bytes depend on the physical layout of the frames it is given, so
they are re-cut here into row groups of exactly :data:`ROW_GROUP_ROWS` rows, each a fresh contiguous
copy: the file then depends only on the rows and their order — a snapshot advanced range by range and
one recomputed in full are the same bytes, and a re-run rewrites identical files.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

import polars as pl
from polars.io.plugins import register_io_source

ROW_GROUP_ROWS = 122_880
"""Rows per row group (polars' default): small enough for readers to skip by statistics."""
_READ_BLOCK = 8 << 20
SLICE_ROWS = 262_144
"""Rows gathered at a time when a frame is written in a given row order."""


@dataclass(frozen=True)
class WrittenFile:
    rows: int
    sha256: str


def write_frames(path: str, schema: pl.Schema, frames: Iterable[pl.DataFrame]) -> WrittenFile:
    """Write ``frames`` (cast to ``schema``, in order) as one Parquet file at ``path``.

    The sha256 is taken from the bytes as they are written (no read-back). An exception raised while
    producing the frames propagates unchanged (the partial file is the caller's to discard).
    """
    rows = [0]

    def source(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        for group in _row_groups(frames, schema):
            rows[0] += group.height
            yield group

    try:
        with open(path, "wb") as handle:
            hashing = _HashingWriter(handle)
            try:
                register_io_source(source, schema=schema).sink_parquet(
                    cast(IO[bytes], hashing),
                    compression="zstd",
                    compression_level=1,
                    statistics=True,
                    row_group_size=ROW_GROUP_ROWS,
                )
            except pl.exceptions.PolarsError as exc:
                # polars reports the file's own failure (a full disk) as "Invalid thrift: transport error":
                # the operating system's error is the one to report
                if (failed := hashing.error) is not None:
                    raise failed from exc
                raise
    except OSError as exc:  # with the file's name (a failed write() has none)
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), path) from exc
        raise
    return WrittenFile(rows[0], hashing.digest.hexdigest())


class _HashingWriter(io.RawIOBase):
    """A binary sink that hashes what passes through it on the way to ``target``."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.digest = hashlib.sha256()
        self.error: OSError | None = None
        """The first ``OSError`` of the target (polars does not pass it on as it is)."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        try:
            return self._target.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        try:
            self._target.flush()
        except OSError as exc:
            self.error = self.error or exc
            raise


def in_order(frame: pl.DataFrame, order: pl.Series) -> Iterator[pl.DataFrame]:
    """The rows ``order`` of ``frame``, in that order, a slice at a time (never one whole copy)."""
    for start in range(0, order.len(), SLICE_ROWS):
        yield frame[order.slice(start, SLICE_ROWS)]


def _row_groups(frames: Iterable[pl.DataFrame], schema: pl.Schema) -> Iterator[pl.DataFrame]:
    cast = [pl.col(name).cast(dtype) for name, dtype in schema.items()]
    pending: list[pl.DataFrame] = []
    pending_rows = total = 0
    for frame in frames:
        if frame.height == 0:
            continue
        total += frame.height
        pending.append(frame.select(cast))
        pending_rows += frame.height
        if pending_rows >= ROW_GROUP_ROWS:
            buffered = pl.concat(pending, rechunk=False)
            ready = pending_rows - pending_rows % ROW_GROUP_ROWS
            for start in range(0, ready, ROW_GROUP_ROWS):
                yield _fresh(buffered.slice(start, ROW_GROUP_ROWS))
            rest = _fresh(buffered.slice(ready)) if ready < pending_rows else None
            pending, pending_rows = ([rest], rest.height) if rest is not None else ([], 0)
    if pending_rows:
        yield _fresh(pl.concat(pending, rechunk=False))
    elif total == 0:
        yield pl.DataFrame(schema=schema)  # an empty table is still a file with the schema


def _fresh(frame: pl.DataFrame) -> pl.DataFrame:
    """A contiguous copy of ``frame``: a slice keeps its parent's buffers, which changes the encoding.

    Two halves made one chunk again is a plain memory copy (a gather of list columns is much slower).
    """
    half = frame.height // 2
    if half == 0:
        return frame.select(pl.all().gather(pl.int_range(pl.len())))
    return pl.concat([frame.slice(0, half), frame.slice(half)]).rechunk()


def handle_sha256(handle: BinaryIO) -> str:
    """sha256 of everything in ``handle`` (read from the start); the handle is left at the start."""
    handle.seek(0)
    digest = hashlib.sha256()
    while block := handle.read(_READ_BLOCK):
        digest.update(block)
    handle.seek(0)
    return digest.hexdigest()
