"""The base of every config object: frozen pydantic models that remember where they were defined.

Two guards live here because they apply to every kind of config:

* the *definition site* (file:line of the constructor call) is recorded, so every validation error can
  point at the line to fix, even for definitions generated in loops or helpers;
* a Python callable, class or arbitrary object anywhere in a definition is refused with an error that
  explains the config/executor boundary, instead of pydantic's generic type error.
"""

from __future__ import annotations

import ast
import copy
import functools
import itertools
import math
import sys
from collections.abc import Generator, ItemsView, Iterator, KeysView, Mapping, ValuesView
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StrictStr, ValidationError

from feature_platform.artefact.expressions import ExprNode
from feature_platform.authoring.expressions import (
    BOUNDARY_HINT,
    MAX_EXPRESSION_DEPTH,
    Expr,
    When,
    callable_name,
    expression_depth,
)
from feature_platform.errors import ConfigDefinitionError

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
_PYDANTIC_MARKER = f"{Path('pydantic')}"

construction_log: list[ConfigObject] | None = None
"""When discovery sets this to a list, every config object constructed is appended to it, so objects
that were built but are reachable from no module-level name can be reported instead of silently lost."""

value_sites: dict[int, tuple[object, SourceLocation, dict[str, SourceLocation]]] | None = None
"""When discovery sets this to a dict: where the values config objects are built from were made.

``id(value) -> (value, site, origins inside it)``; the value is held so that its id stays its own. Value
models (``Freshness``, ``PluginCall``, ``Column``...) record themselves when built; discovery records the
values config-package functions return (a dict of plugin parameters a helper builds) and the constants a
config module defines. A config object then knows, per argument path, where its value was built
(:attr:`ConfigObject.origins`), so an error in a value a shared helper built is blamed in the helper,
once, rather than at every caller."""

_SHARED_VALUE_TYPES: tuple[type, ...] = (dict, list, tuple, set, frozenset, Expr)
"""Values that can be built in one place and used by several config objects (references excepted)."""


def record_value(value: object, site: SourceLocation, origins: dict[str, SourceLocation] | None = None) -> None:
    """Remember where ``value`` was built, unless something more precise already did (first record wins)."""
    if value_sites is not None and id(value) not in value_sites:
        value_sites[id(value)] = (value, site, origins or {})
        if isinstance(value, Expr) and id(value.node) not in value_sites:
            # a larger expression built from this one (``is_click() & on_mobile()``) holds its node, not the
            # Expr: record the node too, so an error inside it is blamed where it was built
            value_sites[id(value.node)] = (value.node, site, {})


def _join(path: str, sub: str) -> str:
    return f"{path}{sub}" if sub.startswith("[") else f"{path}.{sub}"


