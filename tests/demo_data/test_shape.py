"""The data looks like real logs: skewed popularity and activity, sessions, an action mix, heavy-tailed
dwell times, queries that need normalising, and unit-norm embeddings with a few lookup misses."""

from __future__ import annotations

import polars as pl

from feature_platform.demo_data import ITEM_ID_OFFSET
from feature_platform.demo_data.schema import EMBEDDING_DIM
from tests.demo_data.conftest import DemoData


def _num(value: object) -> float:
    """A polars scalar aggregate as a float (for the type checker and clear failures)."""
    assert isinstance(value, int | float), value
    return float(value)


def _top_share(counts: pl.Series, fraction: float, population: int) -> float:
    top = max(1, int(population * fraction))
    return float(counts.sort(descending=True).head(top).sum()) / float(counts.sum())


def test_item_popularity_is_zipf_like(demo: DemoData) -> None:
    pins = demo.read("engagement_events")["pin_id"].drop_nulls()
    counts = pins.value_counts()["count"]
    assert _top_share(counts, 0.01, demo.config.items) > 0.30  # top 1% of items: a large share
    assert pins.n_unique() > demo.config.items * 0.5  # ...and a long tail
    assert _num(pins.min()) >= ITEM_ID_OFFSET
    assert _num(pins.max()) < ITEM_ID_OFFSET + demo.config.items


def test_user_activity_is_heavy_tailed(demo: DemoData) -> None:
    counts = demo.read("engagement_events")["user_id"].drop_nulls().value_counts()["count"]
    assert _top_share(counts, 0.01, demo.config.users) > 0.08
    assert _num(counts.max()) > 20 * _num(counts.median())


def test_action_mix_and_dwell(demo: DemoData) -> None:
    frame = demo.read("engagement_events")
    counts = dict(frame["action"].value_counts().iter_rows())
    assert counts["closeup"] > counts["click"] > counts["save"] > counts["hide"] > 0
    assert set(counts) == {"closeup", "click", "save", "hide"}
    saves = frame.filter(pl.col("action") == "save")
    assert saves["dwell_ms"].null_count() / saves.height > 0.5  # saves rarely measure dwell
    dwell = frame["dwell_ms"].drop_nulls()
    assert _num(dwell.quantile(0.99)) > 10 * _num(dwell.median())  # heavy tail
    closeups = frame.filter(pl.col("action") == "closeup")["dwell_ms"].drop_nulls()
    assert 0.02 < _num((closeups < 500).mean()) < 0.5  # the close-up filter (>= 500 ms) has work to do


def test_events_come_in_sessions_with_a_fixed_context(demo: DemoData) -> None:
    frame = pl.read_parquet(demo.parts("engagement_events")[2]).drop_nulls(["user_id", "event_ts_ms"])
    frame = frame.sort("user_id", "event_ts_ms").with_columns(
        gap=pl.col("event_ts_ms").diff().over("user_id"),
        same_device=(pl.col("device") == pl.col("device").shift()).over("user_id"),
        same_surface=(pl.col("surface") == pl.col("surface").shift()).over("user_id"),
    )
    close = frame.filter(pl.col("gap").is_between(0, 60_000))
    assert close.height > 0.6 * frame.height  # most events follow the previous one within a minute
    assert _num(close["same_device"].mean()) > 0.95
    assert _num(close["same_surface"].mean()) > 0.9


def test_context_values_are_skewed_and_need_normalising(demo: DemoData) -> None:
    frame = demo.read("engagement_events")
    devices = frame["device"].value_counts(sort=True)
    assert devices["device"][0] == "ios"
    assert {"iOS", "WEB"} & set(devices["device"].to_list())  # legacy clients
    countries = frame["country"].value_counts(sort=True)
    assert countries["country"][0] == "US"
    assert frame.filter(pl.col("country") != pl.col("country").str.to_uppercase()).height > 0


def test_search_queries_need_normalising(demo: DemoData) -> None:
    text = demo.read("search_events")["query_text"].drop_nulls()
    stripped = text.str.strip_chars()
    assert (text != text.str.to_lowercase()).sum() > 0  # case variants
    assert (text != stripped).sum() > 0  # leading/trailing whitespace
    assert text.str.contains("  ", literal=True).sum() > 0  # double spaces
    assert text.str.contains(r"[?!.]$").sum() > 0  # punctuation
    assert (stripped == "").sum() > 0  # empty and blank queries
    canonical = stripped.str.to_lowercase().str.replace_all(r"\s+", " ").str.replace(r"[?!. ]+$", "")
    assert canonical.n_unique() < text.n_unique()  # normalising merges variants


def test_embeddings_are_unit_float32_vectors_of_length_32(demo: DemoData) -> None:
    frame = demo.read("item_embeddings")
    assert frame.schema["embedding"] == pl.List(pl.Float32)
    assert frame["embedding"].list.len().unique().to_list() == [EMBEDDING_DIM]
    squares = pl.col("embedding").list.eval(pl.element().cast(pl.Float64).pow(2))
    norms = frame.select(squares.list.sum().sqrt()).to_series()
    assert _num((norms - 1.0).abs().max()) < 1e-5
    assert frame["item_id"].is_unique().all()


def test_lookup_tables_miss_a_few_items(demo: DemoData) -> None:
    items = demo.config.items
    for table in ("item_embeddings", "item_categories"):
        summary = demo.manifest["tables"][table]
        frame = demo.read(table)
        assert frame.height == summary["rows"] == items - summary["missing_items"]
        assert 0 < summary["missing_items"] < 0.02 * items
    categories = demo.read("item_categories")
    assert 15 <= categories["category"].n_unique() <= 25
    assert categories["subcategory"].n_unique() > 60
    pins = demo.read("engagement_events").select("pin_id").drop_nulls()
    embedded = demo.read("item_embeddings").select(pl.col("item_id").alias("pin_id"))
    misses = pins.join(embedded, on="pin_id", how="anti").height
    quirks = demo.manifest["tables"]["engagement_events"]["quirks"]
    assert misses == quirks["rows_with_pin_missing_embedding"] > 0


def test_similar_items_have_similar_embeddings(demo: DemoData) -> None:
    frame = demo.read("item_embeddings").join(demo.read("item_categories"), on="item_id")
    vectors = frame.select("category", pl.col("embedding").list.to_array(EMBEDDING_DIM))

    def mean_cosine(left: pl.DataFrame, right: pl.DataFrame) -> float:
        a = left["embedding"].head(200).to_list()
        b = right["embedding"].head(200).to_list()
        return sum(sum(x * y for x, y in zip(u, v, strict=True)) for u, v in zip(a, b, strict=False)) / min(
            len(a), len(b)
        )

    home = vectors.filter(pl.col("category") == "home_decor")
    food = vectors.filter(pl.col("category") == "food_and_drink")
    assert mean_cosine(home, home.reverse()) > mean_cosine(home, food) + 0.2
