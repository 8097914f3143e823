"""FP_ONLINE_STORE and FP_EVENT_LOG are checked when the settings are read: a bad Redis URL is one line naming
the variable (redis-py would raise a traceback for a bad port and silently use DB 0 for a DB that is no number)."""

from __future__ import annotations

import pytest

from feature_platform.settings import PlatformSettings, SettingsError

VARIABLES = ["FP_ONLINE_STORE", "FP_EVENT_LOG"]


@pytest.mark.parametrize("variable", VARIABLES)
@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://localhost",
        "redis://cache.internal:6380/15",
        "rediss://:secret@cache.internal:6380/1",
        "redis://[::1]:6379/2",
        "redis://h:6379/0?socket_timeout=5",
        "redis://h:6379/0?health_check_interval=10&client_name=fp&max_connections=50",
        "rediss://h:6380/0?ssl_cert_reqs=none",
        "unix:///var/run/redis.sock",
        "unix:///var/run/redis.sock?db=3",
        "fp_data/online.sqlite",
        "/abs/path/log.sqlite",
        "sqlite:///rel/path.sqlite",
        "",  # empty: the embedded default
    ],
)
def test_usable_store_urls_are_accepted(variable: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, url)
    PlatformSettings()


@pytest.mark.parametrize("variable", VARIABLES)
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://127.0.0.1:99999/0", "the port must be a number from 1 to 65535"),
        ("redis://127.0.0.1:abc/0", "the port must be a number from 1 to 65535"),
        ("redis://127.0.0.1:0/0", "names port 0"),
        ("redis://127.0.0.1:6379/abc", "names DB 'abc'; the DB must be a non-negative integer"),
        ("redis://127.0.0.1:6379/-1", "names DB '-1'"),
        ("redis://127.0.0.1:6379/0/1", "names DB '0/1'"),
        ("redis://h:6379?db=x", "names DB 'x'"),
        ("unix:///tmp/redis.sock?db=one", "names DB 'one'"),
        ("unix://", "names no socket path"),
        ("redis:///0", "has no host name"),
        ("redis://bad host:1/0", "must not contain spaces"),
        ("redis://bad!host:1/0", "has an invalid host 'bad!host'"),
        ("redis://h:6379/0?socket_timeout=abc", "Invalid value for 'socket_timeout'"),
        # redis-py passed these on to the connection: a TypeError traceback at the first command
        ("redis://h:6379/0?sockettimeout=5", "parameter 'sockettimeout' (did you mean 'socket_timeout'?)"),
        ("unix:///tmp/redis.sock?db=1&colour=blue", "unknown query parameter 'colour'"),
        ("REDIS://h:6379/0", "must start with redis:// in lower case"),
        ("http://h:6379/0", "must be redis://HOST:PORT/DB"),
        (" redis://h:6379/0", "must not start or end with spaces"),
    ],
)
def test_a_bad_store_url_is_one_line_naming_the_variable(
    variable: str, url: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, url)
    with pytest.raises(SettingsError) as raised:
        PlatformSettings()
    message = str(raised.value)
    assert message.startswith(f"{variable}={url!r} "), message
    assert problem in message and "\n" not in message


def test_a_password_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_ONLINE_STORE", "redis://user:hunter2@h:99999/0")
    with pytest.raises(SettingsError) as raised:
        PlatformSettings()
    assert "hunter2" not in str(raised.value)
    assert "redis://user:***@h:99999/0" in str(raised.value)
