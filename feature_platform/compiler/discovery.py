"""Discovery by import: import every module of a config package and collect the config objects in it.

Objects are found as module globals, or inside module-level lists, tuples and dicts (so loops that
generate definitions work). The same object seen from several modules (imported helpers) counts once.
A module that fails to import is reported as one issue naming the config file and line, and the other
modules are still discovered, so the user sees every problem in one run.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType

from feature_platform.authoring._base import ConfigObject, ConfigObjectError
from feature_platform.authoring.kinds import ConfigKind, kind_of
from feature_platform.compiler.issues import ValidationIssue, display_path
from feature_platform.errors import ConfigDefinitionError, FeaturePlatformError


@dataclass(frozen=True)
class Discovered:
    """A config object and where it was defined."""

    obj: ConfigObject
    kind: ConfigKind
    module: str

    @property
    def file(self) -> str:
        return self.obj.defined_at.file

    @property
    def line(self) -> int:
        return self.obj.defined_at.line


@dataclass
class DiscoveryResult:
    objects: list[Discovered] = field(default_factory=list)
    issues: list[ValidationIssue] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


class ConfigPackageError(FeaturePlatformError):
    """The configs directory is not an importable package."""


def discover(configs_dir: Path) -> DiscoveryResult:
    """Import the package at ``configs_dir`` afresh and collect its config objects."""
    package_dir = configs_dir.resolve()
    if not (package_dir / "__init__.py").is_file():
        msg = f"{configs_dir} is not a config package: it needs an __init__.py"
        raise ConfigPackageError(msg)
    package = package_dir.name
    result = DiscoveryResult()
    result.files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    _forget_package(package)
    finder = _ConfigPackageFinder(package)
    sys.meta_path.insert(0, finder)
    sys.path.insert(0, str(package_dir.parent))
    try:
        seen: set[int] = set()
        for path in result.files:
            module_name = _module_name(package, package_dir, path)
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                result.issues.append(_import_issue(path, module_name, exc, package_dir))
                continue
            for obj in _config_objects(vars(module)):
                if id(obj) not in seen:
                    seen.add(id(obj))
                    result.objects.append(Discovered(obj=obj, kind=kind_of(obj), module=module_name))
    finally:
        sys.path.remove(str(package_dir.parent))
        sys.meta_path.remove(finder)
    result.objects.sort(key=lambda d: (d.kind.key, d.obj.name, d.file, d.line))
    return result


def _module_name(package: str, package_dir: Path, path: Path) -> str:
    relative = path.relative_to(package_dir).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    return ".".join([package, *parts])


def _forget_package(package: str) -> None:
    """Drop cached modules so a re-discovery in the same process sees edited files."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compile a config module from its source every time; never read or write a bytecode cache.

    A ``.pyc`` is trusted when the source's size and mtime (in whole seconds) match, so an edit that keeps
    the size within the same second would otherwise be missed by a re-discovery in the same process.
    """

    def get_code(self, fullname: str) -> CodeType:
        return self.source_to_code(self.get_data(self.path), self.path)


class _ConfigPackageFinder(importlib.abc.MetaPathFinder):
    """Find the config package's modules as usual, but load them with :class:`_SourceOnlyLoader`."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.origin and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _SourceOnlyLoader(fullname, spec.origin)
        return spec


def _config_objects(namespace: dict[str, object]) -> Iterator[ConfigObject]:
    for name, value in sorted(namespace.items()):
        if name.startswith("__"):
            continue
        if isinstance(value, ConfigObject):
            yield value
        elif isinstance(value, list | tuple):
            yield from (v for v in value if isinstance(v, ConfigObject))
        elif isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, ConfigObject))


def _import_issue(path: Path, module_name: str, exc: Exception, package_dir: Path) -> ValidationIssue:
    """One issue for a failed import: the innermost frame inside the config package, and the error.

    When a config object's constructor refused its arguments, the issue names that object and its line.
    """
    hint = "fix this error; the objects defined in this module were not validated"
    if isinstance(exc, ConfigObjectError):
        return ValidationIssue(file=display_path(exc.site.file), line=exc.site.line, kind=exc.kind,
                               name=exc.name, message=exc.problem, hint=hint)
    file, line = str(path), 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and Path(frame.filename).resolve().is_relative_to(package_dir):
            file, line = frame.filename, frame.lineno or 0
    if isinstance(exc, SyntaxError) and exc.filename:
        file, line = exc.filename, exc.lineno or 0
    if isinstance(exc, ConfigDefinitionError):
        message = str(exc)
    else:
        message = f"module {module_name} failed to import: {type(exc).__name__}: {exc}"
    return ValidationIssue(
        file=display_path(file), line=line, kind="module", name=module_name, message=message, hint=hint,
    )
