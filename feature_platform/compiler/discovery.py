"""Discovery by import: import every module of a config package and collect the config objects in it.

Config modules are code. They are imported in a **child process**, never in the process that validates
them, so nothing a config module does at import time can change the outcome of validation:

* ``sys.exit()``, ``KeyboardInterrupt`` or any other ``BaseException`` raised at import is reported as an
  issue naming the module and line (it cannot end ``validate`` with exit code 0 having done nothing);
* a module that blocks at import is reported after ``import_timeout`` seconds, at the line it blocks on,
  once: what it leaves half-imported fails at once for its importers (one timeout in total);
* a module that ends the child process (``os._exit``, ``os.kill``, a crash, a C call that stalls the
  interpreter) is reported at the line it was on, and nothing is compiled;
* a config module that monkeypatches the validator (its limits, its functions) or registers an executor
  plugin changes only the child: the validator runs in the parent, with the platform's own code and the
  plugins of the platform's code (a plugin registered from config is reported, see below).

The child sends the config objects back pickled; the parent unpickles them with an allow-list of classes
(the platform's, pydantic's and a few standard ones), so a config cannot smuggle its own classes in.

Objects are found as module globals, or inside module-level lists, tuples, sets and dicts, nested to any
depth (so loops that generate definitions work). The same object seen from several modules (imported
helpers) counts once. An object that was constructed but is reachable from no module-level name (kept in
a class attribute, a dataclass, a closure...) is reported as "defined but not reachable" rather than
silently dropped.

A module that fails to import is reported once, at the line that failed (inside a shared helper module
when the helper is what failed), and the other modules are still discovered, so the user sees every
problem in one run. A module that only failed because it imports a broken module is not reported again;
it is counted in the broken module's issue.

Config modules are compiled with the values they build for others recorded where they are built (see
:class:`_RecordBuiltValues`), so that validation can blame an error in a shared value once, in the helper.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import difflib
import faulthandler
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import math
import multiprocessing
import os
import pickle
import posix
import re
import signal
import stat
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from multiprocessing.connection import Connection
from pathlib import Path
from types import CodeType, FrameType, ModuleType
from typing import Any

from pydantic import ValidationError

from feature_platform._filekind import file_kind
from feature_platform.authoring import _base
from feature_platform.authoring._base import ConfigObject, ConfigObjectError, SourceLocation
from feature_platform.authoring.expressions import Expr, StringFunctions, TimestampFunctions
from feature_platform.authoring.kinds import ConfigKind, kind_of
from feature_platform.compiler.issues import ValidationIssue, display_path
from feature_platform.errors import ConfigDefinitionError, FeaturePlatformError

DEFAULT_IMPORT_TIMEOUT = 20.0
"""Seconds one config module may take to import (override with FP_CONFIG_IMPORT_TIMEOUT)."""

MAX_IMPORT_TIMEOUT = 3600.0
"""At most an hour per module: a bound, not "forever" (and huge values overflow the OS wait calls)."""

_STARTUP_ALLOWANCE = 60.0
"""Seconds the child process may take to start, and to send its report once every module is imported."""

_STALL_GRACE = 10.0
"""Seconds past a module's import timeout before the parent gives up on a child that reports nothing (a C
call holding the interpreter stalls the child's own timer too)."""

_HINT = "fix this error; the objects defined in this module were not validated"


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
    complete: bool = True
    """False when the import process died or timed out: the objects are not the whole package."""
    broken_modules: dict[str, str] = field(default_factory=dict)
    """Modules that failed to import (module name -> file), for suppressing their follow-on errors."""


class ConfigPackageError(FeaturePlatformError):
    """The configs directory is not an importable package."""


def import_timeout_default() -> float:
    raw = os.environ.get("FP_CONFIG_IMPORT_TIMEOUT")
    if not raw:
        return DEFAULT_IMPORT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 < value <= MAX_IMPORT_TIMEOUT:
        default = f"{DEFAULT_IMPORT_TIMEOUT:g}"
        msg = (f"FP_CONFIG_IMPORT_TIMEOUT={raw!r} must be a positive number of seconds, at most "
               f"{MAX_IMPORT_TIMEOUT:g} (default {default})")
        raise FeaturePlatformError(msg)
    return value


def discover(configs_dir: Path, *, import_timeout: float | None = None) -> DiscoveryResult:
    """Import the package at ``configs_dir`` in a child process and collect its config objects."""
    package_dir = configs_dir.resolve()
    if not (package_dir / "__init__.py").is_file():
        msg = f"{configs_dir} is not a config package: it needs an __init__.py"
        raise ConfigPackageError(msg)
    timeout = import_timeout if import_timeout is not None else import_timeout_default()
    if not 0 < timeout <= MAX_IMPORT_TIMEOUT:  # also rejects nan
        msg = f"import timeout {timeout!r} must be a positive number of seconds, at most {MAX_IMPORT_TIMEOUT:g}"
        raise FeaturePlatformError(msg)
    result = DiscoveryResult()
    result.files = _package_files(package_dir)
    if shadowed := _shadowed_module(package_dir):
        result.complete = False
        result.issues.append(ValidationIssue(
            file=display_path(str(package_dir / "__init__.py")), line=1, kind="package", name=package_dir.name,
            message=f"the config package's name '{package_dir.name}' is also the name of {shadowed}; importing the "
            "configs under it would replace that module, so nothing was imported",
            hint="rename the config package's directory (e.g. feature_configs)",
        ))
        return result
    report = _run_child(package_dir, timeout, len(result.files))
    result.issues.extend(report.issues)
    result.complete = report.complete
    result.broken_modules = report.broken
    for obj, module in report.objects:
        result.objects.append(Discovered(obj=obj, kind=kind_of(obj), module=module))
    result.objects.sort(key=lambda d: (d.kind.key, d.obj.name, d.file, d.line))
    return result


