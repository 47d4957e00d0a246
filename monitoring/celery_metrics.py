"""Celery task metrics: every task run is counted by its final state and timed
(``CELERY_TASKS``, ``CELERY_TASK_SECONDS`` in monitoring/metrics.py).

Connected to Celery's signals by ``MonitoringConfig.ready()``, so the Celery app
(config/celery.py) imports nothing of monitoring's.
"""

from __future__ import annotations

import time
from typing import Any

from celery import signals

from monitoring.metrics import CELERY_TASK_SECONDS, CELERY_TASKS

# task id -> when it started, in this process.
_started: dict[str, float] = {}


def _task_started(task_id: str | None = None, **kwargs: Any) -> None:
    _started[task_id or ""] = time.perf_counter()


def _task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any
) -> None:
    name = getattr(task, "name", None) or "unknown"
    CELERY_TASKS.labels(name, (state or "unknown").lower()).inc()
    started = _started.pop(task_id or "", None)
    if started is not None:
        CELERY_TASK_SECONDS.labels(name).observe(time.perf_counter() - started)


def connect() -> None:
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="apip-task-metrics-start")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="apip-task-metrics-end")
