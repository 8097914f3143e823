"""Audit log entries: each pointer change is one immutable, self-describing record.

The entry is both the audit trail and the pointer itself: the live version of a feature in an
environment is the ``to_hash`` of its highest-generation entry. Entries are written once and never
changed, so they are encoded canonically (sorted keys, fixed layout) like artefacts, and any reader
can check an entry against the key it was read from.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from feature_platform.artefact.canonical import canonical_bytes
from feature_platform.errors import StoreError

HASH_PATTERN = r"^[0-9a-f]{64}$"

Action = Literal["publish", "rollback"]


class AuditEntry(BaseModel):
    """One pointer change: feature ``feature_id`` in ``env`` went from ``from_hash`` to ``to_hash``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generation: int = Field(ge=1, description="Position in the log, 1 for the first publish; no gaps.")
    env: str = Field(description="Environment the pointer belongs to.")
    feature_id: str = Field(description="Feature the pointer belongs to (`<name>_v<version>`).")
    action: Action = Field(description="What made the change.")
    from_hash: str | None = Field(pattern=HASH_PATTERN, description="Live hash before; None for the first.")
    to_hash: str = Field(pattern=HASH_PATTERN, description="Live hash after this change.")
    actor: str = Field(min_length=1, description="Who made the change.")
    at: AwareDatetime = Field(description="When, in UTC.")
    source_revision: str | None = Field(default=None, description="VCS revision the artefact came from.")
    message: str | None = Field(default=None, description="Free-form reason.")

    @field_validator("at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        """Store every timestamp in UTC so entries from different machines compare and sort."""
        return value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        """Canonical JSON, so the same entry always has the same bytes."""
        return canonical_bytes(self.model_dump(mode="json"))


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_entry(data: bytes, *, origin: str) -> AuditEntry:
    """Parse entry bytes, naming ``origin`` (the key) when they are not a valid entry."""
    try:
        return AuditEntry.model_validate(json.loads(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        msg = f"audit entry {origin} is corrupt: {problems}"
        raise StoreError(msg) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"audit entry {origin} is corrupt: not JSON ({exc})"
        raise StoreError(msg) from exc
