"""Two processes racing on one pointer: every publish lands, in one gap-free, chained history.

This is the test for the compare-and-set protocol. Each worker is a separate *spawned* process
with its own store instance (and, for S3, its own client), so the only thing serialising them is
the backend's atomic create-if-absent.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import queue
import time
import traceback
from collections import Counter
from typing import TYPE_CHECKING, Any

from feature_platform.store import ArtefactStore, open_store
from tests.store.artefacts import FEATURE_ID, sealed

if TYPE_CHECKING:
    from tests.store.conftest import StoreLocation

ENV = "prod"
PUBLISHES_PER_WORKER = 40
TIMEOUT_S = 90.0


class _LostRaces(logging.Handler):
    """Counts the store's "lost the race" debug messages, to show the run really contended."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("lost the race"):
            self.count += 1


def _publish_many(
    url: str, endpoint_url: str | None, actor: str, hashes: list[str], barrier: Any, results: Any
) -> None:
    """Worker process body: publish alternately from ``hashes``, report what each publish returned."""
    try:
        lost = _LostRaces()
        store_logger = logging.getLogger("feature_platform.store.store")
        store_logger.addHandler(lost)
        store_logger.setLevel(logging.DEBUG)
        store = open_store(url, endpoint_url=endpoint_url)
        store.current(ENV, FEATURE_ID)  # build the client and connect before the start line
        barrier.wait(timeout=TIMEOUT_S)
        returned = []
        for i in range(PUBLISHES_PER_WORKER):
            entry = store.publish(ENV, FEATURE_ID, hashes[i % len(hashes)], actor=actor, max_attempts=500)
            returned.append((entry.generation, entry.actor, entry.to_hash))
        results.put((actor, "ok", returned, lost.count))
    except BaseException:
        results.put((actor, "error", traceback.format_exc(), 0))


def test_two_processes_publishing_to_one_pointer_lose_no_update(
    store: ArtefactStore, store_location: StoreLocation
) -> None:
    # Disjoint hash sets, each alternated by one worker: whatever the other worker did, the hash a
    # worker publishes is never the live one, so every publish is a real change (never a no-op).
    hashes = [store.put_artefact(sealed(f"concurrent {i}")[0]) for i in range(4)]
    plan = {"writer-a": hashes[:2], "writer-b": hashes[2:]}

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(plan))
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_publish_many,
            args=(store_location.url, store_location.endpoint_url, actor, own, barrier, results),
            name=actor,
        )
        for actor, own in plan.items()
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    reports = {}
    try:
        for _ in workers:
            actor, status, payload, lost = results.get(timeout=TIMEOUT_S)
            assert status == "ok", f"{actor} failed:\n{payload}"
            reports[actor] = (payload, lost)
    except queue.Empty:  # pragma: no cover - diagnostics only
        raise AssertionError(f"workers did not finish within {TIMEOUT_S}s") from None
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():  # pragma: no cover
                worker.kill()
    elapsed = time.monotonic() - started
    assert [w.exitcode for w in workers] == [0, 0]

    history = store.history(ENV, FEATURE_ID)  # itself checks: no gaps, every from_hash chained

    total = PUBLISHES_PER_WORKER * len(plan)
    assert [e.generation for e in history] == list(range(1, total + 1))
    assert history[0].from_hash is None
    assert all(later.from_hash == earlier.to_hash for earlier, later in itertools.pairwise(history))
    assert all(e.from_hash != e.to_hash for e in history)
    assert Counter(e.actor for e in history) == {actor: PUBLISHES_PER_WORKER for actor in plan}
    assert store.current(ENV, FEATURE_ID) == history[-1]
    # Every publish a worker saw succeed is exactly the entry the log holds at that generation:
    # no two writers ever both won one generation.
    by_generation = {e.generation: (e.generation, e.actor, e.to_hash) for e in history}
    for actor, (returned, _) in reports.items():
        assert [r[1] for r in returned] == [actor] * PUBLISHES_PER_WORKER
        assert [r[2] for r in returned] == [plan[actor][i % 2] for i in range(PUBLISHES_PER_WORKER)]
        assert all(by_generation[r[0]] == r for r in returned)
        assert [r[0] for r in returned] == sorted(r[0] for r in returned)
    lost_races = sum(lost for _, lost in reports.values())
    print(f"{store_location.kind}: {total} publishes, {lost_races} lost races retried, {elapsed:.1f}s")
