"""Test-suite wiring: real services when configured, clear skips when not.

Tests marked ``postgres``, ``redis`` or ``celery_worker`` need a real
PostgreSQL (``DATABASE_URL``), a Redis server (``REDIS_URL``) or a Celery
worker process on the configured broker. When one is missing they are skipped
with the reason; with ``REQUIRE_SERVICES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
BASE_DIR = Path(__file__).resolve().parent


@cache
def postgres_problem() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "PostgreSQL is not configured: set DATABASE_URL=postgres://root@127.0.0.1:5432/platform"
    return None


@cache
def redis_problem() -> str | None:
    if not settings.REDIS_URL:
        return "No Redis server configured: set REDIS_URL=redis://127.0.0.1:6379/15"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {settings.REDIS_URL} is unreachable: {exc}"
    return None


SERVICE_PROBLEMS = {"postgres": postgres_problem, "redis": redis_problem}


def pytest_sessionstart(session: pytest.Session) -> None:
    # A configured but dead service would make every database test error out
    # with a long trace; say it once, plainly.
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine == "django.db.backends.postgresql":
        import psycopg

        db = settings.DATABASES["default"]
        try:
            psycopg.connect(
                host=db["HOST"] or None,
                port=db["PORT"] or None,
                user=db["USER"] or None,
                dbname="postgres",
                connect_timeout=2,
            ).close()
        except psycopg.OperationalError as exc:
            pytest.exit(f"DATABASE_URL points at PostgreSQL, which is unreachable: {exc}", returncode=3)


@pytest.fixture(autouse=True)
def _services_for_markers(request: pytest.FixtureRequest) -> None:
    for marker, problem in SERVICE_PROBLEMS.items():
        if request.node.get_closest_marker(marker) and (reason := problem()):
            if REQUIRE_SERVICES:
                pytest.fail(f"REQUIRE_SERVICES=1: {reason}")
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_cache() -> Iterator[None]:
    from django.core.cache import cache as django_cache

    yield
    # Only this suite's keys (the cache's key prefix), never a whole server.
    django_cache.delete_pattern("*")  # type: ignore[attr-defined]


@pytest.fixture
def celery_worker_process(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A real Celery worker process on the configured broker, stopped afterwards."""
    from config.celery import app

    log_path = tmp_path / "worker.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            f"--hostname=test-{os.getpid()}@%h",
        ],
        cwd=BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    process.log_path = log_path  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while not app.control.ping(timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Celery worker did not start:\n{log_path.read_text()}")
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
