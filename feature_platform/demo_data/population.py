"""The entities behind the events: users (activity, country, device), items (popularity, taxonomy,
embeddings) and search queries (popularity, result counts).

Per-entity state is a handful of arrays (polars Series) indexed by entity number, so even 10 M users
cost only a few hundred MB. Every per-entity draw is addressed by the entity's index (counter-based
RNG with ``start``), so it does not depend on chunking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from feature_platform.demo_data import vocab
from feature_platform.demo_data.config import DemoDataConfig
from feature_platform.demo_data.rng import Rng, choose, cumulative
from feature_platform.demo_data.schema import EMBEDDING_DIM

USER_ID_OFFSET = 1_000_000
"""``user_id = USER_ID_OFFSET + user index``: user ids are 1,000,000 ... 1,000,000 + users - 1."""
ITEM_ID_OFFSET = 50_000_000
"""``pin_id`` / ``item_id = ITEM_ID_OFFSET + item index``."""

USER_ACTIVITY_SIGMA = 1.6
"""Users' activity weights are log-normal with this sigma: a few users generate most events."""
ITEM_ZIPF_EXPONENT = 1.05
"""Item popularity ~ 1 / rank**s over a seeded permutation of the item ids."""

_CATEGORY_NAMES = tuple(name for name, _, _ in vocab.CATEGORIES)
_CATEGORY_CUM = cumulative([weight for _, weight, _ in vocab.CATEGORIES])
_SUBCATEGORY_COUNTS = tuple(len(subs) for _, _, subs in vocab.CATEGORIES)
_SUBCATEGORY_FIRST = tuple(sum(_SUBCATEGORY_COUNTS[:i]) for i in range(len(_SUBCATEGORY_COUNTS)))
_SUBCATEGORY_NAMES = tuple(sub for _, _, subs in vocab.CATEGORIES for sub in subs)
NUM_CATEGORIES = len(_CATEGORY_NAMES)
NUM_SUBCATEGORIES = len(_SUBCATEGORY_NAMES)


def power_law_rank(u: pl.Series, n: int, exponent: float) -> pl.Series:
    """Zipf-like ranks 0..n-1 from uniforms: the inverse CDF of a power law ``x ** -exponent`` on
    ``[1, n + 1)``, floored. Rank ``r`` gets probability ~ ``(r + 1) ** -exponent``, in O(1) per draw
    and without an n-sized table."""
    if abs(exponent - 1.0) < 1e-9:
        x = (u * math.log(n + 1.0)).exp()
    else:
        a = 1.0 - exponent
        x = (u * ((n + 1.0) ** a - 1.0) + 1.0).pow(1.0 / a)
    return (x.floor() - 1.0).clip(0, n - 1).cast(pl.UInt32)


def seeded_permutation(rng: Rng, n: int) -> pl.Series:
    """A permutation of ``0..n-1`` (UInt32) drawn from ``rng``; ties broken by index, so it is total."""
    frame = pl.DataFrame({
        "key": pl.Series(rng.hashes(n)),
        "idx": pl.int_range(0, n, dtype=pl.UInt32, eager=True),
    })
    return frame.sort(["key", "idx"])["idx"]


@dataclass(frozen=True)
class Population:
    """Users, items and queries: the per-entity arrays the event generators sample from."""

    users: int
    items: int
    user_cum: pl.Series
    """Cumulative activity distribution over user indexes."""
    user_country: pl.Series
    user_device: pl.Series
    item_by_rank: pl.Series
    """Item index of each popularity rank (popularity ~ Zipf over a seeded permutation of the items)."""
    missing_embedding: pl.Series
    """Boolean per item: absent from ``item_embeddings`` (a lookup miss)."""
    missing_category: pl.Series
    """Boolean per item: absent from ``item_categories`` (a lookup miss)."""
    query_by_rank: pl.Series
    """Query index of each popularity rank."""
    query_results: pl.Series
    """Typical number of results of each query (0 for the few zero-result queries)."""

    def draw_items(self, u: pl.Series) -> pl.Series:
        """Item indexes (UInt32) for uniforms ``u``: Zipf-like popularity."""
        return self.item_by_rank.gather(power_law_rank(u, self.items, ITEM_ZIPF_EXPONENT))

    def draw_queries(self, u: pl.Series) -> pl.Series:
        """Query indexes (UInt32) for uniforms ``u``: Zipf-like popularity."""
        ranks = power_law_rank(u, len(self.query_by_rank), vocab.QUERY_ZIPF_EXPONENT)
        return self.query_by_rank.gather(ranks)


