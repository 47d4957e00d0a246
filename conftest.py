"""Test-suite wiring: real services when configured, clear skips when not.

Tests marked ``postgres``, ``redis`` or ``celery_worker`` need a real
PostgreSQL (``DATABASE_URL``), a Redis server (``REDIS_URL``) or a Celery
worker process on the configured broker. When one is missing they are skipped
with the reason; with ``REQUIRE_SERVICES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

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
# A screenshot shows the page's top this many CSS pixels at most: ReDoc's whole reference is
# tens of thousands of pixels tall and a full-page capture of it outlasts the screenshot
# timeout on a loaded CI machine, while what a reviewer looks at is the top.
SCREENSHOT_MAX_HEIGHT = 4000


def save_screenshot(page: Any, path: Path) -> None:
    """Save ``page`` whole, or its top ``SCREENSHOT_MAX_HEIGHT`` pixels when it is taller."""
    width, height = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    clip = {"x": 0, "y": 0, "width": width, "height": min(height, SCREENSHOT_MAX_HEIGHT)}
    page.screenshot(path=path, full_page=True, clip=clip)


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


# Tests that start processes or a browser take seconds each: marked `slow` here, beside those
# marked by hand; all run in `make test`, `pytest -m "not slow"` leaves them out of a quick loop.
SLOW_FIXTURES = frozenset(
    {"celery_workers", "celery_worker_process", "browser_page", "camera_page", "live_server"}
)
SLOW_MARKERS = ("celery_worker", "browser")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SLOW_FIXTURES or any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _exclusive(request: pytest.FixtureRequest) -> Iterator[None]:
    """``@pytest.mark.exclusive(name)``: one such test at a time across the xdist workers of a run
    (an exclusive lock on a file named after the run and ``name``); without xdist, nothing."""
    marker = request.node.get_closest_marker("exclusive")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if marker is None or not run:
        yield
        return
    import fcntl
    import tempfile

    path = Path(tempfile.gettempdir()) / f"pytest-exclusive-{run}-{marker.args[0]}.lock"
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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

    from accounts.selectors import api_key_principals_forget_all
    from products.store import product_local_cache_clear

    yield
    # Only this suite's keys (the cache's key prefix), never a whole server, and what
    # this process keeps in memory in front of them.
    django_cache.delete_pattern("*")  # type: ignore[attr-defined]
    api_key_principals_forget_all()
    product_local_cache_clear()


# --- Shared fixtures: the signed-up user most tests act as, and their API client ---------------------
# Factories live in <app>/tests/factories.py; these are the fixtures every app used to declare.


@pytest.fixture
def user_credits() -> int:
    """The credits the ``user`` fixture's account holds: override it in a module or conftest."""
    return 100


@pytest.fixture
def user(db: None, user_credits: int) -> Any:
    """A verified user (password ``accounts.tests.factories.PASSWORD``) with ``user_credits`` credits."""
    from credits.tests.factories import funded_user

    return funded_user(credits=user_credits)


