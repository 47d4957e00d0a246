"""A real gunicorn server on the test database, as deployed (deploy/gunicorn.conf.py, DEBUG=0)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    db = settings.DATABASES["default"]  # the test database, which the server must share
    user = f"{db['USER']}@" if db["USER"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"


def production_environment(**overrides: str) -> dict[str, str]:
    """What a deployment sets, on this machine's test database and Redis."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "DEBUG": "0",
        "SECRET_KEY": "gunicorn-test-secret-key-0123456789abcdefghijklmnopqrstuv",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Production refuses to start without them; nothing here sends mail or scrapes.
        "EMAIL_URL": "dummymail://",
        "METRICS_TOKEN": "gunicorn-test-metrics-token",
        "SITE_URL": "http://127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "CONN_MAX_AGE": "0",
        **overrides,
    }


@contextmanager
def gunicorn(env: dict[str, str], log_dir: Path, *extra_args: str) -> Iterator[str]:
    """Start gunicorn, wait for /health, yield its base URL; stop it (and its workers) after."""
    port = free_port()
    error_log = log_dir / "server.log"
    with open(error_log, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--config",
                "deploy/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                *extra_args,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, error_log.read_text()
                assert time.monotonic() < deadline, error_log.read_text()
                try:
                    if requests.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
