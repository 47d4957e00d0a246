"""Workers' heartbeats (jobs/bulk/heartbeats.py): alive while it beats, dead once it stopped."""

from __future__ import annotations

import time

import pytest

from jobs.bulk import heartbeats


@pytest.fixture(autouse=True)
def _short_heartbeats(settings) -> None:
    settings.BULK_WORKER_HEARTBEAT_SECONDS = 0.1
    settings.BULK_WORKER_ALIVE_SECONDS = 0.5


def test_a_worker_is_alive_while_it_beats_and_dead_once_it_stopped():
    beating = heartbeats.WorkerHeartbeat("celery@w1")
    beating.start()
    try:
        assert heartbeats.bulk_workers_dead(workers=["celery@w1"]) == []  # marked before start returns
        time.sleep(1.2)  # more than twice the mark's lifetime
        assert heartbeats.bulk_workers_dead(workers=["celery@w1"]) == []
    finally:
        beating.stop()
    time.sleep(0.7)

    assert heartbeats.bulk_workers_dead(workers=["celery@w1", "", "celery@w1"]) == ["celery@w1"]


def test_a_worker_never_seen_beating_is_not_presumed_dead():
    assert heartbeats.bulk_workers_dead(workers=["celery@of-an-earlier-release"]) == []
    assert heartbeats.bulk_workers_dead(workers=[]) == []


def test_a_failed_heartbeat_does_not_stop_the_next_ones(monkeypatch):
    calls: list[str] = []
    real = heartbeats.bulk_worker_heartbeat

    def flaky(*, worker: str) -> None:
        calls.append(worker)
        if len(calls) <= 2:
            raise ConnectionError("Redis timed out")
        real(worker=worker)

    monkeypatch.setattr(heartbeats, "bulk_worker_heartbeat", flaky)
    beating = heartbeats.WorkerHeartbeat("celery@w2")
    beating.start()  # its first heartbeat fails: the worker still starts
    try:
        time.sleep(0.5)
        assert len(calls) >= 3
        assert heartbeats.bulk_workers_dead(workers=["celery@w2"]) == []
    finally:
        beating.stop()
