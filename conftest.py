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


CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@cache
def browser_problem() -> str | None:
    if not Path(CHROMIUM_PATH).exists():
        return f"No Chromium at {CHROMIUM_PATH}: apt-get install chromium (or set CHROMIUM_PATH)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (requirements-dev.txt)"
    return None


SERVICE_PROBLEMS = {"postgres": postgres_problem, "redis": redis_problem, "browser": browser_problem}
SCREENSHOT_DIR = BASE_DIR / "test-artifacts" / "screenshots"


def pytest_sessionstart(session: pytest.Session) -> None:
    # Persistent connections outlive a test's threads (live server, concurrency
    # tests) and would keep the test database busy at teardown.
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = 0
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


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A page in Debian's headless Chromium driven by Playwright.

    ``page.shot(name)`` saves a screenshot under test-artifacts/screenshots/.
    """
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        step = iter(range(1, 1000))

        def shot(name: str) -> None:
            page.screenshot(
                path=SCREENSHOT_DIR / f"{request.node.name}-{next(step):02d}-{name}.png", full_page=True
            )

        page.shot = shot  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            # The test's ORM connection was opened while Playwright's loop was
            # running, so asgiref keeps it in a context-local slot that
            # pytest-django's own close_all() would not see: close it here.
            from django.db import connections

            connections.close_all()
            context.close()
            browser.close()
