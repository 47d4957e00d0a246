"""The Celery application.

Its settings live in config/settings.py under the CELERY_ namespace: late acks,
reject on worker loss, prefetch 1, JSON only and explicit time limits, so a
killed worker's task is redelivered rather than lost.
"""

import logging.config
import os
from pathlib import Path
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # prometheus_client writes there from the first metric on: it must exist.
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="config.ping", ignore_result=False)
def ping() -> str:
    """Answered by any worker; used by the readiness check and tests."""
    return "pong"


# --- Monitoring: task metrics, request ids, logging ---------------------------------------------
# A task's log lines carry the id of the request that enqueued it (a message
# header), its run is counted and timed (monitoring/celery_metrics.py, connected by the
# monitoring app, so this module imports no app), and a worker given
# CELERY_METRICS_PORT serves its pool's metrics there (PROMETHEUS_MULTIPROC_DIR
# shared by the pool's processes, emptied when the worker starts).

# task id -> the request-id context token to restore (an eager task runs inside the
# request that called it, which keeps its own id afterwards).
_task_started: dict[str, Any] = {}


@signals.setup_logging.connect
def _use_django_logging(loglevel: int | str | None = None, **kwargs: Any) -> None:
    """Django's LOGGING (JSON with request ids in production) instead of Celery's own format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@signals.before_task_publish.connect
def _carry_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    from config.logging import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id and "request_id" not in headers:
        headers["request_id"] = request_id


@signals.task_prerun.connect
def _task_started_signal(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    from config.logging import clean_request_id, request_id_var

    given = getattr(getattr(task, "request", None), "request_id", None)
    # A task not started by a request gets its own id, so its lines still group.
    token = request_id_var.set(clean_request_id(given) if given else f"task-{task_id}")
    _task_started[task_id or ""] = token


@signals.task_postrun.connect
def _task_finished_signal(
    task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any
) -> None:
    from config.logging import request_id_var

    started = _task_started.pop(task_id or "", None)
    if started is not None:
        try:
            request_id_var.reset(started)
        except ValueError:  # set in another context (thread): nothing to restore here
            request_id_var.set(None)


@signals.worker_init.connect
def _serve_worker_metrics(**kwargs: Any) -> None:
    from django.conf import settings

    port = settings.CELERY_METRICS_PORT
    if not port:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        # Before the pool forks: files of an earlier run would count twice
        # (this process's own are in use and start from zero anyway).
        for stale in Path(directory).glob("*.db"):
            if not stale.name.endswith(f"_{os.getpid()}.db"):
                stale.unlink(missing_ok=True)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(port, registry=registry)
    else:
        start_http_server(port)


@signals.worker_process_shutdown.connect
def _pool_process_gone(pid: int | None = None, **kwargs: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
