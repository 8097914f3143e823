"""What an error message shows: no secrets, the path (and day) being written, one format for every error.

* Credentials in a Redis, S3 or store URL are redacted (``user:***@``) in every message that shows the URL:
  the online store's and the event log's errors and ``describe()``, the settings' validation errors, and
  the CLI's error line whoever formatted it (:func:`feature_platform.settings.redact_credentials`).
* An invalid S3 bucket name is one line naming the variable, not botocore's multi-line regex dump.
* A full disk names the path being written (``compile --out``, ``schema --out``).
* Every error is ``error: …`` on stderr, click's own usage errors included (no ``Usage:``/``Error:``).
"""

from __future__ import annotations

import errno
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.compiler import compile_configs
from feature_platform.demo_data import DemoDataConfig, generate
from feature_platform.runtimes.batch import TableLocations, certify_day, index_day
from feature_platform.runtimes.online import RedisOnlineStore
from feature_platform.runtimes.stream._redis_log import RedisEventLog
from feature_platform.settings import PlatformSettings, SettingsError, redact_credentials
from feature_platform.store import open_store
from tests.conftest import REPO_ROOT

SECRET = "s3cretpw"
NOWHERE = f"redis://user:{SECRET}@127.0.0.1:1/0"  # a port nothing listens on: every call fails at once
DAY = date(2026, 11, 1)
FEATURE = "recent_engagements_v1"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"FP_DATA_DIR": str(tmp_path / "data"), "FP_DEBUG": "", **extra}


