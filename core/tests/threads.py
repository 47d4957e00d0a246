"""Racing threads for the concurrency tests: each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def race(action: Callable[[], Any], racers: int) -> list[Any]:
    """Run ``action`` in ``racers`` threads released at the same moment; their results, once all
    have finished. Any exception, or a thread that hangs, fails the test."""
    barrier = threading.Barrier(racers)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            result = action()
            with lock:
                results.append(result)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a racing call hung"
    assert not errors, errors
    assert len(results) == racers
    return results