def _shadowed_module(package_dir: Path) -> str:
    """What the package's name would shadow in the import process — a standard library module, the platform,
    or an installed package (a dependency) — or "". Another copy of a config package is not shadowed."""
    name = package_dir.name
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return "a Python standard library module"
    if name == __name__.split(".")[0]:
        return "the platform's own package"
    try:
        spec = importlib.util.find_spec(name) if name.isidentifier() else None
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin:
        return ""
    origin = Path(spec.origin).resolve()
    installed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    if package_dir not in origin.parents and any(origin.is_relative_to(root) for root in installed):
        return f"an installed package ({spec.origin})"
    return ""


def _package_files(package_dir: Path) -> list[Path]:
    """The package's ``*.py`` files. One that is not a regular file (a FIFO, a socket, a device, a dangling
    symlink, or a symlink to any of those) is refused before anything opens it: opening a FIFO blocks forever,
    before any import timeout starts."""
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    for path in files:
        try:
            mode = path.stat().st_mode  # follows a symlink: what an import would open
        except OSError as exc:
            msg = f"{path} cannot be read as a config module ({exc.strerror or exc})"
            raise ConfigPackageError(msg) from exc
        if stat.S_ISDIR(mode):
            continue  # a directory named *.py is no module: the import ignores it
        if not stat.S_ISREG(mode):
            msg = f"{path} is not a regular file ({file_kind(mode)}); a config module must be a plain .py file"
            raise ConfigPackageError(msg)
    return [p for p in files if not p.is_dir()]


# ---- the parent side ------------------------------------------------------------------------------

@dataclass
class _Report:
    objects: list[tuple[ConfigObject, str]] = field(default_factory=list)
    issues: list[ValidationIssue] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)
    complete: bool = True


def _context() -> Any:
    """``fork`` when this process has one thread (the CLI: cheap), else a fork server (Dagster, xdist)."""
    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["feature_platform.compiler.discovery"])
        return ctx
    return multiprocessing.get_context("spawn")


def _run_child(package_dir: Path, timeout: float, n_files: int) -> _Report:
    """Run the import child and wait for its report, module by module.

    The child reports each module it starts and a module that blocks (after ``timeout``); the wait here is
    per module too, so a module that stalls the whole child (a C call holding the interpreter) costs one
    timeout, not one per module of the package. A child that dies or stalls is blamed at the line it was
    on: the line that called ``os._exit()`` and the like (the child says so before the call), else the
    innermost config frame of the fatal-error dump it writes (a crash, or the abort sent when it stalls).
    """
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    handle, trace_path = tempfile.mkstemp(prefix="fp-config-import-", suffix=".trace")
    os.close(handle)
    process = ctx.Process(target=_child_main, args=(sender, str(package_dir), timeout, trace_path),
                          name="feature-platform-config-import")
    try:
        process.start()
        sender.close()
        report, failure, last_started, exit_site = _wait_for_report(receiver, process, timeout, n_files)
        if report is not None:
            return report
        site = exit_site or _crash_site(Path(trace_path), package_dir, last_started)
    finally:
        receiver.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        Path(trace_path).unlink(missing_ok=True)
    return _Report(issues=[_child_failure(package_dir, failure, last_started, site, process.exitcode, timeout)],
                   complete=False)


def _wait_for_report(
    receiver: Connection, process: Any, timeout: float, n_files: int
) -> tuple[_Report | None, str, str, tuple[str, int, str] | None]:
    """The child's report, or why there is none, the module it was importing and where it said it exits."""
    overall = time.monotonic() + timeout * max(n_files, 1) + 2 * _STARTUP_ALLOWANCE
    deadline = time.monotonic() + _STARTUP_ALLOWANCE
    last_started = ""
    exit_site: tuple[str, int, str] | None = None
    while True:
        remaining = min(deadline, overall) - time.monotonic()
        if remaining <= 0 or not receiver.poll(remaining):
            _abort(process)
            return None, "stalled", last_started, None
        try:
            message = receiver.recv_bytes()
        except (EOFError, OSError):
            return None, "ended", last_started, exit_site
        kind, body = message[:1], message[1:]
        if kind == b"S":  # a module started: it has ``timeout`` seconds, the child reports it if it blocks
            last_started = body.decode()
            deadline = time.monotonic() + timeout + _STALL_GRACE
        elif kind == b"P":  # imports done: collecting and sending the objects
            deadline = time.monotonic() + _STARTUP_ALLOWANCE
        elif kind == b"X":  # the config is calling a function that ends the process
            file, line, function = body.decode().split("\n", 2)
            exit_site = (file, int(line), function)
        elif kind == b"x":  # ... and that call returned
            exit_site = None
        else:
            return _restricted_loads(body), "", last_started, None