def _error_lines(result: Any) -> list[str]:
    assert "Traceback" not in result.output, result.output
    return [line for line in result.output.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def certified(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A data dir with demo data, the example features published to dev and one certified day."""
    root = tmp_path_factory.mktemp("messages")
    raw = root / "raw"
    generate(DemoDataConfig(users=40, items=60, days=1, events=1_500, seed=3, start_date=DAY, chunk_rows=1_000), raw,
             workers=1)
    result = compile_configs(REPO_ROOT / "feature_configs")
    assert result.ok, result.issues
    store = open_store(str(root / "artefacts"))
    for feature_id, sealed in sorted(result.artefacts.items()):
        store.publish("dev", feature_id, store.put_artefact(sealed.data), actor="tests")
    locations = TableLocations(raw_root=str(raw), tables_root=str(root / "tables"))
    index_day(store.load_live("dev", FEATURE), DAY, locations)
    certify_day(locations, FEATURE, DAY, "tests")
    return {"FP_DATA_DIR": str(root), "FP_ENV": "dev", "FP_DEBUG": ""}


# -- secrets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (NOWHERE, "redis://user:***@127.0.0.1:1/0"),
        ("redis://:pw@h:6379", "redis://:***@h:6379"),
        ("redis://user@h:6379/0", "redis://user@h:6379/0"),  # no password: nothing to hide
        ("rediss://u:p@ss@h:6380/1", "rediss://u:***@h:6380/1"),  # an "@" the user forgot to encode
        ("s3://AKIA:se/cret@bucket/x", "s3://AKIA:***@bucket/x"),  # a "/" too
        ("error: redis redis://u:pw@h:1/0 (prefix 'fp'): no", "error: redis redis://u:***@h:1/0 (prefix 'fp'): no"),
        ("FP_X='redis://u:pw@h:1/0' and 'sqlite:///a/b'", "FP_X='redis://u:***@h:1/0' and 'sqlite:///a/b'"),
        ("s3://bucket/a@b/c", "s3://bucket/a@b/c"),  # an "@" in a key is no user info
        ("no url at all: a:b@c", "no url at all: a:b@c"),
    ],
)  # fmt: skip
def test_redact_credentials(text: str, redacted: str) -> None:
    assert redact_credentials(text) == redacted


def test_the_online_store_and_the_event_log_describe_themselves_without_the_password() -> None:
    """``describe()`` is in every error they raise, in the stream indexer's log lines and in Dagster metadata."""
    store = RedisOnlineStore(NOWHERE)
    log = RedisEventLog(NOWHERE)
    try:
        assert store.describe() == "redis redis://user:***@127.0.0.1:1/0 (prefix 'fp')"
        assert log.describe() == "redis streams redis://user:***@127.0.0.1:1/0 (prefix 'fp')"
    finally:
        store.close()
        log.close()


def test_online_load_into_an_unreachable_redis_does_not_print_the_password(certified: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["online-load", "--feature", FEATURE, "--date", DAY.isoformat()],
                                env={**certified, "FP_ONLINE_STORE": NOWHERE})
    assert result.exit_code == 1, result.output
    lines = _error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: redis redis://user:***@127.0.0.1:1/0"), result.output
    assert SECRET not in result.output


def test_replay_into_an_unreachable_event_log_does_not_print_the_password(certified: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["replay", "--source", "engagement_events", "--date", DAY.isoformat()],
                                env={**certified, "FP_EVENT_LOG": NOWHERE})
    assert result.exit_code == 1, result.output
    lines = _error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: redis streams redis://user:***@127.0.0.1:1/0"), lines
    assert SECRET not in result.output


@pytest.mark.parametrize(
    ("variable", "url", "shown"),
    [
        ("FP_ONLINE_STORE", f"redis://user:{SECRET}@h:99999/0", "redis://user:***@h:99999/0"),
        ("FP_EVENT_LOG", f"redis://user:{SECRET}@h:6379/x", "redis://user:***@h:6379/x"),
        ("FP_S3_ENDPOINT_URL", f"http://user:{SECRET}@localhost:9000", "http://user:***@localhost:9000"),
        ("FP_ARTEFACT_STORE", f"s3://key:{SECRET}@bucket/x", "s3://key:***@bucket/x"),
        ("FP_TABLES_ROOT", f"s3://key:{SECRET}@bucket/x", "s3://key:***@bucket/x"),
        ("FP_RAW_DATA_ROOT", f"s3://key:{SECRET}@bucket/x", "s3://key:***@bucket/x"),
    ],
)
def test_a_settings_error_does_not_print_the_password(
    variable: str, url: str, shown: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(variable, url)
    with pytest.raises(SettingsError) as raised:
        PlatformSettings()
    assert SECRET not in str(raised.value)
    assert str(raised.value).startswith(f"{variable}={shown!r} "), str(raised.value)
    result = CliRunner().invoke(cli, ["history", "--feature", "x_v1"], env=_env(tmp_path, **{variable: url}))
    assert result.exit_code == 1 and SECRET not in result.output, result.output


def test_the_cli_redacts_a_url_whoever_formatted_the_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last line of defence: an error raised anywhere below that shows a URL with its password."""
    import feature_platform.cli.release_cmds as release_cmds
    from feature_platform.errors import StoreError

    def leaky(*args: Any, **kwargs: Any) -> Any:
        raise StoreError(f"cannot reach redis://admin:{SECRET}@cache:6379/0 (and rediss://:{SECRET}@other)")

    monkeypatch.setattr(release_cmds, "open_store_from_settings", leaky)
    result = CliRunner().invoke(cli, ["history", "--feature", "x_v1"], env=_env(tmp_path))
    assert result.exit_code == 1, result.output
    assert _error_lines(result) == ["error: cannot reach redis://admin:***@cache:6379/0 (and rediss://:***@other)"]


# -- S3 bucket names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("s3://BAD_BUCKET!/x", "names the bucket 'BAD_BUCKET!', which breaks the S3 naming rules"),
        ("s3://ab/x", "names the bucket 'ab', which breaks the S3 naming rules"),
        ("s3://-bucket/x", "names the bucket '-bucket'"),
        ("s3://my..bucket/x", "(two adjacent dots)"),
        ("s3://192.168.0.1/x", "(an IP address)"),
        ("s3://xn--bucket/x", "(the reserved prefix 'xn--')"),
        ("s3://bucket-s3alias/x", "(the reserved suffix '-s3alias')"),
        ("s3:///x", "names no bucket"),
        ("s3://bad bucket/x", "must not contain spaces"),
    ],
)
@pytest.mark.parametrize("variable", ["FP_ARTEFACT_STORE", "FP_TABLES_ROOT", "FP_RAW_DATA_ROOT"])
def test_a_bad_bucket_name_is_one_line_naming_the_variable(
    variable: str, url: str, problem: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["history", "--feature", "x_v1"], env=_env(tmp_path, **{variable: url}))
    assert result.exit_code == 1, result.output
    lines = _error_lines(result)
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable}={url!r} "), result.output
    assert problem in lines[0] and "regex" not in result.output


@pytest.mark.parametrize("url", ["s3://fp-test-artefacts/x", "s3://my.bucket.example/a/b", "s3://abc", "/local/x"])
def test_good_bucket_names_are_accepted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_ARTEFACT_STORE", url)
    assert PlatformSettings().artefact_store == url


# -- the path being written ------------------------------------------------------------------------------


def _no_space(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as write() reports it: no file name


def test_compile_on_a_full_disk_names_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "write_bytes", _no_space)
    out = tmp_path / "build" / "compiled"
    result = CliRunner().invoke(cli, ["compile", "--configs", "tests/fixtures/valid/fixture_configs", "--out",
                                      str(out)], env=_env(tmp_path))
    assert result.exit_code == 1, result.output
    assert _error_lines(result)[-1] == f"error: cannot write the compiled output {out}: No space left on device"
    assert not out.exists()


def test_schema_on_a_full_disk_names_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import feature_platform.storage.local as local

    monkeypatch.setattr(local.os, "fsync", _no_space)
    out = tmp_path / "schema.json"
    result = CliRunner().invoke(cli, ["schema", "--out", str(out)], env=_env(tmp_path))
    assert result.exit_code == 1, result.output
    assert _error_lines(result) == [f"error: cannot write --out {out}: No space left on device"]
    assert list(tmp_path.iterdir()) == []  # nothing half-written, under any name


def test_an_output_under_a_file_says_so(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for args, what in (
        (["compile", "--configs", "tests/fixtures/valid/fixture_configs", "--out", f"{a_file}/x/compiled"],
         f"the compiled output {a_file}/x/compiled"),
        (["schema", "--out", f"{a_file}/schema.json"], f"--out {a_file}/schema.json"),
        (["demo-data", "--out", f"{a_file}/demo", "--events", "100", "-q"], f"the demo data {a_file}/demo"),
    ):
        result = CliRunner().invoke(cli, args, env=_env(tmp_path))
        assert result.exit_code == 1, result.output
        assert _error_lines(result) == [f"error: cannot write {what}: {a_file} is a file, not a directory"]


# -- one format ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["batch-index", "--feature", "x_v1", "--date", "2026-13-01"],
         "error: Invalid value for '--date': '2026-13-01' does not match the format '%Y-%m-%d'. "
         "(see 'cli batch-index --help')", 2),
        (["batch-index", "--date", "2026-11-01"],
         "error: Missing option '--feature'. (see 'cli batch-index --help')", 2),
        (["no-such-command"], "error: No such command 'no-such-command'. (see 'cli --help')", 2),
        (["demo-data", "--out", "{tmp}/demo", "--start-date", "1999-12-31", "-q"],
         "error: start_date 1999-12-31 would be a partition batch-index refuses: days run from 2000-01-01 (events "
         "before it are invalid) to 9999-12-30, not 1999-12-31", 1),
    ],
)  # fmt: skip
def test_every_error_is_one_error_line(args: list[str], message: str, code: int, tmp_path: Path) -> None:
    """click's usage errors (``Usage: …`` + ``Error: …``) and the commands' own errors read the same."""
    args = [a.format(tmp=tmp_path) for a in args]
    result = CliRunner().invoke(cli, args, env=_env(tmp_path))
    assert result.exit_code == code, result.output
    assert _error_lines(result) == [message.format(tmp=tmp_path)]


def test_online_load_of_a_feature_with_no_certified_day_is_an_error_line(certified: dict[str, str]) -> None:
    """Was click's ``Error: …`` (a ``ClickException``), unlike every other command."""
    result = CliRunner().invoke(cli, ["online-load", "--feature", "recent_closeups_v1"], env=certified)
    assert result.exit_code == 1, result.output
    tables = Path(certified["FP_DATA_DIR"]) / "tables" / "recent_closeups_v1"
    assert _error_lines(result) == [f"error: recent_closeups_v1 has no certified day under {tables}"]


def test_help_and_version_still_exit_0() -> None:
    for args in (["--help"], ["--version"], ["batch-index", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "error" not in result.output.lower().split("\n")[0]
