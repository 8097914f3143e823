"""Data contracts derived from the compiled artefact, checked with pandera on polars.

The artefact already says what an indexed day must look like; these schemas only restate it so
pandera can check it. Every rule has a stable name, and a failed check reports which rules failed
and on how many rows, with a sample of the failing rows:

events of day D
    ``schema_columns`` every column of ``events_schema(artefact)`` is present; ``column_types`` with
    its polars type; ``non_null_keys`` user_id, event_id, timestamp and event_type are never null;
    ``unique_event_ids`` no (event_id, event_type) twice — a raw row two event types select is two
    events, a replayed row is one; ``timestamp_in_day_window`` every timestamp before the end of D (a
    partition holds the events that *arrived* on D, so late events of earlier days belong to it, but
    nothing from its future) and not before 2000-01-01 (the engine's validity floor). An event older
    than the retention is valid — late data that will never enter a sequence — so it is no violation:
    the contract gates every indexing run, and one late event must not block a day.

snapshot of day D (long form: one row per user and position)
    the same ``schema_columns`` / ``column_types`` / ``non_null_keys`` (plus position);
    ``position_below_max_length`` 0 <= position < N; ``unique_positions`` no (user_id, position) twice;
    ``positions_contiguous`` a user's positions are 0, 1, …, k-1; ``recent_first`` timestamps do not
    increase with position; ``timestamp_as_of_day`` every element happened before the end of D and
    within the retention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from feature_platform.artefact.format import Artefact
from feature_platform.engine import POSITION, events_schema
from feature_platform.engine.validation import MIN_EVENT_TIME
from feature_platform.errors import StaleSnapshotError
from feature_platform.runtimes.batch._snapshot import snapshot_schema

USER_ID = "user_id"
EVENT_ID = "event_id"
TIMESTAMP = "timestamp"
EVENT_TYPE = "event_type"
EVENT_KEYS = (USER_ID, EVENT_ID, TIMESTAMP, EVENT_TYPE)

# pandera's built-in check names → the contract's rule names
_BUILTIN_RULES = {
    "column_in_dataframe": "schema_columns",
    "column_in_schema": "schema_columns",
    "dtype": "column_types",
    "not_nullable": "non_null_keys",
    "field_uniqueness": "unique_event_ids",
    "multiple_fields_uniqueness": "unique_event_ids",
}

_SAMPLE_ROWS = 10


@dataclass(frozen=True)
class ContractReport:
    """The outcome of checking one frame against one contract."""

    contract: str
    rows: int
    failures: Mapping[str, int] = field(default_factory=dict)
    sample: pl.DataFrame | None = None
    message: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failed_rules(self) -> list[str]:
        return sorted(self.failures)


INPUTS_CURRENT = "inputs_current"
"""The rule a stale snapshot fails: a day of its window was re-indexed after it was built."""


def stale_report(error: StaleSnapshotError) -> ContractReport:
    """The snapshot contract's verdict on a snapshot :func:`read_snapshot` refused as stale."""
    return ContractReport(contract="snapshots", rows=0, failures={INPUTS_CURRENT: 1}, message=str(error))


class ContractTally:
    """One contract checked over a frame delivered in pieces (the snapshot's user ranges, streamed as
    they are written): every snapshot rule concerns one user's rows, and a range never splits a user,
    so the sum of the pieces' verdicts is the verdict on the whole."""

    def __init__(self, schema: pa.DataFrameSchema) -> None:
        self._schema = schema
        self._rows = 0
        self._failures: dict[str, int] = {}
        self._sample: pl.DataFrame | None = None

    def check(self, frame: pl.DataFrame) -> None:
        report = check_frame(self._schema, frame)
        self._rows += report.rows
        for rule, count in report.failures.items():
            self._failures[rule] = self._failures.get(rule, 0) + count
        if self._sample is None and report.sample is not None:
            self._sample = report.sample

    def report(self) -> ContractReport:
        return ContractReport(
            contract=self._schema.name or "contract", rows=self._rows, failures=dict(self._failures),
            sample=self._sample,
        )


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def events_contract(artefact: Artefact, day: date) -> pa.DataFrameSchema:
    """The contract of one day of a feature's enriched events table."""
    _, end = day_window(day)
    columns = _typed_columns(events_schema(artefact), keys=EVENT_KEYS)
    columns[TIMESTAMP] = _with_checks(columns[TIMESTAMP], _between("timestamp_in_day_window", MIN_EVENT_TIME, end))
    return pa.DataFrameSchema(
        columns, unique=[EVENT_ID, EVENT_TYPE], strict=False, coerce=False,
        name=f"{artefact.feature.id}/events@{day.isoformat()}",
    )


