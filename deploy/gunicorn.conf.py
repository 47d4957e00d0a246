"""gunicorn settings for the web container (environment variables override)."""

import multiprocessing
import os
import shutil
import tempfile
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never takes a pod down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# One line per request costs about a twentieth of a cheap request's CPU, formatted
# whether or not anything reads it. Off by default: the ingress logs every request,
# the request metrics count them by view and status, and the app logs every error.
# GUNICORN_ACCESS_LOG=- writes them to stdout.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# The longest request line gunicorn takes (its maximum); the app answers URLs over
# MAX_URL_LENGTH (4096) itself, with 414 in the API's error shape (config/request_limits.py).
limit_request_line = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# --- Metrics of all workers (prometheus_client multiprocess mode) -----------------------------
# Each worker writes its counters to files in PROMETHEUS_MULTIPROC_DIR and
# /metrics (monitoring/metrics_view.py) adds up every worker's files, so a scrape
# sees the whole server whichever worker answers it. Set before any worker
# imports prometheus_client; one directory per server (its master's pid unless
# set), emptied at start so a restart does not count an earlier run twice.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"apip-prometheus-{os.getpid()}")
)


def on_starting(server: object) -> None:
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def child_exit(server: object, worker: Any) -> None:
    # A recycled or killed worker's live gauges stop counting; its counters stay summed.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: object) -> None:
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