def _origins(data: dict[str, Any]) -> dict[str, SourceLocation]:
    """Argument path -> where the value at that path was built, for the values whose origin is known."""
    sites = value_sites
    found: dict[str, SourceLocation] = {}
    if sites is None:
        return found

    def walk(value: object, path: str, depth: int) -> None:
        if isinstance(value, ConfigObject) or depth > 4:  # a reference: chosen where it is written
            return
        entry = sites.get(id(value))
        if entry is not None and entry[0] is value:
            found[path] = entry[1]
            for sub, site in entry[2].items():
                found[_join(path, sub)] = site
            if isinstance(value, ConfigModel):
                return  # its own origins were collected when it was built
        if isinstance(value, Expr):
            walk_expression(value.node, path)
            return
        if isinstance(value, list | tuple):
            items: Any = ((f"{path}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, dict):
            items = ((f"{path}.{key}", item) for key, item in value.items() if isinstance(key, str))
        else:
            return
        for sub, item in items:  # only what can have a site of its own is walked further
            if id(item) in sites or isinstance(item, list | tuple | dict | Expr):
                walk(item, sub, depth + 1)

    def walk_expression(node: ExprNode, path: str) -> None:
        """Sub-expressions built apart (a helper's ``col("platform").is_in([...])`` and'ed into a filter):
        their paths are ``<argument>.args[i].args[j]...``, as :func:`expression_error_path` finds them."""
        stack = [(node, path)]
        while stack:
            current, where = stack.pop()
            for index, arg in enumerate(current.args):
                sub = f"{where}.args[{index}]"
                entry = sites.get(id(arg))
                if entry is not None and entry[0] is arg:
                    found[sub] = entry[1]
                stack.append((arg, sub))

    for key, value in data.items():
        walk(value, key, 0)
    return found


class SourceLocation(BaseModel):
    """Where a config object was constructed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int
    call: tuple[int, int, int, int] | None = None
    """(line, column, end line, end column) of the constructor call, to find its arguments' lines."""
    called_from: tuple[str, int] | None = None
    """When a function built the object (a factory in a helper module): the module-level config line whose
    call ran it, to tell apart the objects one factory line builds."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def line_of(self, path: str) -> int:
        """The line of the argument at ``path`` ("max_length", "event_types[1]", "freshness.batch_max_lag",
        "fields.timestamp"): the keyword, the tuple element or the dict entry itself; the constructor's line
        when the argument is not written out at the call (``**kwargs``, a variable holding a tuple...)."""
        from feature_platform.authoring._arglines import argument_line

        return argument_line(self, path) or self.line

    def at(self, path: str) -> SourceLocation:
        """This site, moved to the line of the argument at ``path``."""
        return self.model_copy(update={"line": self.line_of(path)}) if path else self


class ConfigObjectError(ConfigDefinitionError):
    """A config object refused its arguments; it knows which object it is and where it was defined."""

    def __init__(self, kind: str, name: str, site: SourceLocation, problem: str) -> None:
        super().__init__(f"{kind} '{name}' ({site}): {problem}")
        self.kind = kind
        self.name = name
        self.site = site
        self.problem = problem


def _definition_site(*, skip_copy: bool = False) -> SourceLocation:
    """The first frame outside feature_platform and pydantic (and the ``copy`` module, for a copy): the config
    line that built the object."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _is_platform_file(filename) and not (skip_copy and filename == copy.__file__):
            return SourceLocation(file=filename, line=frame.f_lineno, call=_call_span(frame),
                                  called_from=_module_level_caller(frame))
        frame = frame.f_back  # type: ignore[assignment]
    return SourceLocation(file="<unknown>", line=0)


def _module_level_caller(frame: Any) -> tuple[str, int] | None:
    """The module-level config statement that (through helper functions) called the code of ``frame``."""
    if frame.f_code.co_name == "<module>":
        return None
    caller = frame.f_back
    while caller is not None:
        if caller.f_code.co_name == "<module>" and not _is_platform_file(caller.f_code.co_filename):
            return caller.f_code.co_filename, caller.f_lineno
        caller = caller.f_back
    return None


def _splatted_origins(data: dict[str, Any]) -> dict[str, SourceLocation]:
    """Where the arguments a call takes from a ``**name`` were written: ``SequenceFeature(name=..., **BASE)``
    with ``BASE = dict(max_length=0, ...)`` in a helper module blames ``max_length=0`` there, once, rather than
    every call. Only a name (or ``module.name``) after ``**`` is followed, looked up in the calling frame."""
    from feature_platform.authoring._arglines import argument_span, node_at

    sites = value_sites
    frame = sys._getframe(2)
    while frame is not None and _is_platform_file(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
    span = _call_span(frame) if frame is not None and sites is not None else None
    call = node_at(frame.f_code.co_filename, span) if span is not None else None
    if not isinstance(call, ast.Call) or sites is None:
        return {}
    found: dict[str, SourceLocation] = {}
    for keyword in call.keywords:
        if keyword.arg is not None:
            continue
        value = _lookup(keyword.value, frame)
        entry = sites.get(id(value))
        if not isinstance(value, dict) or entry is None or entry[0] is not value:
            continue
        built = entry[1]
        for key, item in value.items():
            if isinstance(key, str) and key in data and data[key] is item:
                at = argument_span(built, key)
                found[key] = SourceLocation(file=built.file, line=at[0], call=at) if at else built
                for sub, origin in entry[2].items():
                    if sub == key or sub.startswith((f"{key}.", f"{key}[")):
                        found[sub] = origin
    return found


def _lookup(node: ast.expr, frame: Any) -> object:
    """The value of ``name`` or ``name.attr...`` in ``frame`` (nothing else is evaluated), or None."""
    if isinstance(node, ast.Name):
        scope = {**frame.f_globals, **frame.f_locals}
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _lookup(node.value, frame)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


@functools.lru_cache(maxsize=1024)
def _is_platform_file(filename: str) -> bool:
    """Whether code in ``filename`` is the platform's or pydantic's (not the config's)."""
    resolved = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    return resolved.startswith(_PACKAGE_DIR) or "/pydantic/" in resolved


def _call_span(frame: Any) -> tuple[int, int, int, int] | None:
    try:
        positions = next(itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None))
    except (AttributeError, StopIteration):
        return None
    if any(p is None for p in positions):
        return None
    return positions


def _reject_non_config_values(value: object, path: str) -> None:
    """Refuse callables and arbitrary objects, naming where in the definition they sit."""
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"field '{path}' holds {value!r}; JSON cannot hold NaN or infinities, use None for a missing value"
        raise ConfigDefinitionError(msg)
    if isinstance(value, ConfigModel) and not isinstance(value, ConfigObject):
        for key, item in value:  # nested value models (PluginCall, Freshness...) are walked too
            _reject_non_config_values(item, f"{path}.{key}")
        return
    if isinstance(value, Expr) and (depth := expression_depth(value.node)) > MAX_EXPRESSION_DEPTH:
        msg = (
            f"field '{path}' holds an expression nested {depth} levels deep (at most {MAX_EXPRESSION_DEPTH}); "
            "a long chain of & or | built in a loop nests one level per step: test many values with "
            ".is_in([...]), or split the logic over several derived fields"
        )
        error = ConfigDefinitionError(msg)
        error.path = path  # type: ignore[attr-defined]
        raise error
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
    unordered = _unordered_kind(value)
    if unordered is not None and path.endswith("]"):
        # a set inside a list (``fields=[{"a", "b"}]``): said as for a set given for the whole argument
        msg = f"field '{path}' holds {unordered}; {_UNORDERED_ADVICE[unordered]}"
        error = ConfigDefinitionError(msg)
        error.path = path  # type: ignore[attr-defined]
        raise error
    if isinstance(value, When):
        msg = (f"field '{path}' holds an unfinished when(...).then(...): end it with .otherwise(value) "
               "(.otherwise(None) for null)")
        error = ConfigDefinitionError(msg)
        error.path = path  # type: ignore[attr-defined]
        raise error
    what = "a Python callable" if callable(value) else f"an arbitrary Python object of type {type(value).__name__}"
    if callable(value):
        shown = f" ({callable_name(value)})"
    else:  # a set's repr has a per-run order; an object's, a memory address
        shown = "" if unordered is not None or " at 0x" in repr(value) else f" ({value!r})"
    msg = f"field '{path}' holds {what}{shown}. {BOUNDARY_HINT}"
    error = ConfigDefinitionError(msg)
    error.path = path  # type: ignore[attr-defined]
    raise error


def _reject_unordered(value: object, key: str, model: type[BaseModel]) -> None:
    """A set or a generator given for an argument that takes a tuple (``event_types``, ``fields``...): said in
    those words, without the value's repr (a memory address, or an order that changes from run to run)."""
    unordered = _unordered_kind(value)
    field = model.model_fields.get(key)
    if field is None or get_origin(field.annotation) is not tuple:
        return
    if isinstance(value, ConfigModel):  # ``event_types=(click)``: parentheses alone make no tuple
        named = f" '{value.name}'" if isinstance(value, ConfigObject) else ""
        written = value.name if isinstance(value, ConfigObject) else f"{type(value).__name__}(...)"
        msg = (f"field '{key}': expected a tuple, got one {type(value).__name__}{named}; a one-element tuple "
               f"needs a trailing comma: ({written},)")
        error = ConfigDefinitionError(msg)
        error.path = key  # type: ignore[attr-defined]
        raise error
    if unordered is None:
        return
    msg = f"field '{key}': expected a tuple, got {unordered}; {_UNORDERED_ADVICE[unordered]}"
    error = ConfigDefinitionError(msg)
    error.path = key  # type: ignore[attr-defined]
    raise error


_UNORDERED_ADVICE = {
    kind: f"{kind} has no fixed order ({why}): write the values out as a tuple, (a, b, ...)"
    for kind, why in (("a set", "its order can change from run to run"),
                      ("a dict view", "its order can change from run to run"),
                      ("a generator", "it is used up once read"), ("an iterator", "it is used up once read"))
}


def _unordered_kind(value: object) -> str | None:
    """``"a set"``, ``"a generator"``... when ``value`` is a collection without a fixed order written in the
    config (shown without its repr, which holds a memory address or a per-run order), else None."""
    if isinstance(value, set | frozenset):
        return "a set"
    if isinstance(value, KeysView | ValuesView | ItemsView):
        return "a dict view"
    if isinstance(value, Generator):
        return "a generator"
    if isinstance(value, Iterator):
        return "an iterator"
    return None


def loc_path(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as an argument path: ``("columns", 0, "name")`` -> ``columns[0].name``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            path = f"{path}.{part}" if path else str(part)
    return path


def _plain_error(err: Any, model: type[BaseModel]) -> str:
    """One pydantic error as a sentence a config author can act on (no URL, no Python reprs)."""
    where = loc_path(err["loc"]) or "value"
    value = err.get("input")
    if err["loc"] and err["loc"][-1] == "[key]":
        return f"{where}: the key {value!r} must be a string (a name)"
    if err["type"] == "model_type":  # ``columns=(("id", "int64"),)``, ``freshness=timedelta(...)``
        expected = err.get("ctx", {}).get("class_name", "the right kind of object")
        return f"{where}: expected {expected}(...), got {_a(value)}"
    if err["type"] == "string_type" and (value is None or isinstance(value, ConfigModel)):
        return f"{where}: expected a name (or the object itself), got {_a(value)}"
    if err["type"] == "extra_forbidden":
        import difflib

        fields = list(model.model_fields)
        close = difflib.get_close_matches(str(err["loc"][-1]), fields, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(fields)})"
        return f"unknown parameter '{where}'{hint}"
    if err["type"] in ("tuple_type", "list_type") and isinstance(value, str):
        return (f"{where}: expected a tuple, got the string {value!r}; a one-element tuple needs a trailing "
                f"comma: ({value!r},)")
    if err["type"] == "enum" or err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        import difflib

        options = [o.strip(" '") for o in expected.replace(" or ", ", ").split(",")]
        if isinstance(value, type):  # ``Column("id", int)``: a Python type for a dtype
            meant = _PYTHON_TYPES.get(value)
            mean = f"; did you mean '{meant}'?" if meant in options else ""
            return f"{where}: the Python type {value.__name__} is not one of {expected}{mean}"
        close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.6) if isinstance(value, str) else []
        if not close and isinstance(value, str) and value:  # ``"prod"`` for ``"production"``
            close = [o for o in options if o.lower().startswith(value.lower())][:1]
        mean = f"; did you mean '{close[0]}'?" if close else ""
        shown = repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
        return f"{where}: {shown} is not one of {expected}{mean}"
    if isinstance(value, timedelta):  # not its repr, datetime.timedelta(seconds=300)
        shown = f" (got a timedelta of {value})"
    elif isinstance(value, str | int | float | bool):
        shown = f" (got {value!r})"
    else:
        shown = f" (got {_a(value)})" if err["type"].endswith("_type") else ""
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}{shown}"


