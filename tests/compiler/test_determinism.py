"""Identical input compiles to identical bytes: across runs, across hash seeds, across dict orders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from feature_platform.compiler import compile_configs, write_output
from tests.compiler._helpers import (
    EXAMPLE_CONFIGS,
    REPO_ROOT,
    VALID_FIXTURE,
    compiled_files,
    read_tree,
    write_package,
)

HASH_SEEDS = ("0", "1", "4242", "random")

_COMPILE_SCRIPT = """
import sys
from pathlib import Path
from feature_platform.compiler import compile_configs, write_output

for configs, out in zip(sys.argv[1::2], sys.argv[2::2], strict=True):
    result = compile_configs(Path(configs))
    assert result.ok, result.issues
    write_output(result, Path(out))
"""


def test_compiling_twice_gives_identical_bytes(tmp_path: Path) -> None:
    first = compile_configs(EXAMPLE_CONFIGS)
    second = compile_configs(EXAMPLE_CONFIGS)
    assert compiled_files(first) == compiled_files(second)

    build_a = write_output(first, tmp_path / "a")
    build_b = write_output(second, tmp_path / "b")
    assert build_a.name == build_b.name  # the build folder is named by the manifest's hash
    assert read_tree(tmp_path / "a") == read_tree(tmp_path / "b") == compiled_files(first)


def test_compile_is_byte_identical_under_any_hash_seed(tmp_path: Path) -> None:
    """Set and dict iteration orders change with PYTHONHASHSEED; the output must not."""
    configs = {"examples": EXAMPLE_CONFIGS, "fixture": VALID_FIXTURE}
    procs = {}
    for seed in HASH_SEEDS:
        args = [a for name, path in configs.items() for a in (str(path), str(tmp_path / seed / name))]
        env = {**os.environ, "PYTHONHASHSEED": seed}
        procs[seed] = subprocess.Popen(
            [sys.executable, "-c", _COMPILE_SCRIPT, *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for seed, proc in procs.items():
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"PYTHONHASHSEED={seed}: {stderr}"

    in_process = {name: compiled_files(compile_configs(path)) for name, path in configs.items()}
    for seed in HASH_SEEDS:
        for name in configs:
            produced = read_tree(tmp_path / seed / name)
            assert sorted(produced) == sorted(in_process[name])
            differing = sorted(f for f in produced if produced[f] != in_process[name][f])
            assert differing == [], f"PYTHONHASHSEED={seed}: {name} files differ: {differing}"


_KEY_ORDER_CONFIG = """
from datetime import timedelta

from feature_platform.authoring import (
    BatchOrigin, Column, DerivedEnrichment, EventType, Freshness, Lifecycle, LookupEnrichment, PluginCall,
    SequenceFeature, Source, StreamOrigin, col, from_epoch_ms,
)

def ordered(pairs):
    return dict(reversed(pairs)) if REVERSED else dict(pairs)

REVERSED = {reversed}

events = Source(
    name="events", kind="events", stream=StreamOrigin(stream="events"), timestamp_column="ts_ms",
    columns=(Column("event_id", "string"), Column("user_id", "int64"), Column("ts_ms", "int64"),
             Column("item_id", "int64"), Column("dwell_ms", "int64"), Column("action", "string")),
)
items = Source(
    name="items", kind="lookup", batch=BatchOrigin(path="items"), key_column="item_id",
    columns=(Column("item_id", "int64"), Column("category", "string"), Column("brand", "string")),
)
item_info = LookupEnrichment(
    name="item_info", lifecycle=Lifecycle.PRODUCTION, source=items, on="item_id",
    columns=ordered([("item_category", "category"), ("item_brand", "brand")]),
)
flags = DerivedEnrichment(
    name="flags", lifecycle=Lifecycle.PRODUCTION,
    fields=ordered([("is_long", col("dwell_ms") > 10_000), ("is_click", col("action") == "click")]),
)
click = EventType(
    name="click", lifecycle=Lifecycle.PRODUCTION, source=events,
    fields=ordered([
        ("event_id", col("event_id")), ("user_id", col("user_id")),
        ("timestamp", from_epoch_ms(col("ts_ms"))), ("item_id", col("item_id")),
        ("dwell_ms", col("dwell_ms")), ("action", col("action")),
    ]),
    executor=PluginCall(
        plugin="dwell_bucketiser",
        params=ordered(
            [("output_field", "bucket"), ("boundaries_ms", [100, 1_000]), ("input_field", "dwell_ms")]
        ),
    ),
    enrichments=(item_info, flags),
)
clicks = SequenceFeature(
    name="clicks", lifecycle=Lifecycle.PRODUCTION, owners=("team-x",), event_types=(click,), max_length=10,
    retention=timedelta(days=7), fields=("item_id", "item_brand", "bucket", "is_long"),
    freshness=Freshness(streaming_max_lag=timedelta(minutes=1), batch_max_lag=timedelta(days=1)),
    tags=ordered([("team", "x"), ("consumer", "y"), ("surface", "z")]),
)
"""


def test_reordering_dict_keys_in_a_config_changes_no_hash(tmp_path: Path) -> None:
    straight = write_package(
        tmp_path / "a", "key_order_configs", {"configs": _KEY_ORDER_CONFIG.format(reversed=False)}
    )
    backwards = write_package(
        tmp_path / "b", "key_order_configs", {"configs": _KEY_ORDER_CONFIG.format(reversed=True)}
    )

    first = compile_configs(straight)
    second = compile_configs(backwards)

    assert first.ok, first.issues
    assert second.ok, second.issues
    a, b = first.artefacts["clicks_v1"], second.artefacts["clicks_v1"]
    assert a.content_hash == b.content_hash
    assert a.artefact.config_hash == b.artefact.config_hash
    assert compiled_files(first) == compiled_files(second)
    # the reversal really happened in the configs that were compiled
    assert second.discovery is not None
    click = next(d.obj for d in second.discovery.objects if d.obj.name == "click")
    assert next(iter(click.fields)) == "action"  # type: ignore[attr-defined]


def test_a_real_change_changes_the_hashes(tmp_path: Path) -> None:
    """The converse: the hashes are not constant; a one-value edit moves both of them."""
    source = _KEY_ORDER_CONFIG.format(reversed=False)
    edited = source.replace("max_length=10,", "max_length=11,")
    assert edited != source
    before = compile_configs(write_package(tmp_path / "a", "key_order_configs", {"configs": source}))
    after = compile_configs(write_package(tmp_path / "b", "key_order_configs", {"configs": edited}))

    a, b = before.artefacts["clicks_v1"], after.artefacts["clicks_v1"]
    assert a.content_hash != b.content_hash
    assert a.artefact.config_hash != b.artefact.config_hash
