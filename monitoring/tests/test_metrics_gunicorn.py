"""/metrics under gunicorn with several workers (multiprocess mode), checked by promtool.

A real server on PostgreSQL and Redis, as deployed (deploy/gunicorn.conf.py,
DEBUG=0, JSON logs): requests spread over the workers, and one scrape, from
whichever worker answers, counts all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from accounts.tests.factories import api_key_for
from config.tests.gunicorn import gunicorn, production_environment
from credits.tests.factories import funded_user
from monitoring.tests.promtool import promtool

BASE_DIR = Path(__file__).resolve().parents[2]
WORKERS = 3
HEALTH_REQUESTS = 60
LOOKUPS = 6
ASIN = "B08N5WRWNW"
SCRAPE_TOKEN = "gunicorn-metrics-scrape-token-0123456789"
SCRAPER = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    metrics_dir = tmp_path / "prometheus"
    access_log = tmp_path / "access.log"
    env = production_environment(
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN=SCRAPE_TOKEN,
        METRICS_PUBLIC="0",
        METRICS_ALLOWED_NETWORKS="",
        WEB_CONCURRENCY=str(WORKERS),
    )
    access = ("--access-logfile", str(access_log), "--access-logformat", "%(p)s %(m)s %(U)s %(s)s")
    with gunicorn(env, tmp_path, *access) as base:
        yield base, access_log, metrics_dir


def samples_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_add_up_every_worker_and_pass_promtool(gunicorn_server):
    base, access_log, metrics_dir = gunicorn_server
    user = funded_user(credits=100)
    _, raw_key = api_key_for(user)
    auth = {"Authorization": f"Bearer {raw_key}"}

    # Concurrent, so the requests spread over the workers. A quick /health can still be served
    # by one worker alone when the others are not scheduled in time: burst again (up to five
    # times) until the access log shows two workers.
    health: list[int] = []
    with ThreadPoolExecutor(max_workers=12) as pool:
        for _ in range(5):
            health += pool.map(
                lambda _: requests.get(f"{base}/health", timeout=10).status_code, range(HEALTH_REQUESTS)
            )
            logged = [line.split() for line in access_log.read_text().splitlines()]
            served_by = {line[0] for line in logged if line[2:3] == ["/health"]}
            if len(served_by) >= 2:
                break
    lookups = [
        requests.post(
            f"{base}/api/v1/products/asin", json={"asin": ASIN, "marketplace": "US"}, headers=auth, timeout=20
        )
        for _ in range(LOOKUPS)
    ]
    assert health == [200] * len(health)
    assert [r.status_code for r in lookups] == [200] * LOOKUPS, lookups[-1].text
    assert lookups[0].headers["X-Request-ID"]

    scrapes = [requests.get(f"{base}/metrics", headers=SCRAPER, timeout=10) for _ in range(3)]
    for scrape in scrapes:
        assert scrape.status_code == 200
        assert scrape.headers["Content-Type"].startswith("text/plain")
    text = scrapes[-1].text
    samples = samples_of(text)

    # The access log: which worker (pid) served each request, startup probes included.
    lines = [line.split() for line in access_log.read_text().splitlines()]
    health_lines = [line for line in lines if line[2:3] == ["/health"]]
    assert len(health_lines) >= HEALTH_REQUESTS
    assert len({line[0] for line in health_lines}) >= 2, "the health requests were all served by one worker"

    by_view = "django_http_requests_total_by_view_transport_method_total"
    health_view = (("method", "GET"), ("transport", "http"), ("view", "health"))
    assert samples[(by_view, health_view)] == len(health_lines)
    lookup_view = (("method", "POST"), ("transport", "http"), ("view", "api:product-lookup"))
    assert samples[(by_view, lookup_view)] == LOOKUPS
    ok = (("channel", "api"), ("marketplace", "US"), ("outcome", "ok"))
    assert samples[("apip_lookups_total", (*ok[:2], ("outcome", "ok"), ("source", "upstream")))] == 1
    assert samples[("apip_lookups_total", (*ok[:2], ("outcome", "ok"), ("source", "cache")))] == LOOKUPS - 1
    assert samples[("apip_credits_total", (("kind", "charge"), ("operation", "asin_lookup")))] == LOOKUPS
    assert samples[("django_db_execute_total", (("alias", "default"), ("vendor", "postgresql")))] > 0
    assert samples[("django_cache_get_total", (("backend", "redis"),))] > 0
    assert samples[("apip_provider_circuit_state", (("provider", "sandbox"), ("state", "closed")))] == 1
    # Every worker wrote its own files; the scrape added them up.
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 2

    check = promtool("check", "metrics", stdin=text)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_lookups_request_id_comes_back_and_bad_ones_are_replaced(gunicorn_server):
    base, _, _ = gunicorn_server

    given = requests.get(f"{base}/health", headers={"X-Request-ID": "req-abc.123_X"}, timeout=10)
    forged = requests.get(f"{base}/health", headers={"X-Request-ID": "bad id <script>"}, timeout=10)

    assert given.headers["X-Request-ID"] == "req-abc.123_X"
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])


def test_a_production_server_serves_metrics_only_to_the_token(gunicorn_server):
    base, _, _ = gunicorn_server

    anonymous = requests.get(f"{base}/metrics", timeout=10)
    wrong = requests.get(f"{base}/metrics", headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    scraper = requests.get(f"{base}/metrics", headers=SCRAPER, timeout=10)

    assert anonymous.status_code == 403
    assert anonymous.json()["error"]["code"] == "forbidden"
    assert b"apip_" not in anonymous.content
    assert wrong.status_code == 403
    assert scraper.status_code == 200
    assert "apip_collector_up" in scraper.text
