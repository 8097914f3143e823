"""Enrichments: how one signal is fetched (lookup), derived (expressions) or computed (plugin)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, JsonValue, StrictStr

from feature_platform.authoring._base import ConfigModel, ConfigObject, ConfigObjectError, _definition_site
from feature_platform.authoring.expressions import Expr
from feature_platform.authoring.lifecycle import Lifecycle


def _name_of(value: Any) -> Any:
    """Let a config reference another object either by name or by the object itself."""
    return value.name if isinstance(value, ConfigObject) else value


Ref = Annotated[StrictStr, BeforeValidator(_name_of)]
"""A reference to another config object, by name or by object."""


class PluginCall(ConfigModel):
    """Run the executor plugin registered as ``plugin`` with ``params`` (checked against its model)."""

    plugin: StrictStr = Field(description="Registered plugin name (see `feature-platform plugins`).")
    params: dict[str, JsonValue] = Field(default_factory=dict, description="Plugin parameters.")


class Enrichment(ConfigObject):
    """Base of the enrichment kinds; a config builds one of its subclasses."""

    kind_label = "enrichment"

    lifecycle: Lifecycle = Field(default=Lifecycle.EXPERIMENTAL, description="Lifecycle stage.")

    def __init__(self, **data: Any) -> None:
        if type(self) is Enrichment:
            name = str(data.get("name", "<unnamed>"))
            problem = (
                "Enrichment is a base class: build a LookupEnrichment, DerivedEnrichment or "
                "PluginEnrichment"
            )
            raise ConfigObjectError(self.kind_label, name, _definition_site(), problem)
        super().__init__(**data)


class LookupEnrichment(Enrichment):
    """Join a lookup table on an event field and add some of its columns."""

    source: Ref = Field(description="The lookup source.")
    on: StrictStr = Field(description="Normalised event field matched against the source's key column.")
    columns: dict[str, str] = Field(description="Output field name -> lookup table column.")


class DerivedEnrichment(Enrichment):
    """Derive fields from an event's normalised fields with expressions."""

    fields: dict[str, Expr] = Field(description="Output field name -> expression over normalised fields.")


class PluginEnrichment(Enrichment):
    """Compute fields with an executor plugin."""

    call: PluginCall = Field(description="The plugin and its parameters.")