def build_population(config: DemoDataConfig) -> Population:
    seed = config.seed
    users, items = config.users, config.items

    rng = Rng(seed, "users")
    z = rng.normal(users)
    activity = (z * USER_ACTIVITY_SIGMA).exp()
    activity_cum = activity.cum_sum()
    user_cum = activity_cum / activity_cum[-1]
    u_country, u_device = rng.uniforms(users, 2)
    user_country = choose(u_country, cumulative(vocab.COUNTRY_WEIGHTS))
    user_device = choose(u_device, cumulative(vocab.DEVICE_WEIGHTS))

    rng = Rng(seed, "items")
    item_by_rank = seeded_permutation(rng, items)
    u_emb, u_cat = rng.uniforms(items, 2)
    missing_embedding = u_emb < config.missing_item_rate
    missing_category = u_cat < config.missing_item_rate

    rng = Rng(seed, "queries")
    n_queries = len(vocab.QUERIES)
    query_by_rank = seeded_permutation(rng, n_queries)
    z_results = rng.normal(n_queries)
    u_zero = rng.uniform(n_queries)
    results = (z_results * vocab.NUM_RESULTS_SIGMA + math.log(vocab.NUM_RESULTS_MEDIAN)).exp().round()
    results = results.clip(1, 250_000).cast(pl.Int64)
    query_results = pl.select(
        pl.when(pl.lit(u_zero) < vocab.ZERO_RESULT_QUERY_RATE).then(0).otherwise(pl.lit(results))
    ).to_series().cast(pl.Int64)

    return Population(
        users=users,
        items=items,
        user_cum=user_cum,
        user_country=user_country,
        user_device=user_device,
        item_by_rank=item_by_rank,
        missing_embedding=missing_embedding,
        missing_category=missing_category,
        query_by_rank=query_by_rank,
        query_results=query_results,
    )


# --- lookup tables ------------------------------------------------------------------------------------------


def _item_taxonomy(seed: int, start: int, n: int) -> pl.DataFrame:
    """Category index, global sub-category index and the null-subcategory flag of items start..start+n."""
    rng = Rng(seed, "items", "taxonomy")
    u_cat, u_sub, u_null = rng.uniforms(n, 3, start=start)
    category = choose(u_cat, _CATEGORY_CUM)
    counts = pl.Series(_SUBCATEGORY_COUNTS, dtype=pl.Float64).gather(category)
    first = pl.Series(_SUBCATEGORY_FIRST, dtype=pl.UInt32).gather(category)
    within = (u_sub * counts).floor().cast(pl.UInt32).clip(0, counts.cast(pl.UInt32) - 1)
    return pl.DataFrame({
        "category": category,
        "subcategory": first + within,
        "null_subcategory": u_null < vocab.SUBCATEGORY_NULL_RATE,
    })


def item_categories_chunk(config: DemoDataConfig, population: Population, start: int, n: int) -> pl.DataFrame:
    """Rows of ``item_categories`` for items start..start+n, minus the items missing from it."""
    taxonomy = _item_taxonomy(config.seed, start, n)
    frame = pl.DataFrame({
        "item_id": pl.int_range(start, start + n, dtype=pl.Int64, eager=True) + ITEM_ID_OFFSET,
        "category": pl.Series(_CATEGORY_NAMES, dtype=pl.String).gather(taxonomy["category"]),
        "subcategory": pl.Series(_SUBCATEGORY_NAMES, dtype=pl.String).gather(taxonomy["subcategory"]),
        "_null_sub": taxonomy["null_subcategory"],
        "_missing": population.missing_category.slice(start, n),
    })
    return frame.filter(~pl.col("_missing")).select(
        "item_id",
        "category",
        pl.when(pl.col("_null_sub")).then(None).otherwise(pl.col("subcategory")).alias("subcategory"),
    )


EMBEDDING_BLOCK_ITEMS = 65_536
"""Embeddings are computed in blocks of this many items (2 M floats) to bound temporary memory."""


def item_embeddings_chunk(config: DemoDataConfig, population: Population, start: int, n: int) -> pl.DataFrame:
    """Rows of ``item_embeddings`` for items start..start+n, minus the items missing from it."""
    blocks = [
        _item_embeddings_block(config, population, block, min(EMBEDDING_BLOCK_ITEMS, start + n - block))
        for block in range(start, start + n, EMBEDDING_BLOCK_ITEMS)
    ]
    return pl.concat(blocks) if len(blocks) != 1 else blocks[0]


def _item_embeddings_block(config: DemoDataConfig, population: Population, start: int,
                           n: int) -> pl.DataFrame:
    """One block of :func:`item_embeddings_chunk`.

    An embedding is ``category centroid + 0.7 * subcategory offset + 0.45 * noise``, L2-normalised in
    float64 and stored as float32, so items of one (sub)category are close: similarity searches in a
    demo find sensible neighbours. Values are computed flat (item-major, ``EMBEDDING_DIM`` per item).
    """
    dim = EMBEDDING_DIM
    taxonomy = _item_taxonomy(config.seed, start, n)
    centroids = Rng(config.seed, "items", "category_centroids").normal(NUM_CATEGORIES * dim)
    offsets = Rng(config.seed, "items", "subcategory_offsets").normal(NUM_SUBCATEGORIES * dim)
    noise = Rng(config.seed, "items", "embedding_noise").normal(n * dim, start=start * dim)
    flat = pl.int_range(0, n * dim, dtype=pl.Int64, eager=True)
    item = flat // dim
    component = flat % dim
    category = taxonomy["category"].cast(pl.Int64).gather(item)
    subcategory = taxonomy["subcategory"].cast(pl.Int64).gather(item)
    values = (
        centroids.gather(category * dim + component)
        + 0.7 * offsets.gather(subcategory * dim + component)
        + 0.45 * noise
    )
    norms = (values * values).reshape((n, dim)).arr.sum().sqrt()
    embedding = (values / norms.gather(item)).cast(pl.Float32).reshape((n, dim)).cast(pl.List(pl.Float32))
    return pl.DataFrame({
        "item_id": pl.int_range(start, start + n, dtype=pl.Int64, eager=True) + ITEM_ID_OFFSET,
        "embedding": embedding,
        "_missing": population.missing_embedding.slice(start, n),
    }).filter(~pl.col("_missing")).drop("_missing")
