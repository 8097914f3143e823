"""The README's "Query a sequence over HTTP" requests, read from README.md, answer non-empty sequences on the
demo data ``make demo`` generates, and name the user ``scripts/demo.sh`` prints (its own snippet, run)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from feature_platform.demo_data import DemoDataConfig, generate
from feature_platform.runtimes.batch import TableLocations, certify_day, index_days
from feature_platform.runtimes.online import SqliteOnlineStore, batch_end, load_day
from tests.batch.conftest import Published
from tests.conftest import REPO_ROOT
from tests.online.helpers import make_app

FEATURE = "recent_searches_v1"


def _readme_requests() -> tuple[str, str, dict[str, object]]:
    """The section's GET URL, and the POST URL with its JSON body."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("## Query a sequence over HTTP"):]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    get = re.search(r"curl -s '(http://[^']+/sequence\?[^']*)'", block.group(1))
    post = re.search(r"curl -s -X POST '(http://[^']+/sequences)'.*?-d '([^']+)'", block.group(1), re.DOTALL)
    assert get is not None and post is not None
    return get.group(1), post.group(1), json.loads(post.group(2))


def _demo_sh() -> str:
    return (REPO_ROOT / "scripts" / "demo.sh").read_text()


def _demo_sh_value(name: str) -> str:
    match = re.search(rf'^{name}="(?:\$\{{[A-Z_]+:-)?([^"}}]*)\}}?"$', _demo_sh(), re.MULTILINE)
    assert match is not None, name
    return match.group(1)


def _demo_user(tables: TableLocations) -> int:
    """The user ``scripts/demo.sh`` prints, by running its own snippet against these tables."""
    script = re.search(r"DEMO_USER=\$\(.*?<<'PY'\n(.*?)\nPY\n", _demo_sh(), re.DOTALL)
    assert script is not None
    env = {**os.environ, "FP_RAW_DATA_ROOT": tables.raw_root, "FP_TABLES_ROOT": tables.tables_root}
    done = subprocess.run([sys.executable, "-c", script.group(1)], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return int(done.stdout.strip())


def test_the_readme_serving_requests_answer_on_the_demo_data(tmp_path: Path, published: Published) -> None:
    start = date.fromisoformat(_demo_sh_value("START"))
    days = int(_demo_sh_value("DAYS"))
    raw = tmp_path / "raw"
    generate(DemoDataConfig(days=days, start_date=start), raw, workers=1)  # `make demo`'s data: its defaults
    tables = TableLocations(raw_root=str(raw), tables_root=str(tmp_path / "tables"))
    artefact = published.artefacts[FEATURE]
    last = start + timedelta(days=days - 1)
    for result in index_days(artefact, start, last, tables):
        certify_day(tables, FEATURE, result.day, "tests")

    get_url, post_url, body = _readme_requests()
    get = urlsplit(get_url)
    user = int(get.path.split("/users/")[1].split("/")[0])
    assert user == _demo_user(tables)  # the README names the user `make demo` prints
    assert f"?{_demo_sh_value('QUERY')}" == f"?{get.query}"  # and the same query
    assert user in body["users"]  # type: ignore[operator]

    store = SqliteOnlineStore(tmp_path / "online.sqlite")
    load_day(artefact, last, tables, store)
    with TestClient(make_app(published.store, store, clock=lambda: batch_end(last))) as client:
        one = client.get(f"{get.path}?{get.query}")
        many = client.post(urlsplit(post_url).path, json=body)
    store.close()
    assert one.status_code == 200, one.text
    fields = parse_qs(get.query)["fields"][0].split(",")
    assert [f["name"] for f in one.json()["schema"]] == fields
    events = one.json()["events"]
    assert len(events) == int(parse_qs(get.query)["limit"][0]) and all(set(e) == set(fields) for e in events)
    assert many.status_code == 200, many.text
    results = many.json()["results"]
    assert [r["user"] for r in results] == body["users"]
    assert all(r["events"] and r["profile"]["batch_day"] == last.isoformat() for r in results)
