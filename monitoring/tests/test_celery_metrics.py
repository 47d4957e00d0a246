"""Celery task metrics, connected by the monitoring app (config/celery.py imports no app)."""

from config.celery import ping
from monitoring.metrics import CELERY_TASK_SECONDS, CELERY_TASKS


def _count(name: str, state: str) -> float:
    return CELERY_TASKS.labels(name, state)._value.get()


def _timed(name: str) -> float:
    return CELERY_TASK_SECONDS.labels(name)._sum.get()


def test_a_task_run_is_counted_by_state_and_timed():
    counted, timed = _count("config.ping", "success"), _timed("config.ping")

    assert ping.apply().get() == "pong"

    assert _count("config.ping", "success") == counted + 1
    assert _timed("config.ping") > timed
