"""``make run``: the whole platform on its embedded default, in one terminal.

Migrates, creates the demo user, then starts the web server, a real Celery
worker and Celery beat on the embedded defaults (SQLite, the embedded Redis,
the filesystem broker) and stops them all, and the embedded Redis, on Ctrl-C.
It serves on ``HOST``:``PORT`` (127.0.0.1:8000), which is also the address
links in emails point to (``SITE_URL``, unless that is set). The periodic
tasks' routine log lines are left out (``LOG_PERIODIC_TASK_TICKS=0``), so the
emails the console backend prints here stay readable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import MutableMapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def _wait_until_up(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own address
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def address(environ: MutableMapping[str, str]) -> tuple[str, str, str]:
    """The host, port and base URL the web server serves on (``HOST``, ``PORT``), which is
    also the platform's ``SITE_URL`` (links in emails) unless that is set; and quiet
    periodic tasks. The web server, the worker and beat read both from the environment
    they inherit."""
    host = environ.get("HOST", "127.0.0.1")
    port = environ.get("PORT", "8000")
    base_url = f"http://{host}:{port}"
    environ.setdefault("SITE_URL", base_url)
    # No line per beat tick (one every 5 s) burying the banner and the emails printed here.
    environ.setdefault("LOG_PERIODIC_TASK_TICKS", "0")
    return host, port, base_url


def main() -> int:
    host, port, base_url = address(os.environ)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

    import django
    from django.conf import settings

    django.setup()
    from config import embedded

    embedded_redis = not settings.REDIS_URL
    if embedded_redis:
        embedded.ensure_server(settings.EMBEDDED_REDIS_DIR)

    _manage("migrate", "--noinput")
    banner = _manage("demo", "--base-url", base_url, capture=True)

    celery = [PYTHON, "-m", "celery", "-A", "config"]
    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"{host}:{port}"],
        "worker": [*celery, "worker", "--loglevel=INFO", "--concurrency=2", "--hostname=worker@%h"],
        "beat": [*celery, "beat", "--loglevel=INFO", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
    }
    # Each child leads its own process group, so stopping it also stops what it
    # started (the autoreloader's server, the worker's pool processes).
    processes = {
        name: subprocess.Popen(command, cwd=BASE_DIR, start_new_session=True)  # noqa: S603
        for name, command in commands.items()
    }

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    if _wait_until_up(f"{base_url}/health", timeout=30):
        print(banner, flush=True)
        print("Press Ctrl-C to stop the web server, the worker and beat.", flush=True)

    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the platform.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.5)

    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    if embedded_redis:
        embedded.stop_server(settings.EMBEDDED_REDIS_DIR)
    print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