@pytest.fixture
def api(user: Any) -> Any:
    """A DRF ``APIClient`` sending a fresh API key of ``user`` (default scopes)."""
    from rest_framework.test import APIClient

    from accounts.tests.factories import api_key_for

    client = APIClient()
    _, raw = api_key_for(user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


class CeleryWorker:
    """A real ``celery worker`` process (and its pool and embedded beat, in its own process group)."""

    def __init__(self, process: subprocess.Popen[str], log_path: Path, nodename: str) -> None:
        self.process = process
        self.log_path = log_path
        self.nodename = nodename

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and everything it started: no shutdown, no acks, as a crash."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM): running tasks finish first."""
        if not self.alive():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


class CeleryWorkers:
    """Starts real worker processes on the configured broker, against the test database.

    The worker gets ``DATABASE_URL`` naming the test database (pytest-django's
    ``test_...``, not the development one), and this process's Redis, broker
    and cache key prefix, plus ``env``; so a test using it must let other
    processes see its data: it is a ``django_db(transaction=True)`` test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.workers: list[CeleryWorker] = []

    @staticmethod
    def database_url() -> str:
        from urllib.parse import quote

        from django.db import connection

        db = connection.settings_dict
        if db["ENGINE"] == "django.db.backends.sqlite3":
            name = str(db["NAME"])
            if connection.is_in_memory_db():
                pytest.skip("A worker process cannot open an in-memory SQLite test database: use PostgreSQL.")
            return f"sqlite:///{name}"
        user = quote(str(db.get("USER") or ""), safe="")
        password = quote(str(db.get("PASSWORD") or ""), safe="")
        auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
        host = db.get("HOST") or "localhost"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{quote(str(db['NAME']), safe='')}"

    def environment(self, env: dict[str, str] | None = None) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CACHE_KEY_PREFIX": str(settings.CACHES["default"].get("KEY_PREFIX", "")),
            **(env or {}),
        }

    def start(
        self,
        name: str = "worker",
        *,
        env: dict[str, str] | None = None,
        beat: bool = False,
        pool: str = "solo",
        concurrency: int = 1,
        timeout: float = 30,
    ) -> CeleryWorker:
        """Start a worker named ``name`` and wait until it answers.

        Starting one under the name of a killed one is that worker's restart."""
        from config.celery import app

        nodename = f"test-{os.getpid()}-{name}@{socket.gethostname()}"
        log_path = self.tmp_path / f"worker-{name}-{len(self.workers)}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            f"--hostname={nodename}",
            "--without-mingle",
            "--without-gossip",
        ]
        if beat:
            command += ["--beat", f"--schedule={self.tmp_path / f'beat-{name}-{len(self.workers)}'}"]
        log = open(log_path, "w")  # noqa: SIM115 - the child writes to it; closed by the OS with it
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.environment(env),
            start_new_session=True,  # its own process group: kill() takes the pool and beat too
        )
        log.close()
        worker = CeleryWorker(process, log_path, nodename)
        self.workers.append(worker)
        deadline = time.monotonic() + timeout
        while not app.control.ping(destination=[nodename], timeout=0.5):
            if not worker.alive() or time.monotonic() > deadline:
                worker.kill()
                pytest.fail(f"Celery worker {nodename} did not start:\n{worker.log()}")
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()


@pytest.fixture
def celery_workers(transactional_db: None, tmp_path: Path) -> Iterator[CeleryWorkers]:
    """A factory of real Celery worker processes on the test database; all stopped afterwards."""
    from config.celery import app

    app.control.purge()  # what earlier tests left in this suite's broker
    workers = CeleryWorkers(tmp_path)
    try:
        yield workers
    finally:
        workers.stop_all()
        app.control.purge()


@pytest.fixture
def celery_worker_process(celery_workers: CeleryWorkers) -> subprocess.Popen[str]:
    """One real Celery worker process on the configured broker, stopped afterwards."""
    worker = celery_workers.start()
    worker.process.log_path = worker.log_path  # type: ignore[attr-defined]
    return worker.process


@contextmanager
def _chromium_page(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, extra_args: list[str]
) -> Iterator[Any]:
    """A page in Debian's headless Chromium driven by Playwright, with ``shot`` and ``nav``."""
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
                *extra_args,
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        step = iter(range(1, 1000))

        def shot(name: str) -> None:
            save_screenshot(page, SCREENSHOT_DIR / f"{request.node.name}-{next(step):02d}-{name}.png")

        def nav(name: str) -> None:
            """Follow the main nav's link ``name`` as a person would: open the phone menu or the
            link's group (Products, Account, ...) first when the link is folded away."""
            # include_hidden: a link folded in a closed group is still found (then shown).
            link = page.locator("#site-nav").get_by_role("link", name=name, exact=True, include_hidden=True)
            if not link.is_visible():
                toggle = page.locator(".menu-toggle")
                if toggle.is_visible():
                    toggle.click()
                else:
                    link.locator("xpath=ancestor::details[1]/summary").click()
            link.click()

        page.shot = shot  # type: ignore[attr-defined]
        page.nav = nav  # type: ignore[attr-defined]
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


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A page in Debian's headless Chromium driven by Playwright.

    ``page.shot(name)`` saves a screenshot under test-artifacts/screenshots/; ``page.nav(name)``
    follows a link of the main nav, opening its menu or group first.
    """
    with _chromium_page(request, monkeypatch, []) as page:
        yield page


@pytest.fixture
def fake_camera_video() -> Path:
    """The video the fake camera of ``camera_page`` plays (Y4M or MJPEG): a test module that
    uses ``camera_page`` defines this fixture."""
    raise pytest.UsageError("camera_page needs a fake_camera_video fixture (the file the camera plays)")


@pytest.fixture
def camera_page(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, fake_camera_video: Path
) -> Iterator[object]:
    """``browser_page`` with a camera: Chromium's fake capture device plays ``fake_camera_video``
    in a loop, and every page's camera request is granted without a prompt."""
    args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={fake_camera_video}",
    ]
    with _chromium_page(request, monkeypatch, args) as page:
        yield page
