"""Which bulk workers are alive: each worker's main process marks itself so in the shared cache.

A worker killed outright (SIGKILL, out of memory, its node lost) leaves its claimed items
behind, and its lane's message, unacknowledged, comes back only after the broker's
visibility timeout. A worker starting again under the same name releases what it held
(``bulk_claims_release_worker``), but a replacement usually has a new name (a new pod of
the Deployment). So every worker marks itself alive every ``BULK_WORKER_HEARTBEAT_SECONDS``,
for ``BULK_WORKER_ALIVE_SECONDS``, and ``bulk_claims_release_dead_workers`` releases the
claims of workers whose mark expired and queues their jobs again.

The mark is set by a thread of the worker's main process, beside its tasks (with the solo
pool they run in that process's main thread): a worker in the middle of a long chunk is
alive. The cache is Redis (the embedded one by default), which expires keys by its own
clock, so the clocks of the workers' hosts do not matter.

A live worker presumed dead costs work done twice, never a double charge (only the holder
of an item's claim can charge it), but it is avoided where it can be:

- only a worker seen sending heartbeats (a second, long-lived mark) can be presumed dead: a
  worker of a release without heartbeats, or one that died before the cache was emptied, is
  left to the sweep's ``BULK_CLAIM_TIMEOUT``;
- a cache that does not answer presumes nobody dead;
- a failed heartbeat is tried again at the next one, and a mark outlives at least one
  missed heartbeat (two with the defaults).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.core.cache import cache

from jobs.bulk.conf import bulk_settings

logger = logging.getLogger(__name__)

ALIVE_KEY = "bulk:worker-alive:{}"
SEEN_KEY = "bulk:worker-seen:{}"
# How long a worker is remembered as one that sends heartbeats: far longer than any wait for a
# worker to replace it, and a few keys per worker ever started.
SEEN_SECONDS = 7 * 24 * 3600


def _name(worker: str) -> str:
    return worker[:255]  # as an item's ``claimed_by`` keeps it


def bulk_worker_heartbeat(*, worker: str) -> None:
    """Mark ``worker`` alive for ``BULK_WORKER_ALIVE_SECONDS``."""
    name = _name(worker)
    cache.set(SEEN_KEY.format(name), 1, SEEN_SECONDS)
    cache.set(ALIVE_KEY.format(name), 1, bulk_settings().worker_alive_seconds)


def bulk_workers_dead(*, workers: Iterable[str]) -> list[str]:
    """Those of ``workers`` seen sending heartbeats whose last mark has expired."""
    names = list(dict.fromkeys(_name(worker) for worker in workers if worker))
    if not names:
        return []
    try:
        found = cache.get_many([key.format(name) for name in names for key in (ALIVE_KEY, SEEN_KEY)])
    except Exception:
        logger.warning(
            "bulk workers: the cache does not answer, so no worker is presumed dead", exc_info=True
        )
        return []
    return [name for name in names if SEEN_KEY.format(name) in found and ALIVE_KEY.format(name) not in found]


class WorkerHeartbeat:
    """Marks ``worker`` alive at once, then every ``BULK_WORKER_HEARTBEAT_SECONDS`` from a
    daemon thread until stopped."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bulk-worker-heartbeat", daemon=True)

    def start(self) -> None:
        # The first mark before the worker takes a task: whatever it claims, it was seen alive first.
        self._beat()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """No more heartbeats; the last mark expires on its own (claims a cold shutdown cut
        off are released then; a warm one leaves none)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.wait(bulk_settings().worker_heartbeat_seconds):
            self._beat()

    def _beat(self) -> None:
        try:
            bulk_worker_heartbeat(worker=self.worker)
        except Exception as exc:
            logger.warning(
                "bulk worker %s: its heartbeat failed (%r); the next one tries again", self.worker, exc
            )
