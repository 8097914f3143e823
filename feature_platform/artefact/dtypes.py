"""The logical data types a field can have, shared by configs, artefacts and runtimes."""

from __future__ import annotations

from enum import StrEnum


class DType(StrEnum):
    """Logical type of a column or expression. Timestamps are UTC, microsecond precision."""

    STRING = "string"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    DATE = "date"
    LIST_FLOAT32 = "list[float32]"
    LIST_INT64 = "list[int64]"
    LIST_STRING = "list[string]"

    @property
    def is_integer(self) -> bool:
        return self in (DType.INT32, DType.INT64)

    @property
    def is_float(self) -> bool:
        return self in (DType.FLOAT32, DType.FLOAT64)

    @property
    def is_numeric(self) -> bool:
        return self.is_integer or self.is_float

    @property
    def is_list(self) -> bool:
        return self.value.startswith("list[")

    @property
    def is_temporal(self) -> bool:
        return self in (DType.TIMESTAMP, DType.DATE)


KEY_DTYPES = (DType.INT64, DType.STRING)
"""Types an entity key (user id) or a lookup key may have."""