def _abort(process: Any) -> None:
    """Make a stalled child write its fatal-error dump (faulthandler handles SIGABRT), then end it."""
    if process.pid is not None and process.is_alive():
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGABRT)
        process.join(timeout=5)


_DUMP_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in ')


def _crash_site(trace: Path, package_dir: Path, last_started: str) -> tuple[str, int, str] | None:
    """The innermost config frame of the child's fatal-error dump: of the crashing thread, else of the thread
    importing ``last_started``, else of any thread."""
    try:
        text = trace.read_text(errors="replace")
    except OSError:
        return None
    threads: list[tuple[bool, list[tuple[str, int]]]] = []
    for line in text.splitlines():
        if line.startswith(("Thread 0x", "Current thread 0x")):
            threads.append((line.startswith("Current"), []))
        elif threads and (match := _DUMP_FRAME.match(line)):
            file = match[1]
            with contextlib.suppress(OSError, ValueError):
                if Path(file).resolve().is_relative_to(package_dir):
                    threads[-1][1].append((file, int(match[2])))
    started = str(_module_path(package_dir, last_started).resolve()) if last_started else ""
    ranked = sorted((t for t in threads if t[1]), key=lambda t: (
        not t[0], not any(str(Path(f).resolve()) == started for f, _ in t[1])))
    if not ranked:
        return None
    innermost = ranked[0][1][0]
    return innermost[0], innermost[1], ""


def _child_failure(package_dir: Path, failure: str, last_started: str, site: tuple[str, int, str] | None,
                   code: int | None, timeout: float) -> ValidationIssue:
    """One issue for an import child that died or stalled: at the line it was on when that is known, else
    naming the module without a line."""
    package = package_dir.name
    file = str(_module_path(package_dir, last_started) if last_started else package_dir / "__init__.py")
    line = 0
    module = last_started or package
    if site is not None:
        file, line = site[0], site[1]
        module = _module_name(package, package_dir, Path(file).resolve()) if file.endswith(".py") else module
    here = " here" if line else ""
    if site is not None and site[2]:
        what = f"ended the import process: it called {site[2]}() here (exit code {code})"
    elif failure == "ended":
        what = f"ended the import process{here} (exit code {code}: a crash or a signal)"
    else:
        what = (f"did not finish importing within {timeout:g} s (it stalls the whole import process{here}, "
                "holding the interpreter)")
    where = f"module {module}" if last_started or site is not None else "the config package"
    importer = f" (importing {last_started})" if last_started and module != last_started else ""
    return ValidationIssue(
        file=display_path(file), line=line, kind="module", name=module,
        message=f"{where} {what}{importer}; nothing was validated",
        hint="a config module must only define objects: it must not exit the process, block, or wait for "
             "input at import",
    )


def _module_path(package_dir: Path, module_name: str) -> Path:
    parts = module_name.split(".")[1:]
    candidate = package_dir.joinpath(*parts)
    if (candidate / "__init__.py").is_file():
        return candidate / "__init__.py"
    return candidate.with_suffix(".py")


