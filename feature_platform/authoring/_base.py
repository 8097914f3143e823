"""The base of every config object: frozen pydantic models that remember where they were defined.

Two guards live here because they apply to every kind of config:

* the *definition site* (file:line of the constructor call) is recorded, so every validation error can
  point at the line to fix, even for definitions generated in loops or helpers;
* a Python callable, class or arbitrary object anywhere in a definition is refused with an error that
  explains the config/executor boundary, instead of pydantic's generic type error.
"""

from __future__ import annotations

import math
import sys
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictStr, ValidationError

from feature_platform.authoring.expressions import BOUNDARY_HINT, Expr
from feature_platform.errors import ConfigDefinitionError

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
_PYDANTIC_MARKER = f"{Path('pydantic')}"

construction_log: list[ConfigObject] | None = None
"""When discovery sets this to a list, every config object constructed is appended to it, so objects
that were built but are reachable from no module-level name can be reported instead of silently lost."""


class SourceLocation(BaseModel):
    """Where a config object was constructed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class ConfigObjectError(ConfigDefinitionError):
    """A config object refused its arguments; it knows which object it is and where it was defined."""

    def __init__(self, kind: str, name: str, site: SourceLocation, problem: str) -> None:
        super().__init__(f"{kind} '{name}' ({site}): {problem}")
        self.kind = kind
        self.name = name
        self.site = site
        self.problem = problem


def _definition_site() -> SourceLocation:
    """The first frame outside feature_platform and pydantic: the config line that built the object."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        resolved = str(Path(filename).resolve()) if not filename.startswith("<") else filename
        if not resolved.startswith(_PACKAGE_DIR) and "/pydantic/" not in resolved:
            return SourceLocation(file=filename, line=frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return SourceLocation(file="<unknown>", line=0)


def _reject_non_config_values(value: object, path: str) -> None:
    """Refuse callables and arbitrary objects, naming where in the definition they sit."""
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"field '{path}' holds {value!r}; JSON cannot hold NaN or infinities, use None for a missing value"
        raise ConfigDefinitionError(msg)
    if isinstance(value, ConfigModel) and not isinstance(value, ConfigObject):
        for key, item in value:  # nested value models (PluginCall, Freshness...) are walked too
            _reject_non_config_values(item, f"{path}.{key}")
        return
    if value is None or isinstance(value, str | bool | int | float | timedelta | Enum | Expr | BaseModel):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_config_values(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_non_config_values(item, f"{path}[{index}]")
        return
    what = "a Python callable" if callable(value) else f"an arbitrary Python object of type {type(value).__name__}"
    msg = f"field '{path}' holds {what} ({value!r}). {BOUNDARY_HINT}"
    raise ConfigDefinitionError(msg)


class ConfigModel(BaseModel):
    """A frozen, closed pydantic model: unknown keys are errors, nothing mutates after construction."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class ConfigObject(ConfigModel):
    """A named, owned config object of one of the kinds (source, enrichment, event type, sequence)."""

    kind_label: ClassVar[str] = "config object"

    name: StrictStr = Field(description="Unique name within its kind; snake_case.")
    description: str = Field(default="", description="What it is, for people reading the catalogue.")
    owners: tuple[StrictStr, ...] = Field(default=(), description="Owning teams or people.")

    _defined_at: SourceLocation = PrivateAttr(default_factory=lambda: SourceLocation(file="<unknown>", line=0))

    def __init__(self, **data: Any) -> None:
        site = _definition_site()
        name = str(data.get("name", "<unnamed>"))
        for key, value in data.items():
            try:
                _reject_non_config_values(value, key)
            except ConfigDefinitionError as exc:
                raise ConfigObjectError(self.kind_label, name, site, str(exc)) from None
        try:
            super().__init__(**data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigObjectError(self.kind_label, name, site, problems) from None
        self._defined_at = site
        if construction_log is not None:
            construction_log.append(self)

    @property
    def defined_at(self) -> SourceLocation:
        return self._defined_at