_PYTHON_TYPES: dict[type, str] = {int: "int64", float: "float64", str: "string", bool: "bool"}
"""The dtype a Python type given for one most likely means."""


def _a(value: object) -> str:
    """A value's kind in words (``a tuple``, ``None``), never its repr."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _plain_errors(errors: list[Any], model: type[BaseModel]) -> str:
    """Every pydantic error as a sentence; a "Field required" that a misspelt keyword explains (``streming_lag``
    for ``streaming_lag``) is dropped: the "did you mean" on the misspelling says it all."""
    import difflib

    fields = list(model.model_fields)
    meant = {
        close[0]
        for err in errors
        if err["type"] == "extra_forbidden"
        for close in [difflib.get_close_matches(str(err["loc"][-1]), fields, n=1, cutoff=0.6)]
        if close
    }
    kept = [err for err in errors if not (err["type"] == "missing" and len(err["loc"]) == 1 and err["loc"][0] in meant)]
    return "; ".join(_plain_error(err, model) for err in kept)


class ConfigModel(BaseModel):
    """A frozen, closed pydantic model: unknown keys are errors, nothing mutates after construction."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            problems = _plain_errors(errors, type(self))
            msg = f"{type(self).__name__}(...): {problems}"
            error = ConfigDefinitionError(msg)
            # Blame the argument's line (as ConfigObject does), not the call's first line: a misspelt keyword
            # first, else the first error's field.
            typos = [e for e in errors if e["type"] == "extra_forbidden"]
            first = loc_path((typos or errors)[0]["loc"]) if errors else ""
            error.site = _definition_site().at(first)  # type: ignore[attr-defined]
            raise error from None
        if value_sites is not None:
            record_value(self, _definition_site(), _origins(data))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied, built through the constructor: pydantic's own ``model_copy`` skips
        validation, so a misspelt key would be silently ignored and a wrong-typed value would reach the compiler
        and the code location. Here a misspelt key gets its "did you mean", a bad value the usual message, both
        blamed at the ``model_copy`` line."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        if deep:
            data = copy.deepcopy(data)
        copied = type(self)(**{**data, **(update or {})})
        if isinstance(self, ConfigObject) and isinstance(copied, ConfigObject):
            copied._origins = _inherited_origins(self, copied, set(update or ()))
        return copied

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """A mapping is built through the constructor, as ``cls(**obj)``: its errors are then reported like the
        constructor's (blamed at the call, in the config's words) rather than as a pydantic dump."""
        if isinstance(obj, Mapping) and not options:
            return cls(**obj)
        return super().model_validate(obj, **options)

    def __copy__(self) -> Self:
        """``copy.copy(feature)``: the copy remembers the line that made it (so a duplicate name is reported
        there, not twice at the original's line)."""
        copied = super().__copy__()
        if isinstance(copied, ConfigObject):
            copied._defined_at = _definition_site(skip_copy=True)
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        copied = super().__deepcopy__(memo)
        if isinstance(copied, ConfigObject):
            copied._defined_at = _definition_site(skip_copy=True)
        return copied

    @classmethod  # type: ignore[no-redef]  # the pydantic mypy plugin declares model_construct per model
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:  # type: ignore[override]
        """Built through the constructor, validated like any other: ``model_construct`` exists to skip
        validation, which a config must never do (the compiler and the runtimes trust what validated)."""
        return cls(**values)

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse assigning a field with one line that says what to do (pydantic's own error is a multi-line
        dump with a URL); private attributes (the definition site...) are the platform's to set."""
        if name.startswith("_"):
            super().__setattr__(name, value)
            return
        raise ConfigDefinitionError(_frozen_message(self, name, "assigning"))

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            super().__delattr__(name)
            return
        raise ConfigDefinitionError(_frozen_message(self, name, "deleting"))


