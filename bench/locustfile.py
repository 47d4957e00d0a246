"""Mixed API workload for locust: what integrators do, in proportion.

    LOAD_API_KEYS=key1,key2 locust -f bench/locustfile.py --host http://127.0.0.1:8000

bench/load_mixed.py sets everything up (server, worker, users, keys, FNSKU
mappings) and runs this headless. Each simulated user takes one of the real
API keys in LOAD_API_KEYS and, per 16 requests on average, does:

- 10 ASIN lookups (the hot path; ASINs drawn from a pool, so most are cached),
- 3 balance reads,
- 2 FNSKU conversions (codes the platform has mappings for, LOAD_FNSKUS),
- 1 bulk job: a small CSV upload (5 ASINs) handled by the Celery worker.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid

from locust import FastHttpUser, task
from locust.exception import StopUser

ASIN_POOL = [f"B0LOAD{i:04d}" for i in range(int(os.environ.get("LOAD_ASIN_POOL", "500")))]
BULK_ROWS = 5
API_KEYS = [k for k in os.environ.get("LOAD_API_KEYS", "").split(",") if k]
FNSKUS = [f for f in os.environ.get("LOAD_FNSKUS", "").split(",") if f]
_next_key = itertools.cycle(range(max(len(API_KEYS), 1)))


class Integrator(FastHttpUser):
    # No think time: each user sends its next request as soon as the last one is answered.

    def on_start(self) -> None:
        if not API_KEYS:
            raise StopUser("LOAD_API_KEYS is empty")
        self.headers = {"Authorization": f"Bearer {API_KEYS[next(_next_key)]}"}

    @task(10)
    def asin_lookup(self) -> None:
        self.client.post(
            "/api/v1/products/asin",
            json={"asin": random.choice(ASIN_POOL), "marketplace": "US"},
            headers=self.headers,
            name="POST /products/asin",
        )

    @task(3)
    def balance(self) -> None:
        self.client.get("/api/v1/credits/balance", headers=self.headers, name="GET /credits/balance")

    @task(2)
    def fnsku_conversion(self) -> None:
        if not FNSKUS:
            return
        self.client.post(
            "/api/v1/conversion/fnsku",
            json={"fnsku": random.choice(FNSKUS), "marketplace": "US"},
            headers=self.headers,
            name="POST /conversion/fnsku",
        )

    @task(1)
    def bulk_job(self) -> None:
        rows = "".join(f"{asin}\r\n" for asin in random.sample(ASIN_POOL, BULK_ROWS))
        boundary = uuid.uuid4().hex
        body = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="marketplace"\r\n\r\nUS\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="asins.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
            f"ASIN\r\n{rows}\r\n"
            f"--{boundary}--\r\n"
        )
        self.client.post(
            "/api/v1/products/bulk",
            data=body,
            headers={**self.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            name="POST /products/bulk (CSV)",
        )