_ALLOWED_MODULE_PREFIXES = ("feature_platform.", "pydantic.", "pydantic_core.", "pydantic_core")
_ALLOWED_GLOBALS = {
    ("builtins", "getattr"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "dict"),
    ("builtins", "list"), ("builtins", "tuple"), ("builtins", "object"), ("datetime", "timedelta"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timezone"), ("copyreg", "_reconstructor"),
    ("copyreg", "__newobj__"), ("collections", "OrderedDict"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Only the platform's classes (and a few standard ones) may come back from the child."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith(_ALLOWED_MODULE_PREFIXES) or (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        msg = f"{module}.{name}"
        raise _ForeignClassError(msg)


class _ForeignClassError(pickle.UnpicklingError):
    pass


def _restricted_loads(data: bytes) -> _Report:
    loaded = _RestrictedUnpickler(io.BytesIO(data)).load()
    assert isinstance(loaded, _Report)
    return loaded


# ---- the child side -------------------------------------------------------------------------------

def _child_main(conn: Connection, package_dir: str, timeout: float, trace_path: str = "") -> None:
    """Import the package, send progress and the report, and end the process without cleanup.

    What config code prints goes to stderr: stdout belongs to the command (``plan --format json``). A fatal
    error (a crash, or the abort the parent sends a stalled child) dumps every thread's stack to
    ``trace_path``, so the parent can name the config line the child was on."""
    try:
        sys.stdout.flush()
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        if trace_path:
            trace = open(trace_path, "w")  # noqa: SIM115  # open until the process ends: faulthandler writes it
            faulthandler.enable(file=trace, all_threads=True)
        report = _ChildImporter(Path(package_dir), timeout, conn).run()
        conn.send_bytes(b"D" + _pickle_report(report))
    except BaseException as exc:  # a bug of the platform, not of the configs: one line, the type and message
        issue = ValidationIssue(file=display_path(str(Path(package_dir) / "__init__.py")), line=0,
                                kind="module", name=Path(package_dir).name,
                                message=f"discovery failed: {type(exc).__name__}: {exc}",
                                hint="this is a bug of feature_platform, please report it with the config package")
        conn.send_bytes(b"D" + pickle.dumps(_Report(issues=[issue], complete=False)))
    finally:
        conn.close()
        sys.stdout.flush()
        sys.stderr.flush()
        _REAL_EXIT(0)  # do not wait for a thread still blocked in a config module


_REAL_EXIT = posix._exit

_PROCESS_ENDERS = (
    (os, "_exit"), (os, "abort"), (os, "kill"), (os, "killpg"), (os, "execv"), (os, "execve"),
    (signal, "raise_signal"), (signal, "pthread_kill"),
)
"""Built-in functions a config could end the import process with. In the child they are wrapped (in ``os``,
``posix`` and ``signal`` alike) to tell the parent the config line calling one, and that the call returned
when it does: a process that is gone cannot say where it was."""


def _pickle_report(report: _Report) -> bytes:
    """Pickle the report, moving objects the parent would refuse (foreign classes) into issues."""
    kept: list[tuple[ConfigObject, str]] = []
    for obj, module in report.objects:
        try:
            data = pickle.dumps(obj)
        except Exception as exc:  # e.g. a structure too deep to send: that object is reported, not the run
            report.issues.append(_object_issue(obj, f"cannot be sent to the validator: {type(exc).__name__}: {exc}"))
            continue
        try:
            _RestrictedUnpickler(io.BytesIO(data)).load()
        except _ForeignClassError as exc:
            report.issues.append(_object_issue(
                obj, f"is built from a class or value defined outside the platform ({exc}); config objects "
                "and their values must come from feature_platform.authoring and plain Python values"))
            continue
        kept.append((obj, module))
    report.objects = kept
    return pickle.dumps(report)


def _object_issue(obj: ConfigObject, message: str, hint: str = "") -> ValidationIssue:
    return ValidationIssue(file=display_path(obj.defined_at.file), line=obj.defined_at.line,
                           kind=obj.kind_label, name=obj.name, message=message, hint=hint)


class _BrokenModuleImportError(ImportError):
    """Raised by the finder for a config module that already failed: its importers are follow-ons."""

    def __init__(self, module: str) -> None:
        super().__init__(f"config module {module} is broken (reported once, where it fails)", name=module)
        self.module = module


class _BlockedCodeError(_BrokenModuleImportError):
    """Raised when config code calls a function that already blocked an import: it would block again, so the
    caller is a follow-on of that failure, not another timeout."""

    def __init__(self, module: str, key: tuple[str, int]) -> None:
        super().__init__(module)
        self.key = key


class _AbandonedModule(ModuleType):
    """Stands in ``sys.modules`` for a config module whose import was abandoned because it blocks.

    The blocked thread still holds that module's import lock, so importing it again would wait on the lock
    for another whole timeout (one per importer). With this in its place an import finds it at once and any
    use of it raises :class:`_BrokenModuleImportError`: its importers are follow-ons of the one failure.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name != "__path__":
            raise AttributeError(name)  # introspection (hasattr(m, "__file__")) sees a plain empty module
        raise _BrokenModuleImportError(self.__name__)


@dataclass
class _Failure:
    issue: ValidationIssue
    module: str
    importers: list[str] = field(default_factory=list)
    called_from: list[str] = field(default_factory=list)
    """Modules whose import failed when they *called* code of ``module`` (a helper that imported fine)."""


class _ChildImporter:
    def __init__(self, package_dir: Path, timeout: float, conn: Connection) -> None:
        self.package_dir = package_dir
        self.package = package_dir.name
        self.timeout = timeout
        self.conn = conn
        self.report = _Report()
        self.failures: dict[tuple[str, int], _Failure] = {}
        self.broken: dict[str, str] = {}  # module name -> file
        self.cause: dict[str, tuple[str, int]] = {}  # broken module -> the failure it is a follow-on of
        self.blocking: dict[int, tuple[CodeType, str, tuple[str, int]]] = {}  # id(code that blocked) -> failure
        self._config_files: dict[str, bool] = {}

    def run(self) -> _Report:
        from feature_platform.plugins import registry

        registry.plugin_names()  # the platform's plugins, loaded before any config code runs
        platform_plugins = dict(registry._REGISTRY)
        files = _package_files(self.package_dir)
        _forget_package(self.package)
        finder = _ConfigPackageFinder(self.package, self.broken)
        sys.meta_path.insert(0, finder)
        sys.path.insert(0, str(self.package_dir.parent))
        log: list[ConfigObject] = []
        _base.construction_log = log
        _base.value_sites = {}
        self._watch_process_enders()
        seen: dict[int, ConfigObject] = {}
        discarded: set[int] = set()
        modules: list[tuple[str, ModuleType]] = []
        for path in files:
            name = _module_name(self.package, self.package_dir, path)
            if name in self.broken:
                continue
            if any("." in part for part in path.relative_to(self.package_dir).with_suffix("").parts):
                self.broken[name] = str(path)
                self.report.issues.append(ValidationIssue(
                    file=display_path(str(path)), line=1, kind="module", name=name,
                    message=f"'{path.name}' cannot be imported: a dot in a module's file name reads as a package "
                    "separator, so its config objects would never be discovered",
                    hint=f"rename it to {path.stem.replace('.', '_')}.py"))
                continue
            self.conn.send_bytes(b"S" + name.encode())
            before = len(log)
            module, exc, frame, abandoned = self._import(name)
            if module is not None:
                modules.append((name, module))
                continue
            discarded.update(id(o) for o in log[before:])
            self._record_failure(name, path, exc, frame, abandoned)
        _base.construction_log = None
        _base.value_sites = None
        self.conn.send_bytes(b"P")
        for name, module in modules:
            for obj in _config_objects(vars(module)):
                if id(obj) not in seen:
                    seen[id(obj)] = obj
                    self.report.objects.append((obj, name))
        for obj in log:
            if id(obj) in seen or id(obj) in discarded or not self._in_package(obj.defined_at.file):
                continue
            seen[id(obj)] = obj
            if rebound := _rebound_name(obj):
                name, line = rebound
                self.report.issues.append(_object_issue(
                    obj, f"is lost: it is assigned to '{name}', and line {line} assigns that name again, so "
                    "discovery never sees this one", hint="give each config object its own name"))
                continue
            self.report.issues.append(_object_issue(
                obj, "is defined but not reachable: discovery only finds config objects held by module-level "
                "names, or in (nested) lists, tuples, sets and dicts held by them",
                hint="assign it to a module-level name or put it in a module-level list/dict",
            ))
        self._report_config_plugins(platform_plugins)
        for failure in self.failures.values():
            issue = failure.issue
            hint = issue.hint
            called = sorted(set(failure.called_from))
            importers = sorted(set(failure.importers) - set(called))
            if called:
                hint = (f"fix this error; it is raised when {', '.join(called)} call(s) this code, so the objects "
                        f"defined there were not validated")
            if importers:
                hint = f"{hint}; module(s) importing it were not validated either: {', '.join(importers)}"
            if hint != issue.hint:
                issue = ValidationIssue(file=issue.file, line=issue.line, kind=issue.kind, name=issue.name,
                                        message=issue.message, hint=hint)
            self.report.issues.append(issue)
        self.report.broken = dict(self.broken)
        return self.report

    def _in_package(self, file: str) -> bool:
        try:
            return Path(file).resolve().is_relative_to(self.package_dir)
        except OSError:
            return False

    def _import(self, name: str) -> tuple[ModuleType | None, BaseException | None, FrameType | None, list[str]]:
        """Import one module in a thread, so a module that blocks can be reported and abandoned.

        When it blocks, the config modules it left half-imported are replaced by :class:`_AbandonedModule`
        (returned by name), so that no later import waits on the locks the blocked thread holds."""
        outcome: dict[str, Any] = {}

        trace = self._tracer() if self.blocking else None

        def target() -> None:
            sys.settrace(trace)
            try:
                outcome["module"] = importlib.import_module(name)
            except BaseException as exc:
                outcome["exc"] = exc
            finally:
                sys.settrace(None)

        thread = threading.Thread(target=target, name=f"import {name}", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            frame = sys._current_frames().get(thread.ident or -1)
            held = _modules_being_imported(frame)
            abandoned = sorted({m for m, mod in list(sys.modules.items())
                                if getattr(getattr(mod, "__spec__", None), "_initializing", False)} | held)
            abandoned = [m for m in abandoned if m == self.package or m.startswith(self.package + ".")]
            for other in abandoned:
                stand_in = sys.modules[other] = _AbandonedModule(other)
                parent, _, child = other.rpartition(".")
                with contextlib.suppress(Exception):  # so that ``parent.child.X`` fails as a follow-on too
                    if parent in sys.modules and not isinstance(sys.modules[parent], _AbandonedModule):
                        setattr(sys.modules[parent], child, stand_in)
            return None, None, frame, abandoned
        return outcome.get("module"), outcome.get("exc"), None, []

    def _tracer(self) -> Any:
        """Once a function has blocked an import, a trace function (``sys.settrace``, in later import threads
        only: it costs a call per call) makes any later call of it raise at once: its callers are follow-ons
        of the one failure, not one more timeout each."""
        blocking = self.blocking

        def trace(frame: FrameType, event: str, arg: Any) -> None:
            if id(frame.f_code) in blocking:
                _, module, key = blocking[id(frame.f_code)]
                raise _BlockedCodeError(module, key)

        return trace

    def _watch_process_enders(self) -> None:
        """Wrap the built-ins that end the process so the parent learns the config line calling one."""
        conn, is_config = self.conn, self._is_config_file
        for module, attribute in _PROCESS_ENDERS:
            real = getattr(module, attribute, None)
            if real is None:
                continue

            def wrapper(*args: Any, _real: Any = real, _name: str = f"{module.__name__}.{attribute}") -> Any:
                frame: FrameType | None = sys._getframe(1)
                while frame is not None and not is_config(frame.f_code.co_filename):
                    frame = frame.f_back
                if frame is not None:
                    conn.send_bytes(f"X{frame.f_code.co_filename}\n{frame.f_lineno}\n{_name}".encode())
                try:
                    return _real(*args)
                finally:
                    if frame is not None:
                        conn.send_bytes(b"x")

            for holder in {module, posix} if module is os else {module}:
                if getattr(holder, attribute, None) is real:
                    setattr(holder, attribute, wrapper)

    def _is_config_file(self, file: str) -> bool:
        known = self._config_files.get(file)
        if known is None:
            known = self._config_files[file] = not file.startswith("<") and self._in_package(file)
        return known

    def _record_failure(self, name: str, path: Path, exc: BaseException | None, frame: FrameType | None,
                        abandoned: Sequence[str] = ()) -> None:
        if exc is None:  # blocked
            self._record_block(name, path, frame, abandoned)
            return
        if isinstance(exc, _BrokenModuleImportError) or isinstance(exc.__cause__ or exc.__context__,
                                                                   _BrokenModuleImportError):
            broken = exc if isinstance(exc, _BrokenModuleImportError) else exc.__cause__ or exc.__context__
            assert isinstance(broken, _BrokenModuleImportError)
            self.broken[name] = str(path)
            if isinstance(broken, _BlockedCodeError):  # it called the function that blocked
                self.failures[broken.key].called_from.append(name)
                self.cause[name] = broken.key
                return
            key = self.cause.get(broken.module)
            if key is not None:  # counted in the failure it follows from, however deep the import chain
                self.failures[key].importers.append(name)
                self.cause[name] = key
            return
        issue = _import_issue(path, name, exc, self.package_dir)
        culprit = self._module_of(str(Path(issue.file).resolve())) or name
        self.broken[name] = str(path)
        helper = False
        if culprit != name and self._file_of(culprit) == Path(issue.file).resolve():
            # the error is in a module this one imports, or in a helper (or a value a helper built) it uses:
            # blame that module once
            loaded = sys.modules.get(culprit)
            helper = loaded is not None and not getattr(getattr(loaded, "__spec__", None), "_initializing", False)
            if not helper:
                self.broken[culprit] = str(self._file_of(culprit))
            if issue.kind == "module":
                issue = ValidationIssue(file=issue.file, line=issue.line, kind="module", name=culprit,
                                        message=issue.message.replace(f"module {name} ", f"module {culprit} ", 1),
                                        hint=issue.hint)
        self._add_failure(issue, culprit, name, called=helper)

    def _record_block(self, name: str, path: Path, frame: FrameType | None, abandoned: Sequence[str]) -> None:
        """One issue for a module whose import blocks, at the config line it blocks on.

        The modules it left half-imported are follow-ons (counted); when it blocks in a function of a module
        that imported fine, later callers of that function are follow-ons too (see :meth:`_trace`)."""
        file, line, code = str(path), 0, None
        while frame is not None:
            if self._in_package(frame.f_code.co_filename):
                file, line, code = frame.f_code.co_filename, frame.f_lineno, frame.f_code
                break
            frame = frame.f_back
        culprit = self._module_of(file) or name
        in_function = code is not None and code.co_name != "<module>" and culprit not in abandoned
        if in_function:
            assert code is not None
            message = (f"module {name} did not finish importing within {self.timeout:g} s: it blocks here, in "
                       f"{code.co_name}() of module {culprit}, which it calls at import")
        else:
            message = f"module {culprit} did not finish importing within {self.timeout:g} s (it blocks here)"
        issue = ValidationIssue(
            file=display_path(file), line=line, kind="module", name=culprit, message=message,
            hint="a config module must only define objects: no waiting on the network, input, locks or "
                 "loops at import",
        )
        self.broken[name] = str(path)
        if not in_function:
            self.broken[culprit] = file
        self._add_failure(issue, culprit, name, called=in_function)
        key = (issue.file, issue.line)
        if in_function and code is not None:
            self.blocking[id(code)] = (code, culprit, key)
        for other in abandoned:
            self.broken[other] = str(self._file_of(other))
            if other not in (culprit, name):
                self._add_failure(issue, culprit, other)

    def _add_failure(self, issue: ValidationIssue, culprit: str, importer: str, *, called: bool = False) -> None:
        """Record a failure once per line that raised: a shared helper that raises for every caller (``and``
        on expressions, a bad argument) is one error, whatever its callers passed it."""
        key = (issue.file, issue.line)
        failure = self.failures.get(key)
        if failure is None:
            failure = self.failures[key] = _Failure(issue=issue, module=culprit)
        if importer not in (culprit, failure.module) or called:
            (failure.called_from if called else failure.importers).append(importer)
        if not called:
            self.cause[culprit] = key
        self.cause[importer] = key

    def _module_of(self, file: str) -> str | None:
        path = Path(file).resolve()
        if not path.is_relative_to(self.package_dir) or path.suffix != ".py":
            return None
        return _module_name(self.package, self.package_dir, path)

    def _file_of(self, module: str) -> Path:
        return _module_path(self.package_dir, module).resolve()

    def _report_config_plugins(self, platform_plugins: dict[str, Any]) -> None:
        from feature_platform.plugins import registry

        for name, plugin in sorted(registry._REGISTRY.items()):
            if platform_plugins.get(name) is plugin:
                continue
            import inspect

            try:
                file = inspect.getsourcefile(type(plugin)) or "<unknown>"
                line = inspect.getsourcelines(type(plugin))[1]
            except (OSError, TypeError):
                file, line = "<unknown>", 0
            self.report.issues.append(ValidationIssue(
                file=display_path(file), line=line, kind="plugin", name=name,
                message=f"executor plugin '{name}' is registered by a config module; plugins come only from the "
                "platform's code, so no runtime would have it (it is ignored)",
                hint="add the plugin to feature_platform.plugins (or a package exposing a "
                     "'feature_platform.plugins' entry point) and reference it from config by name",
            ))


def _modules_being_imported(frame: FrameType | None) -> set[str]:
    """The modules a (blocked) thread is importing: it holds their import locks, including those of modules
    not in ``sys.modules`` yet (``from pkg.sub.a import X`` holds pkg.sub.a's lock while pkg.sub runs)."""
    names: set[str] = set()
    while frame is not None:
        if frame.f_code.co_name == "_find_and_load" and frame.f_code.co_filename.startswith("<frozen importlib"):
            name = frame.f_locals.get("name")
            if isinstance(name, str):
                names.add(name)
        frame = frame.f_back
    return names


def _rebound_name(obj: ConfigObject) -> tuple[str, int] | None:
    """When ``obj`` was assigned to a module-level name that a later statement of the same module assigns
    again (``recent = SequenceFeature(...)`` twice): that name and the later line."""
    site = obj.defined_at
    try:
        tree = ast.parse(Path(site.file).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and statement.lineno <= site.line <= (statement.end_lineno or 0):
            names = [t.id for t in statement.targets if isinstance(t, ast.Name)]
            after = statement.end_lineno or statement.lineno
            for later in tree.body:
                if later.lineno > after and isinstance(later, ast.Assign | ast.AnnAssign) and any(
                        isinstance(t, ast.Name) and t.id in names
                        for t in (later.targets if isinstance(later, ast.Assign) else [later.target])):
                    target = next(t.id for t in (later.targets if isinstance(later, ast.Assign) else [later.target])
                                  if isinstance(t, ast.Name) and t.id in names)
                    return target, later.lineno
    return None


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

    The module is compiled with :class:`_RecordBuiltValues` applied, so that the values it builds for others
    to use are recorded with the place they are built (see ``_base.value_sites``).
    """

    def get_code(self, fullname: str) -> CodeType:
        source = self.get_data(self.path)
        tree = ast.parse(source, filename=self.path)  # a SyntaxError is the one compile() would raise
        tree = ast.fix_missing_locations(_RecordBuiltValues().visit(tree))
        return compile(tree, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__[_BUILT] = _value_recorder(self.path)
        super().exec_module(module)


_BUILT = "__feature_platform_built__"

_CONSTRUCTIONS = (ast.Dict, ast.List, ast.Tuple, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.Call,
                  ast.BinOp, ast.Compare, ast.UnaryOp)
"""Expressions that build a new value (a name, an attribute or an item only refers to one built elsewhere)."""


class _RecordBuiltValues(ast.NodeTransformer):
    """Wrap what config code builds for others to use — the value of an assignment to a name, the value a
    function returns — in a call recording where it is built: ``params = {"max_chars": True}`` becomes
    ``params = __feature_platform_built__({"max_chars": True}, <its span>)``. Nothing moves: every line and
    column stays where it was written, so tracebacks and definition sites are unchanged. Only expressions
    that build a value are wrapped (``return params`` is not: ``params`` was recorded where it was built).
    """

    def visit_Assign(self, node: ast.Assign) -> ast.Assign:
        self.generic_visit(node)
        if all(isinstance(target, ast.Name) for target in node.targets):
            node.value = self._wrap(node.value)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AnnAssign:
        self.generic_visit(node)
        if isinstance(node.target, ast.Name) and node.value is not None:
            node.value = self._wrap(node.value)
        return node

    def visit_Return(self, node: ast.Return) -> ast.Return:
        self.generic_visit(node)
        if node.value is not None:
            node.value = self._wrap(node.value)
        return node

    @staticmethod
    def _wrap(value: ast.expr) -> ast.expr:
        if not isinstance(value, _CONSTRUCTIONS):
            return value
        span = (value.lineno, value.end_lineno or value.lineno, value.col_offset, value.end_col_offset or 0)
        call = ast.Call(func=ast.Name(id=_BUILT, ctx=ast.Load()),
                        args=[value, ast.Constant(value=span)], keywords=[])  # type: ignore[arg-type]
        return ast.copy_location(call, value)


def _value_recorder(file: str) -> Any:
    """The function :class:`_RecordBuiltValues` calls in the module of ``file``."""

    def built(value: Any, span: tuple[int, int, int, int]) -> Any:
        if _base.value_sites is not None and isinstance(value, _base._SHARED_VALUE_TYPES) and \
                id(value) not in _base.value_sites:
            _base.record_value(value, SourceLocation(file=file, line=span[0], call=span))
        return value

    return built


class _ConfigPackageFinder(importlib.abc.MetaPathFinder):
    """Find the config package's modules as usual, but load them with :class:`_SourceOnlyLoader`.

    A module that already failed is not imported again: importing it raises
    :class:`_BrokenModuleImportError`, so its importers are recognised as follow-ons.
    """

    def __init__(self, package: str, broken: dict[str, str] | None = None) -> None:
        self.package = package
        self.broken = broken if broken is not None else {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        if fullname in self.broken:
            raise _BrokenModuleImportError(fullname)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.origin and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _SourceOnlyLoader(fullname, spec.origin)
        return spec


def _config_objects(namespace: dict[str, object]) -> Iterator[ConfigObject]:
    for name, value in sorted(namespace.items()):
        if name.startswith("__") or isinstance(value, ModuleType):
            continue
        yield from _walk(value, depth=0)


def _walk(value: object, depth: int) -> Iterator[ConfigObject]:
    """Config objects in ``value``: itself, or inside (nested) lists, tuples, sets and dict values."""
    if isinstance(value, ConfigObject):
        yield value
    elif depth < 8 and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk(item, depth + 1)
    elif depth < 8 and isinstance(value, dict):
        for item in value.values():
            yield from _walk(item, depth + 1)


def _import_issue(path: Path, module_name: str, exc: BaseException, package_dir: Path) -> ValidationIssue:
    """One issue for a failed import: the innermost frame inside the config package, and the error.

    When a config object's constructor refused its arguments, the issue names that object and its line.
    """
    if isinstance(exc, ConfigObjectError):
        return ValidationIssue(file=display_path(exc.site.file), line=exc.site.line, kind=exc.kind,
                               name=exc.name, message=exc.problem, hint=_HINT)
    file, line = str(path), 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and Path(frame.filename).resolve().is_relative_to(package_dir):
            file, line = frame.filename, frame.lineno or 0
    if isinstance(exc, SyntaxError) and exc.filename:
        file, line = exc.filename, exc.lineno or 0
    site = getattr(exc, "site", None)  # a value model (Freshness, Column...) that refused an argument
    if isinstance(exc, ConfigDefinitionError) and isinstance(site, SourceLocation) and site.file == file:
        line = site.line
    if isinstance(exc, SystemExit):
        message = (f"module {module_name} called sys.exit({exc.code!r}) while being imported; a config module "
                   "must only define objects, never exit")
    elif isinstance(exc, ConfigDefinitionError):
        message = str(exc)
    elif isinstance(exc, ValidationError):  # a pydantic model the config validated itself: no dump, no URL
        problems = "; ".join(
            (f"{_base.loc_path(e['loc'])}: " if e["loc"] else "") + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors(include_url=False))
        title = f"{exc.title}(...): "
        message = f"module {module_name} failed to import: {title}{problems.removeprefix(title)}"
    elif not isinstance(exc, Exception):
        message = f"module {module_name} raised {type(exc).__name__} while being imported: {exc}"
    else:
        message = f"module {module_name} failed to import: {_name_error_text(exc)}"
    return ValidationIssue(
        file=display_path(file), line=line, kind="module", name=module_name, message=message, hint=_HINT,
    )


_CANNOT_IMPORT = re.compile(r"cannot import name '([^']+)' from '([^']+)'")


def _name_error_text(exc: BaseException) -> str:
    """``Type: message`` of an import failure, with "did you mean" for a misspelt name: an enum member
    (``Lifecycle.PRODUCTON``), an attribute, a name, or a name imported from a module."""
    text = f"{type(exc).__name__}: {exc}"
    try:
        if isinstance(exc, AttributeError) and exc.name and exc.obj is not None:
            obj = exc.obj
            if isinstance(obj, type) and issubclass(obj, Enum):
                members = list(obj.__members__)
                return (f"{obj.__name__} has no member '{exc.name}'{_did_you_mean(exc.name, members)} "
                        f"(members: {', '.join(members)})")
            if isinstance(obj, Expr) and (accessor := _accessor_method(exc.name)):
                return f"{text}; did you mean {accessor}?"
            return text + _did_you_mean(exc.name, [a for a in dir(obj) if not a.startswith("_")])
        if isinstance(exc, NameError) and not isinstance(exc, UnboundLocalError) and exc.name:
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            scope = {**vars(builtins), **tb.tb_frame.f_globals, **tb.tb_frame.f_locals} if tb else {}
            return text + _did_you_mean(exc.name, [n for n in scope if not n.startswith("__")])
        if isinstance(exc, TypeError) and str(exc).startswith("unhashable type: "):
            return (f"{text}: a set {{a, b}} (or a dict key) holds only hashable values, and config objects and "
                    "expressions are not; write a tuple (a, b) instead")
        if isinstance(exc, ImportError) and (match := _CANNOT_IMPORT.search(str(exc))):
            module = sys.modules.get(match[2])
            names = list(getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")])
            return text + _did_you_mean(match[1], names)
    except Exception:  # a suggestion is a nicety: never let it hide the error itself
        return text
    return text


def _accessor_method(name: str) -> str:
    """``.str.starts_with()`` for ``startswith`` (an expression's string and timestamp functions live under
    ``.str`` and ``.dt``), or ""."""
    methods = {f".{prefix}.{m}()": m for prefix, holder in (("str", StringFunctions), ("dt", TimestampFunctions))
               for m in dir(holder) if not m.startswith("_")}
    squashed = {m.replace("_", "").lower(): written for written, m in methods.items()}
    close = difflib.get_close_matches(name.replace("_", "").lower(), list(squashed), n=1, cutoff=0.8)
    return squashed[close[0]] if close else ""


def _did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """"; did you mean 'X'?" for a near miss (case-insensitive first), else ""."""
    by_lower = {c.lower(): c for c in candidates}
    if name.lower() in by_lower and by_lower[name.lower()] != name:
        return f"; did you mean '{by_lower[name.lower()]}'?"
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.7)
    return f"; did you mean '{by_lower[close[0]]}'?" if close else ""
