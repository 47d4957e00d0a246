"""CPU per request of the lookup path inside one process (no sockets, no wrk).

Best of 7 rounds of 500 requests through Django's test client, for `/health`
(the floor), `/api/v1/me` (authentication + DRF) and a metered, cached lookup,
so each change to the hot path can be measured before and after:

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/lookup_cpu.py

Run `bench/http_load.py` once first: it migrates the `bench` database and funds its user.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
from http_load import bench_env  # noqa: E402 - this directory: the HTTP benchmark's settings

os.environ.update(bench_env(), ALLOWED_HOSTS="testserver", DJANGO_SETTINGS_MODULE="config.settings")
warnings.simplefilter("ignore")


def best_cpu_ms(call: Callable[[], object], requests: int = 500, rounds: int = 7) -> float:
    for _ in range(50):
        call()
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(requests):
            call()
        best = min(best, (time.process_time() - started) / requests * 1000)
    return best


def main() -> int:
    import django

    django.setup()
    from django.test import Client

    from accounts import services
    from accounts.models import User

    user = User.objects.filter(email="bench@example.com").first()
    if user is None:
        print("Run bench/http_load.py first: it creates the funded bench user.", file=sys.stderr)
        return 2
    _, key = services.api_key_create(user=user, name="lookup_cpu")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = json.dumps({"asin": "B08N5WRWNW", "marketplace": "US"})

    health = best_cpu_ms(lambda: client.get("/health"))
    me = best_cpu_ms(lambda: client.get("/api/v1/me"))
    lookup = best_cpu_ms(lambda: client.post("/api/v1/products/asin", body, content_type="application/json"))
    print(f"{'target':<10}{'ms CPU':>10}{'vs /health':>12}")
    for name, value in (("health", health), ("me", me), ("lookup", lookup)):
        print(f"{name:<10}{value:>10.3f}{value / health:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
