"""The README tour's streaming story on the README's own code: add an event type by config alone (step 2's
snippets, read from README.md) → ``feature-platform publish`` → the indexer that is already running picks
the new feature up at its next pointer poll, with no restart → its events are served, equal to the batch
snapshot of the same artefact over the same raw partitions."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from feature_platform.cli.main import cli
from feature_platform.runtimes.batch import TableLocations, index_days
from feature_platform.runtimes.online import SqliteOnlineStore
from feature_platform.runtimes.stream import IndexerConfig, StreamIndexer
from feature_platform.runtimes.stream._sqlite_log import SqliteEventLog
from feature_platform.store import open_store
from tests.conftest import REPO_ROOT
from tests.online.conftest import OnlineTables
from tests.stream.helpers import caught_up, day_end, oracle, raw_users, replay_days, served

NEW = "recent_hides_v1"


def tour_snippets() -> list[str]:
    """The Python blocks of the tour's step 2 (the event type, then the sequence feature that uses it)."""
    text = (REPO_ROOT / "README.md").read_text()
    step = text[text.index("**2. Add an event type by config alone.**"):text.index("**3. Validate, plan, publish.**")]
    blocks = re.findall(r"```python\n(.*?)```", step, re.DOTALL)
    assert len(blocks) == 2, blocks
    return blocks


def test_readme_tour_a_new_event_type_by_config_alone_is_served_by_the_running_indexer(
    tmp_path: Path, online_tables: OnlineTables
) -> None:
    configs = tmp_path / "repo" / "feature_configs"
    shutil.copytree(REPO_ROOT / "feature_configs", configs, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"FP_DATA_DIR": str(tmp_path / "data"), "FP_ARTEFACT_STORE": str(tmp_path / "artefacts"),
           "FP_ACTOR": "tour"}
    first = CliRunner().invoke(cli, ["publish", "--configs", str(configs), "--env", "dev"], env=env)
    assert first.exit_code == 0, first.output
    store = open_store(str(tmp_path / "artefacts"))
    assert NEW not in store.list_features("dev")

    raw = online_tables.locations.raw_root
    log = SqliteEventLog(tmp_path / "log.sqlite")
    online = SqliteOnlineStore(tmp_path / "online.sqlite")
    running = {f: store.load_live("dev", f) for f in store.list_features("dev")}
    replay_days(log, running, raw, online_tables.days)
    indexer = StreamIndexer(IndexerConfig(env="dev", raw_root=raw, reload_seconds=0), store, log, online)
    indexer.run(until=lambda: bool(indexer.units) and caught_up(log, running))
    assert set(indexer.units) == set(running)

    # Step 2: config alone. Step 3: publish. The same indexer object keeps running throughout.
    event_type, sequence = tour_snippets()
    for name, snippet in (("event_types.py", event_type), ("sequences.py", sequence)):
        path = configs / name
        path.write_text(path.read_text() + "\n\n" + snippet)
    published = CliRunner().invoke(cli, ["publish", "--configs", str(configs), "--env", "dev"], env=env)
    assert published.exit_code == 0, published.output
    assert NEW in published.output
    indexer.step()  # the next pointer poll
    assert NEW in indexer.units  # picked up without a restart, its own group from the start of the log
    hides = indexer.units[NEW].artefact
    indexer.run(until=lambda: caught_up(log, {**running, NEW: hides}))

    users = raw_users(online_tables)
    last = online_tables.days[-1]
    got = served(online, hides, users, day_end(last))
    assert got and {e["event_type"] for events in got.values() for e in events} == {"hide"}
    locations = TableLocations(raw_root=raw, tables_root=str(tmp_path / "tables"))
    index_days(hides, online_tables.days[0], last, locations)
    assert got == oracle(locations, NEW, last)
    log.close()
    online.close()
