"""The executor plugin interface.

A plugin is platform code that does what a declarative expression cannot. Configs reference it by name
with parameters; the compiler validates the parameters against :attr:`ExecutorPlugin.params_model` and
records the output fields; the engine calls :meth:`ExecutorPlugin.apply` on a polars frame. ``apply``
must be row-local (each output row depends only on its input row), so the same plugin gives the same
answer on a day of files, lazily, and on a streaming micro-batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

import polars as pl
from pydantic import BaseModel

from feature_platform.artefact.dtypes import DType
from feature_platform.artefact.format import ColumnSpec

ParamsT = TypeVar("ParamsT", bound=BaseModel)


class ExecutorPlugin(ABC, Generic[ParamsT]):
    """Base class of executor plugins; subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    description: ClassVar[str]
    params_model: ClassVar[type[BaseModel]]

    def parse_params(self, raw: dict[str, object]) -> ParamsT:
        return self.params_model.model_validate(raw)  # type: ignore[return-value]

    @abstractmethod
    def input_fields(self, params: ParamsT) -> dict[str, tuple[DType, ...]]:
        """Fields the plugin reads, each with the types it accepts."""

    @abstractmethod
    def output_fields(self, params: ParamsT) -> tuple[ColumnSpec, ...]:
        """Fields the plugin adds (or replaces)."""

    @abstractmethod
    def apply(self, frame: pl.LazyFrame, params: ParamsT) -> pl.LazyFrame:
        """Add the output fields to ``frame``. Row-local; must not change the row count."""