def _inherited_origins(original: ConfigObject, copied: ConfigObject, updated: set[str]) -> dict[str, SourceLocation]:
    """The origins of a ``model_copy``: an argument it did not update was written for the original, so an error
    in it is blamed there (once, with the copy counted as one more use), not at the ``model_copy`` line."""
    from feature_platform.authoring._arglines import argument_span

    found = dict(copied.origins)
    site = original.defined_at
    for key in type(original).model_fields:
        if key in updated:
            continue
        inner = {p: s for p, s in original.origins.items() if p == key or p.startswith((f"{key}.", f"{key}["))}
        if not inner and (span := argument_span(site, key)) is not None:
            inner = {key: SourceLocation(file=site.file, line=span[0], call=span)}
        for path in [p for p in found if p == key or p.startswith((f"{key}.", f"{key}["))]:
            del found[path]
        found.update(inner)
    return found


def _frozen_message(model: BaseModel, name: str, doing: str) -> str:
    return (f"config objects are frozen: build a new one (e.g. {type(model).__name__}(...)) instead of {doing} "
            f"{name}")


def _no_bare_number(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        msg = (f"a bare number ({value!r}) would be read as {value!r} seconds; write a timedelta, e.g. "
               f"timedelta(days={value!r}) or timedelta(minutes={value!r})")
        raise ValueError(msg)
    return value


Duration = Annotated[timedelta, BeforeValidator(_no_bare_number)]
"""A timedelta that refuses a bare number (``retention=90`` is not 90 days, and not meant as 90 s)."""


class ConfigObject(ConfigModel):
    """A named, owned config object of one of the kinds (source, enrichment, event type, sequence)."""

    kind_label: ClassVar[str] = "config object"

    name: StrictStr = Field(description="Unique name within its kind; snake_case.")
    description: str = Field(default="", description="What it is, for people reading the catalogue.")
    owners: tuple[StrictStr, ...] = Field(default=(), description="Owning teams or people.")

    _defined_at: SourceLocation = PrivateAttr(default_factory=lambda: SourceLocation(file="<unknown>", line=0))
    _origins: dict[str, SourceLocation] = PrivateAttr(default_factory=dict)

    def __init__(self, *args: Any, **data: Any) -> None:
        site = _definition_site()
        name = str(data.get("name", "<unnamed>"))
        if args:
            name = args[0] if "name" not in data and isinstance(args[0], str) else name
            fields = ", ".join(f"{f}=..." for f, info in type(self).model_fields.items() if info.is_required())
            problem = (f"{type(self).__name__}(...) takes keyword arguments only, got {len(args)} positional "
                       f"argument(s): write {type(self).__name__}({fields})")
            raise ConfigObjectError(self.kind_label, name, site, problem)
        origins = {**_splatted_origins(data), **_origins(data)} if value_sites is not None else {}
        for key, value in data.items():
            try:
                _reject_unordered(value, key, type(self))
                _reject_non_config_values(value, key)
            except ConfigDefinitionError as exc:
                path = getattr(exc, "path", key)
                where = _blame(site, origins, path)[0]
                raise ConfigObjectError(self.kind_label, name, where, str(exc)) from None
        try:
            BaseModel.__init__(self, **data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            problems = _plain_errors(errors, type(self))
            typos = [e for e in errors if e["type"] == "extra_forbidden"]
            culprit = (typos or errors)[0] if errors else None
            first = loc_path(culprit["loc"]) if culprit else ""
            where = _blame(site, origins, first)[0]
            if culprit and first in origins and str(culprit["type"]).endswith("_type"):
                where = site.at(first)  # the wrong kind of value for this argument: wrong where it is passed
            raise ConfigObjectError(self.kind_label, name, where, problems) from None
        self._defined_at = site
        self._origins = origins
        if construction_log is not None:
            construction_log.append(self)

    @property
    def defined_at(self) -> SourceLocation:
        return self._defined_at

    @property
    def origins(self) -> dict[str, SourceLocation]:
        """Argument path -> where its value was built, when that is known (see :data:`value_sites`)."""
        return self._origins

    def origin_of(self, path: str) -> SourceLocation | None:
        """Where the value holding the argument at ``path`` was built, when apart from this object's call."""
        prefix = origin_prefix(self._origins, path)
        return self._origins[prefix] if prefix else None

    def blame(self, path: str) -> tuple[SourceLocation, bool]:
        """Where to report a problem with the argument at ``path``, and whether that is inside a value built
        apart from this object's constructor call (by a helper, as a constant): then the value is what is
        wrong, wherever it is used, and it is blamed where it was built."""
        return _blame(self._defined_at, self._origins, path)


def origin_prefix(origins: dict[str, SourceLocation], path: str) -> str:
    """The longest argument path of ``origins`` that ``path`` is (inside), or ""."""
    best = ""
    for prefix in origins:
        if len(prefix) > len(best) and (path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))):
            best = prefix
    return best


def _blame(site: SourceLocation, origins: dict[str, SourceLocation], path: str) -> tuple[SourceLocation, bool]:
    """See :meth:`ConfigObject.blame`: the site of the longest argument path with a known origin."""
    best = origin_prefix(origins, path)
    if not best:
        return (site.at(path) if path else site), False
    built = origins[best]
    rest = path[len(best):].lstrip(".")
    return (built.at(rest) if rest else built), True