def snapshot_contract(artefact: Artefact, day: date) -> pa.DataFrameSchema:
    """The contract of the sequence snapshot as of the end of ``day``."""
    feature = artefact.feature
    _, end = day_window(day)
    oldest = end - timedelta(seconds=feature.retention_seconds)
    columns = _typed_columns(snapshot_schema(artefact), keys=(*EVENT_KEYS, POSITION))
    columns[POSITION] = _with_checks(columns[POSITION], _between("position_below_max_length", 0, feature.max_length))
    columns[TIMESTAMP] = _with_checks(columns[TIMESTAMP], _between("timestamp_as_of_day", oldest, end))
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(_unique_positions, name="unique_positions"),
            pa.Check(_positions_contiguous, name="positions_contiguous"),
            pa.Check(_recent_first, name="recent_first"),
        ],
        strict=False, coerce=False, name=f"{feature.id}/snapshots@{day.isoformat()}",
    )


def check_frame(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> ContractReport:
    """Check every rule (lazily: all failures, not the first) and summarise them by rule name."""
    name = schema.name or "contract"
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.with_columns(
            pl.col("check").map_elements(_rule_name, return_dtype=pl.String).alias("rule")
        )
        counts = cases.group_by("rule").len()
        failures = {str(r): int(n) for r, n in counts.iter_rows()}
        sample = cases.select("rule", "column", "failure_case", "index").head(_SAMPLE_ROWS)
        return ContractReport(contract=name, rows=frame.height, failures=failures, sample=sample)
    except pa.errors.SchemaError as exc:  # raised eagerly by some structural problems
        rule = _rule_name(str(getattr(exc, "check", "") or "schema_columns"))
        return ContractReport(contract=name, rows=frame.height, failures={rule: 1})
    return ContractReport(contract=name, rows=frame.height)


def _rule_name(check: str) -> str:
    base = check.split("(", 1)[0]
    return _BUILTIN_RULES.get(base, base)


def _typed_columns(schema: pl.Schema, *, keys: tuple[str, ...]) -> dict[str, pa.Column]:
    return {
        name: pa.Column(dtype, nullable=name not in keys, required=True, name=name)
        for name, dtype in schema.items()
    }


def _with_checks(column: pa.Column, *checks: pa.Check) -> pa.Column:
    return column.set_checks([*column.checks, *checks])


def _between(rule: str, low: object, high: object) -> pa.Check:
    """``low <= value < high`` as a named check (pandera's built-ins keep their own names)."""

    def check(data: PolarsData) -> pl.LazyFrame:
        value = pl.col(data.key)
        return data.lazyframe.select((value.is_null() | ((value >= low) & (value < high))).alias(data.key))

    return pa.Check(check, name=rule)


def _frame_check(fn: Callable[[pl.LazyFrame], pl.Expr]) -> Callable[[PolarsData], pl.LazyFrame]:
    """A row-wise dataframe check: ``fn`` gives a boolean expression over the frame (True = ok)."""

    def check(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(fn(data.lazyframe).fill_null(True).alias("ok"))

    return check


_unique_positions = _frame_check(lambda _: ~pl.struct(USER_ID, POSITION).is_duplicated())
_positions_contiguous = _frame_check(
    lambda _: pl.col(POSITION).rank("ordinal").over(USER_ID).cast(pl.Int64) - 1 == pl.col(POSITION).cast(pl.Int64)
)


def _recent_first(data: PolarsData) -> pl.LazyFrame:
    """Row-wise: the user's element at ``position + 1`` is not more recent than this one."""
    rows = data.lazyframe.with_row_index("__row")
    older = rows.select(
        pl.col(USER_ID), (pl.col(POSITION) - 1).alias(POSITION), pl.col(TIMESTAMP).alias("__older")
    ).unique(subset=[USER_ID, POSITION], keep="first")
    joined = rows.join(older, on=[USER_ID, POSITION], how="left").sort("__row")
    return joined.select((pl.col("__older") <= pl.col(TIMESTAMP)).fill_null(True).alias("ok"))
