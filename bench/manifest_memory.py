"""A manifest worker's memory, in one process: RSS after each of 6 manifests of 400 new ASIN lines.

    DATABASE_URL=postgres://root@127.0.0.1:5432/platform REDIS_URL=redis://127.0.0.1:6379/5 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/4 SANDBOX_LATENCY_MS=0 .venv/bin/python bench/manifest_memory.py

Runs the engine's ``bulk_job_work`` here (what a worker runs) on a throw-away database
(``bench_memory_<pid>``), the sandbox's rate unlimited, first with ``DEBUG`` on (the settings'
default: Django keeps each connection's last 9,000 SQL statements) and then off (production),
printing the RSS, the statements kept and their size after each manifest. Writes nothing but the
throw-away database.
"""

from __future__ import annotations

import csv
import gc
import io
import os
import sys
from pathlib import Path
from unittest import mock

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["CACHE_KEY_PREFIX"] = f"bench-memory-{os.getpid()}"

ROUNDS, LINES = 6, 400


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("bench/manifest_memory.py: skipped, it needs PostgreSQL.")
        return 0
    connection.settings_dict["TEST"]["NAME"] = f"bench_memory_{os.getpid()}"
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        from accounts.models import User
        from credits.services import credits_grant
        from jobs.bulk.services import bulk_job_work
        from resale.manifests import manifest_create, manifest_start

        settings.PROVIDER_RATE_LIMITS = "sandbox=100000/100000"
        user = User.objects.create_user(email="bench-memory@example.com", password=None)
        credits_grant(
            user=user, amount=2 * 2 * ROUNDS * LINES, reason="bench", idempotency_key="bench-memory"
        )
        print("| DEBUG | manifest | lines done | RSS | SQL statements kept | their size |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for debug in (True, False):
            settings.DEBUG = debug
            connection.queries_log.clear()
            for round_ in range(ROUNDS):
                buffer = io.StringIO(newline="")
                writer = csv.writer(buffer)
                writer.writerow(["ASIN", "Item Description", "Qty", "Unit Retail"])
                for i in range(LINES):
                    writer.writerow([f"B0M{int(debug)}{round_}{i:05d}", f"Item {i}", 1, "9.99"])
                data = buffer.getvalue().encode()
                manifest = manifest_create(
                    user=user, file=io.BytesIO(data), size=len(data), filename="m.csv", lot_price="100"
                )
                with mock.patch("jobs.bulk.services.bulk_job_enqueue"):  # worked here, not queued
                    job = manifest_start(manifest=manifest)
                bulk_job_work(job_id=job.pk, worker="bench", time_budget=600)
                gc.collect()
                kept = connection.queries_log
                size = sum(len(query["sql"]) for query in kept) / 1e6
                print(
                    f"| {'on' if debug else 'off'} | {round_ + 1} | {(round_ + 1) * LINES:,} "
                    f"| {rss_mb():.1f} MB | {len(kept):,} | {size:.1f} MB |"
                )
    finally:
        connection.close()
        connection.creation.destroy_test_db(original_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
