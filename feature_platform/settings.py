"""Platform settings from environment variables, with embedded defaults that need no server.

Every runtime and the CLI read these; nothing here does I/O when constructed.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, PrivateAttr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """An ``FP_*`` environment variable holds a value the platform cannot use; the message names it.

    One line, not pydantic's validation dump; the CLI prints it like a
    :class:`~feature_platform.errors.FeaturePlatformError` (this bottom layer does not import the error
    hierarchy)."""


class _FieldProblem(ValueError):
    """What a field validator raises: pydantic collects it per field, and :class:`PlatformSettings` turns it
    into a :class:`SettingsError` whose message is this one (already naming the variable)."""


def endpoint_url_problem(url: str) -> str:
    """Why ``url`` is not a usable S3 endpoint (the way botocore and the polars/object_store scanners
    parse it), or "" when it is. Checked when the settings are read, so a typo is one line naming the
    variable instead of a botocore traceback at the first S3 call."""
    if not url or url != url.strip() or any(c.isspace() for c in url):
        return "must not be empty or contain spaces"
    if "://" not in url:
        return f"needs a scheme: http://{url} or https://{url}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"cannot be parsed as a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"must start with http:// or https://, not {parts.scheme}://"
    if not parts.hostname:
        return "has no host name"
    if port == 0:
        return "names port 0; use a port between 1 and 65535"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "must not hold credentials, a query or a fragment (credentials come from the AWS chain)"
    try:
        from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url
    except ImportError:  # pragma: no cover - botocore is a dependency
        return ""
    if not (is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url)):
        return "is not a valid endpoint URL (botocore refuses its host name)"
    return ""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def control_character_problem(text: str) -> str:
    """Why ``text`` cannot be written as one field of one line (an audit log's actor, a table cell), or "":
    it holds a control character (a newline, a carriage return, an escape sequence...)."""
    found = _CONTROL.search(text)
    return f"must not contain control characters (it holds {found.group()!r})" if found else ""


def escape_control_characters(text: str) -> str:
    """``text`` with every control character written as its escape (``\\n``, ``\\x1b``): what a one-line
    listing prints of a value it did not check itself (an old audit entry's actor), so the value cannot
    forge lines or recolour the terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def field_problems(exc: ValidationError) -> dict[str, str]:
    """Field name -> one line naming its ``FP_*`` variable, its value and why pydantic refused it (pydantic's
    own dump is a multi-line table with a URL)."""
    problems: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        if isinstance(raised := error.get("ctx", {}).get("error"), _FieldProblem):
            line = str(raised)
        else:
            value = error.get("input")
            shown = f"={redact_credentials(str(value))!r}" if isinstance(value, str | int | float) else ""
            reason = error["msg"]
            line = f"FP_{field.upper()}{shown}: {reason[:1].lower()}{reason[1:]}"
        problems[field] = f"{problems[field]}; {line}" if field in problems else line
    return problems


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")


_URL_TOKEN = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s'\"<>]+)")


def redact_credentials(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (``user:password@`` ->
    ``user:***@``): the one helper every message that can show a Redis, S3 or store URL goes through
    (the settings' errors, the online store's and the event log's ``describe()``, and the CLI's error
    line, whatever raised it). A password may hold ``@`` or ``/`` a user forgot to percent-encode, so the
    user info runs to the *last* ``@`` of the URL."""

    def one(match: re.Match[str]) -> str:
        rest = match.group("rest")
        userinfo, at, host = rest.rpartition("@")
        if not at or ":" not in userinfo:
            return match.group(0)  # no user info, or a user name without a password: nothing secret
        user = userinfo.partition(":")[0]
        return f"{match.group('scheme')}{user}:***@{host}"

    return _URL_TOKEN.sub(one, text) if "://" in text else text


def redacted_url(url: str) -> str:
    """``url`` with a password replaced by ``***``, for messages (:func:`redact_credentials`)."""
    return redact_credentials(url)


_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3")


def s3_bucket_problem(bucket: str) -> str:
    """Why ``bucket`` breaks the S3 bucket naming rules, or "" when it keeps them: 3 to 63 characters of
    lower-case letters, digits, dots and hyphens, beginning and ending with a letter or digit, no two
    adjacent dots, not an IP address, none of the reserved prefixes and suffixes. Checked when the settings
    are read, so a typo is one line naming the variable instead of botocore's multi-line regex dump at the
    first S3 call."""
    if not _S3_BUCKET.fullmatch(bucket):
        return (
            f"names the bucket {bucket!r}, which breaks the S3 naming rules (3 to 63 lower-case letters, "
            "digits, dots and hyphens, beginning and ending with a letter or digit)"
        )
    if ".." in bucket:
        return f"names the bucket {bucket!r}, which breaks the S3 naming rules (two adjacent dots)"
    try:
        ipaddress.IPv4Address(bucket)
    except ValueError:
        pass
    else:
        return f"names the bucket {bucket!r}, which breaks the S3 naming rules (an IP address)"
    for reserved in _S3_RESERVED_PREFIXES:
        if bucket.startswith(reserved):
            return f"names the bucket {bucket!r}, which breaks the S3 naming rules (the reserved prefix {reserved!r})"
    for reserved in _S3_RESERVED_SUFFIXES:
        if bucket.endswith(reserved):
            return f"names the bucket {bucket!r}, which breaks the S3 naming rules (the reserved suffix {reserved!r})"
    return ""


def s3_url_problem(url: str) -> str:
    """Why ``url`` is not a usable ``s3://BUCKET[/PREFIX]`` URL, or "" when it is (or is no S3 URL at all:
    the storage layer parses the rest). Credentials never go in the URL: they come from the AWS chain."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "s3":
        return ""
    if any(c.isspace() for c in url):
        return "must not contain spaces"
    userinfo, at, _ = rest.rpartition("@")
    if at and (":" in userinfo or "/" not in userinfo):  # an "@" in a key prefix is no user info
        return "must not hold credentials (they come from the AWS chain: environment, profile or role)"
    netloc = rest.partition("/")[0]
    if not netloc:
        return "names no bucket; use s3://BUCKET/PREFIX"
    return s3_bucket_problem(netloc)


def store_url_problem(url: str) -> str:
    """Why ``url`` (``FP_ONLINE_STORE``, ``FP_EVENT_LOG``) is not usable, or "" when it is: a Redis URL
    (``redis://HOST[:PORT][/DB]``, ``rediss://…``, ``unix://PATH[?db=DB]``) must have a valid host, a port
    from 1 to 65535 and a non-negative integer DB; anything else is a SQLite file (a path, ``sqlite:///PATH``).
    Checked when the settings are read: redis-py raises a traceback for a bad port and silently uses DB 0
    for a DB that is not a number."""
    if not url:
        return ""  # empty: the embedded default, as before
    if url != url.strip():
        return "must not start or end with spaces"
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if not url.startswith(REDIS_SCHEMES):
        if scheme in ("redis", "rediss", "unix"):
            return f"must start with {scheme}:// in lower case"
        if scheme and scheme != "sqlite":
            return "must be redis://HOST:PORT/DB, rediss://…, unix://PATH or a SQLite file (a path or sqlite:///PATH)"
        return ""
    if any(c.isspace() for c in url):
        return "must not contain spaces"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"cannot be parsed as a URL ({exc}); the port must be a number from 1 to 65535"
    if parts.fragment:
        return "must not hold a fragment (#…)"
    query = parse_qs(parts.query)
    db_texts = list(query.get("db", []))
    if parts.scheme == "unix":
        if not parts.path:
            return "names no socket path: unix:///path/to/redis.sock[?db=N]"
    else:
        host = parts.hostname
        if not host:
            return "has no host name: redis://HOST:PORT/DB"
        if ":" in host:
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                return f"has an invalid host {host!r}"
        elif not _HOST_NAME.fullmatch(host):
            return f"has an invalid host {host!r}"
        if port == 0:
            return "names port 0; use a port between 1 and 65535"
        path = unquote(parts.path)
        if path not in ("", "/") and not db_texts:
            db_texts.append(path.removeprefix("/"))
    for db in db_texts:
        if not (db.isascii() and db.isdigit()):
            return f"names DB {db!r}; the DB must be a non-negative integer (redis://HOST:PORT/0)"
    try:
        from redis.connection import parse_url
    except ImportError:  # pragma: no cover - redis is a dependency
        return ""
    try:
        arguments = parse_url(url)  # its query arguments (socket_timeout=…) are checked here
    except ValueError as exc:
        return str(exc)
    known = _redis_url_arguments(arguments.get("connection_class"))
    unknown = sorted(set(arguments) - known)
    if unknown:
        # redis-py passes an unknown query argument on to the connection's constructor: a TypeError at the
        # first command, as a traceback (`?sockettimeout=5`).
        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        return (f"has an unknown query parameter {unknown[0]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                + ": use the connection options of redis-py, e.g. ?socket_timeout=5")
    return ""


@functools.cache
def _redis_url_arguments(connection_class: Any) -> frozenset[str]:
    """The keyword arguments a redis-py URL may carry: those of its connection class (and the classes it passes
    the rest to) and of the connection pool."""
    import inspect

    from redis.connection import Connection, ConnectionPool

    names = {"connection_class", "host", "port", "path", "db", "username", "password"}
    for cls in (*(connection_class or Connection).__mro__, ConnectionPool):
        init = cls.__dict__.get("__init__")
        if init is not None:
            names |= {p.name for p in inspect.signature(init).parameters.values()
                      if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"}
    return frozenset(names)


DEFERRABLE = frozenset(
    {"serve_auth", "serve_api_keys_file", "serve_api_keys", "serve_max_in_flight", "serve_reload_seconds", "actor"}
)
"""The settings only some commands read (the serving API's; the audit log's actor, which publish, rollback and
repair check themselves): with ``defer_errors``, a bad one fails only a command that reads it."""


class PlatformSettings(BaseSettings):
    """Where things live. Unset variables fall back to a local project data directory."""

    model_config = SettingsConfigDict(env_prefix="FP_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        default=Path("fp_data"),
        description="Project data directory (FP_DATA_DIR); the embedded defaults live under it.",
    )
    artefact_store: str | None = Field(
        default=None,
        description="Artefact store URL (FP_ARTEFACT_STORE): a local path, file://PATH or s3://BUCKET/PREFIX. "
        "Default: <data_dir>/artefacts.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint (FP_S3_ENDPOINT_URL), for S3-compatible servers."
    )
    s3_region: str | None = Field(default=None, description="S3 region name (FP_S3_REGION).")
    env: str = Field(default="dev", description="Default environment name for publish/plan (FP_ENV).")
    configs_dir: Path = Field(default=Path("feature_configs"), description="Config package (FP_CONFIGS_DIR).")
    raw_data_root: str | None = Field(
        default=None,
        description="Root that relative source paths resolve against (FP_RAW_DATA_ROOT). Default: <data_dir>/raw.",
    )
    tables_root: str | None = Field(
        default=None,
        description="Root of indexed tables (FP_TABLES_ROOT). Default: <data_dir>/tables.",
    )
    actor: str | None = Field(default=None, description="Who publishes, for the audit log (FP_ACTOR).")
    online_store: str | None = Field(
        default=None,
        description="Online store (FP_ONLINE_STORE): redis://HOST:PORT/DB or a SQLite file path. "
        "Default: <data_dir>/online.sqlite.",
    )
    online_prefix: str = Field(default="fp", description="Key prefix in a Redis online store (FP_ONLINE_PREFIX).")
    event_log: str | None = Field(
        default=None,
        description="Event log of the streaming indexer (FP_EVENT_LOG): redis://HOST:PORT/DB (Redis Streams) or "
        "a SQLite file path. Default: <data_dir>/event_log.sqlite.",
    )
    event_log_prefix: str = Field(default="fp", description="Key prefix of a Redis event log (FP_EVENT_LOG_PREFIX).")
    serve_auth: bool = Field(
        default=True, description="Require API keys on /v1 (FP_SERVE_AUTH=false turns auth off, for local demos)."
    )
    serve_api_keys_file: Path | None = Field(
        default=None, description="JSON file of hashed API keys and their grants (FP_SERVE_API_KEYS_FILE)."
    )
    serve_api_keys: str | None = Field(
        default=None, description="The same JSON inline (FP_SERVE_API_KEYS); both sources are merged."
    )
    serve_max_in_flight: int = Field(
        default=256, ge=1, description="Requests served at once; more are shed with 503 (FP_SERVE_MAX_IN_FLIGHT)."
    )
    serve_reload_seconds: float = Field(
        default=2.0,
        gt=0,
        allow_inf_nan=False,
        description="How often the server checks the environment's pointers (FP_SERVE_RELOAD_SECONDS).",
    )

    _invalid: dict[str, str] = PrivateAttr(default_factory=dict)
    """With ``defer_errors``: field name (of :data:`DEFERRABLE`) -> the error reading that field raises."""

    def __init__(self, *, defer_errors: bool = False, **values: Any) -> None:
        """Read the settings; a value the platform refuses (``FP_SERVE_MAX_IN_FLIGHT=0``, ``FP_SERVE_AUTH=maybe``,
        a bad URL) is a :class:`SettingsError` naming the variable, one line.

        ``defer_errors=True`` (the CLI): the error of a setting only some commands read (:data:`DEFERRABLE`)
        is raised when the field is *read*, not here, so a command that does not use it does not fail on it
        (``validate`` with a bad ``FP_SERVE_AUTH``). The others (where data and stores live) fail every
        command, at once."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = field_problems(exc)
            if not defer_errors or not problems.keys() <= DEFERRABLE:
                raise SettingsError("; ".join(problems.values())) from None
            defaults = {name: type(self).model_fields[name].get_default(call_default_factory=True) for name in problems}
            super().__init__(**{**values, **defaults})  # init values win over the environment
            self._invalid = problems

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; a field ``update`` sets no longer holds its deferred error (``serve --no-auth`` replaces a
        bad ``FP_SERVE_AUTH``)."""
        copy = super().model_copy(update=update, deep=deep)
        if update and self._invalid:
            copy._invalid = {name: problem for name, problem in self._invalid.items() if name not in update}
        return copy

    def check(self, *names: str) -> None:
        """Raise the :class:`SettingsError` of the first of these fields (default: every field) that holds a
        bad value (deferred by ``defer_errors``): what a long-running command calls before it announces
        anything."""
        for name in names or type(self).model_fields:
            getattr(self, name)

    if not TYPE_CHECKING:  # mypy keeps checking attribute names

        def __getattribute__(self, name: str) -> Any:
            if name in _FIELD_NAMES:
                try:
                    private = object.__getattribute__(self, "__pydantic_private__")
                except AttributeError:  # while pydantic builds the instance
                    private = None
                if private and (problem := private.get("_invalid", {}).get(name)):
                    raise SettingsError(problem)
            return super().__getattribute__(name)

    @field_validator("actor")
    @classmethod
    def _one_line_actor(cls, value: str | None) -> str | None:
        if value is not None and (problem := control_character_problem(value)):
            msg = f"FP_ACTOR={value!r} {problem}: it is written to the audit log"
            raise _FieldProblem(msg)
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _usable_endpoint(cls, value: str | None) -> str | None:
        if value is not None and (problem := endpoint_url_problem(value)):
            msg = f"FP_S3_ENDPOINT_URL={redact_credentials(value)!r} {problem}"
            raise _FieldProblem(msg)
        return value

    @field_validator("artefact_store", "raw_data_root", "tables_root")
    @classmethod
    def _usable_s3_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and (problem := s3_url_problem(value)):
            msg = f"FP_{(info.field_name or '').upper()}={redact_credentials(value)!r} {problem}"
            raise _FieldProblem(msg)
        return value

    @field_validator("online_store", "event_log")
    @classmethod
    def _usable_store_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and (problem := store_url_problem(value)):
            msg = f"FP_{(info.field_name or '').upper()}={redact_credentials(value)!r} {problem}"
            raise _FieldProblem(msg)
        return value

    @property
    def artefact_store_url(self) -> str:
        return self.artefact_store or str(self.data_dir / "artefacts")

    @property
    def online_store_url(self) -> str:
        return self.online_store or str(self.data_dir / "online.sqlite")

    @property
    def event_log_url(self) -> str:
        return self.event_log or str(self.data_dir / "event_log.sqlite")

    @property
    def raw_root(self) -> str:
        return self.raw_data_root or str(self.data_dir / "raw")

    @property
    def tables_url(self) -> str:
        return self.tables_root or str(self.data_dir / "tables")


_FIELD_NAMES = frozenset(PlatformSettings.model_fields)
