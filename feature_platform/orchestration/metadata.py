"""Turning platform objects into Dagster metadata people can read in the UI.

Markdown for issues and plans (the same text the CLI prints), tables for samples and schemas. Values
are bounded (a few rows, short cells) so metadata never bloats the event log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import dagster as dg
import polars as pl

from feature_platform.artefact.format import Artefact, ColumnSpec
from feature_platform.compiler import ValidationIssue, render_issues
from feature_platform.plan import Plan, render_text

MAX_ROWS = 20
MAX_CELL = 80


def issues_markdown(issues: Sequence[ValidationIssue]) -> dg.MetadataValue:
    """Every issue, grouped by file, as the CLI prints them."""
    return dg.MetadataValue.md(f"```\n{render_issues(issues)}\n```")


def plan_markdown(plan: Plan) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"```\n{render_text(plan)}```")


def artefact_markdown(artefact: Artefact) -> dg.MetadataValue:
    """What the compiled artefact says, in a few lines."""
    f = artefact.feature
    lines = [
        f"**{f.id}** ({f.lifecycle}) — {f.description}",
        "",
        f"- max length N = {f.max_length}, retention {f.retention_seconds // 86400} d, dedup by "
        f"{', '.join(f.dedup_by)}",
        f"- event types: {', '.join(sorted(artefact.event_types))}",
        f"- enrichments: {', '.join(sorted(artefact.enrichments)) or 'none'}",
        f"- sources: {', '.join(sorted(artefact.sources))}",
        f"- fields: {', '.join(c.name for c in f.fields)}",
        f"- batch freshness: max lag {f.freshness.batch_max_lag_seconds // 3600} h, deadline "
        f"{f.freshness.batch_deadline_cron or 'none'} (UTC)",
    ]
    return dg.MetadataValue.md("\n".join(lines))


def column_schema(columns: Iterable[ColumnSpec], *, extra: Sequence[tuple[str, str, str]] = ()) -> dg.TableSchema:
    """The table schema Dagster shows on an asset's overview (``dagster/column_schema``)."""
    cols = [dg.TableColumn(name, dtype, description=desc) for name, dtype, desc in extra]
    cols += [
        dg.TableColumn(c.name, str(c.dtype), description=c.description or None,
                       constraints=dg.TableColumnConstraints(nullable=c.nullable))
        for c in columns
    ]
    return dg.TableSchema(columns=cols)


def frame_table(frame: pl.DataFrame, *, max_rows: int = MAX_ROWS) -> dg.MetadataValue:
    """A sample of ``frame`` as a Dagster table; nested or temporal values become short strings."""
    sample = frame.head(max_rows)
    schema = dg.TableSchema(columns=[dg.TableColumn(name, _table_type(dtype)) for name, dtype in sample.schema.items()])
    records = [dg.TableRecord({k: _cell(v) for k, v in row.items()}) for row in sample.iter_rows(named=True)]
    return dg.MetadataValue.table(records=records, schema=schema)


def counts_table(counts: Mapping[str, int], key: str, value: str = "rows") -> dg.MetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(key, "string"), dg.TableColumn(value, "int")])
    records = [dg.TableRecord({key: k, value: int(v)}) for k, v in sorted(counts.items())]
    return dg.MetadataValue.table(records=records, schema=schema)


def _table_type(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype == pl.Boolean:
        return "bool"
    return "string"


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = json.dumps(value, default=str) if isinstance(value, list | tuple | dict) else str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
