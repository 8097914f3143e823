"""Audit log entries: each pointer change is one immutable, self-describing record.

The entry is both the audit trail and the pointer itself: the live version of a feature in an
environment is the ``to_hash`` of its highest-generation entry. Entries are written once and never
changed, so they are encoded canonically (sorted keys, fixed layout) like artefacts, and any reader
can check an entry against the key it was read from.

Damage to the log is never rewritten away either: ``feature-platform store repair`` appends a
``repair`` entry that *supersedes* the damaged generations (corrupt, missing, edited, or naming an
artefact that is gone), recording each one's sha256 as it was found. The damaged bytes stay where
they are, for forensics; readers skip superseded generations, and ``store verify`` reports them as
repaired (and as damage again if their bytes change after the repair).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from feature_platform.artefact.canonical import canonical_bytes
from feature_platform.errors import StoreError

HASH_PATTERN = r"^[0-9a-f]{64}$"

Action = Literal["publish", "rollback", "repair"]


class Superseded(BaseModel):
    """A damaged generation a ``repair`` entry supersedes, and the bytes it had when it was superseded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generation: int = Field(ge=1, description="The damaged generation.")
    sha256: str | None = Field(
        pattern=HASH_PATTERN,
        description="sha256 of its bytes when it was superseded (None: it was missing), so a later change shows.",
    )
    reason: str = Field(min_length=1, description="What was wrong with it, in one line.")


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
    supersedes: tuple[Superseded, ...] = Field(
        default=(),
        description="Only on `repair` entries: the damaged generations they replace (kept, never read again): "
        "earlier ones, or strays far beyond the log's end (logstate.FAR_GAP). "
        "A repair entry's from_hash is the live version as far as the damaged log could tell (None: unknown).",
    )

    @model_validator(mode="after")
    def _repairs_supersede(self) -> AuditEntry:
        """A repair entry exists only to supersede damage; any other entry supersedes nothing."""
        if (self.action == "repair") != bool(self.supersedes):
            msg = "a repair entry supersedes at least one generation, and only a repair entry supersedes any"
            raise ValueError(msg)
        if any(s.generation == self.generation for s in self.supersedes):
            msg = "a repair entry does not supersede its own generation"
            raise ValueError(msg)
        return self

    @field_validator("at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        """Store every timestamp in UTC so entries from different machines compare and sort."""
        return value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        """Canonical JSON, so the same entry always has the same bytes. ``supersedes`` is left out when
        empty, so entries that are not repairs keep the bytes they had before the field existed."""
        data = self.model_dump(mode="json")
        if not self.supersedes:
            del data["supersedes"]
        return canonical_bytes(data)


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_entry(data: bytes, *, origin: str, what: str = "audit entry") -> AuditEntry:
    """Parse entry bytes, naming the file (``what`` and ``origin``: "audit entry <key>", "pointer hint <key>")
    and saying in plain words what is wrong when they are not a valid entry."""
    try:
        return AuditEntry.model_validate(json.loads(data))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        missing = [".".join(str(p) for p in err["loc"]) for err in errors if err["type"] == "missing"]
        plain = [_plain(err) for err in errors if err["type"] != "missing"]
        if missing:
            fields = ", ".join(repr(f) for f in missing)
            plain.append(f"the field {fields} is missing" if len(missing) == 1 else f"the fields {fields} are missing")
        problems = "; ".join(plain)
        msg = f"{what} {origin} is corrupt: {problems}"
        raise StoreError(msg) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{what} {origin} is corrupt: not JSON ({exc})"
        raise StoreError(msg) from exc


def _plain(error: Any) -> str:
    """One validation error in the words of the file, not of the model class that read it."""
    field = ".".join(str(p) for p in error["loc"])
    kind = error["type"]
    if not field and kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"it is not a JSON object (it holds {_json_kind(error.get('input'))})"
    if kind == "extra_forbidden":
        return f"{field!r} is not a field of an audit entry"
    if kind == "string_pattern_mismatch":
        return f"{field}: not a content hash (64 lowercase hex digits)"
    return f"{field or 'entry'}: {error['msg']}"


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__
