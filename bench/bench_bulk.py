"""Bulk jobs: items per minute for 1,000 ASINs on real Celery workers, against the upstream's bounds.

    DATABASE_URL=postgres://root@127.0.0.1:5432/platform REDIS_URL=redis://127.0.0.1:6379/5 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/bench_bulk.py

Creates a throw-away database (``bench_bulk_<pid>``) next to the configured
one, migrates it, and for each scenario starts 2 worker processes (``--pool=solo``)
on the Redis broker, with the sandbox provider answering every batch after
``SANDBOX_LATENCY_MS=40``, then creates one job of 1,000 new ASINs (a cold
cache: every item goes upstream) through the same service as the API and
times it from creation to its last item. Scenarios:

- ``default``: the sandbox's default shared rate limit (1,000 ASINs/s, burst 1,000);
- ``rate-bound``: ``PROVIDER_RATE_LIMITS=sandbox=20/100``, a paid-Keepa-like
  budget of 20 ASINs a second where the upstream's rate, not the engine, is the limit.

For each it prints the items per minute and the two bounds the upstream sets:
the rate bound (burst first, then the configured rate: ``(N - burst) / rate``
seconds) and the latency bound (batches of the provider's size, one per
worker at a time: ``ceil(N / batch / workers) * latency``); the job cannot be
faster than the larger of the two. The ratio is measured / bound. Every job
is checked afterwards (each item delivered once, credits exact, ledger
reconciled). Writes nothing but the throw-away database; needs PostgreSQL and
Redis (without them it says so and exits 0).
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The bench's own cache keys: a cold cache, and rate-limit buckets of its own.
os.environ["CACHE_KEY_PREFIX"] = f"bench-bulk-{os.getpid()}"

WORKERS = 2
LATENCY_MS = 40
LOG_DIR = Path(tempfile.gettempdir())


@dataclass(frozen=True)
class Scenario:
    name: str
    rate_limits: str  # PROVIDER_RATE_LIMITS for the workers ("" = defaults)
    rate: float
    burst: float


SCENARIOS = {
    "default": Scenario("default", "", rate=1000.0, burst=1000.0),
    "rate-bound": Scenario("rate-bound", "sandbox=20/100", rate=20.0, burst=100.0),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="ASINs per job.")
    parser.add_argument(
        "--scenarios", default="default,rate-bound", help="Comma-separated: default, rate-bound."
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="Seconds a job may take.")
    parser.add_argument(
        "--kinds",
        default="asin_lookup",
        help="Comma-separated kinds of job run in each scenario: asin_lookup, asin_profit (the lookup "
        "with fees and profit: resale/bulk_profit.py); with both, the table compares them.",
    )
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("bench_bulk: skipped, it needs PostgreSQL (set DATABASE_URL=postgres://...).")
        return 0
    if not settings.REDIS_URL or not settings.CELERY_BROKER_URL.startswith("redis"):
        print("bench_bulk: skipped, it needs Redis (set REDIS_URL and CELERY_BROKER_URL=redis://...).")
        return 0

    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = f"bench_bulk_{os.getpid()}"
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        pairs = [
            (SCENARIOS[name.strip()], kind.strip())
            for name in args.scenarios.split(",")
            for kind in args.kinds.split(",")
        ]
        rows = [
            run(scenario, items=args.items, timeout=args.timeout, offset=index * args.items, kind=kind)
            for index, (scenario, kind) in enumerate(pairs)
        ]
    finally:
        connection.close()
        connection.creation.destroy_test_db(original_name, verbosity=0)
    print_table(rows, items=args.items)
    return 0


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    auth = quote(str(db.get("USER") or ""), safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(str(db["PASSWORD"]), safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{'@' if auth else ''}{db.get('HOST') or 'localhost'}{port}/{db['NAME']}"


# What a worker needs to start with DEBUG off (config/settings.py refuses otherwise): a real secret
# key, a mail setting, an address for links and the metrics' exposure, none of which a worker uses.
PRODUCTION_LIKE = {
    "DEBUG": "0",
    "EMAIL_URL": "consolemail://",
    "EMAIL_ALLOW_INSECURE_BACKEND": "1",
    "SITE_URL": "https://bench.invalid",
    "ALLOWED_HOSTS": "bench.invalid",
    "METRICS_PUBLIC": "1",
}


def start_workers(scenario: Scenario, *, debug: bool = True) -> list[subprocess.Popen[bytes]]:
    """The bench's Celery workers; ``debug=False`` runs them as production does (``DEBUG=0``: Django
    keeps no log of their SQL, which with DEBUG on grows with every statement)."""
    from django.conf import settings

    from config.celery import app

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SANDBOX_LATENCY_MS": str(LATENCY_MS),
        "PROVIDER_RATE_LIMITS": scenario.rate_limits,
        "LOG_LEVEL": "WARNING",
    }
    if not debug:
        env |= {**PRODUCTION_LIKE, "SECRET_KEY": secrets.token_urlsafe(64)}
    names = [f"bench-bulk-{os.getpid()}-{i}@{socket.gethostname()}" for i in range(WORKERS)]
    # The workers' output, for when something goes wrong.
    logs = [open(LOG_DIR / f"bench_bulk_{os.getpid()}_{scenario.name}_{i}.log", "w") for i in range(WORKERS)]  # noqa: SIM115
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                f"--hostname={name}",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, log in zip(names, logs, strict=True)
    ]
    for log in logs:
        log.close()  # the workers have their own copies
    deadline = time.monotonic() + 60
    while len(app.control.ping(destination=names, timeout=0.5)) < WORKERS:
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            stop_workers(processes)
            raise SystemExit(
                f"bench_bulk: the workers did not start (their logs: {LOG_DIR}/bench_bulk_*.log)"
            )
    return processes


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    kind: str
    items: int
    batch: int
    seconds: float
    seconds_from_start: float
    rate_bound_s: float
    latency_bound_s: float

    @property
    def per_minute(self) -> float:
        return self.items / self.seconds * 60

    @property
    def bound_s(self) -> float:
        return max(self.rate_bound_s, self.latency_bound_s)


def run(scenario: Scenario, *, items: int, timeout: float, offset: int, kind: str = "asin_lookup") -> Row:
    from django.conf import settings
    from django.utils import timezone

    from config.celery import app
    from credits.selectors import accounts_out_of_balance, balance_get
    from credits.services import credits_grant
    from jobs.bulk import services
    from jobs.bulk.selectors import bulk_job_recount
    from jobs.models import BulkJob
    from products.providers.sandbox import SandboxProvider

    settings.PROVIDER_RATE_LIMITS = scenario.rate_limits
    batch = SandboxProvider().max_batch_size
    app.control.purge()
    workers = start_workers(scenario)
    try:
        from accounts.models import User

        name = f"{scenario.name}-{kind}-{offset}"
        user = User.objects.create_user(email=f"bench-{name}@example.com", password=None)
        credits_grant(user=user, amount=items, reason="bench", idempotency_key=f"bench-{name}")
        balance_before = balance_get(user=user)
        asins = [f"B0BN{offset + i:06d}" for i in range(items)]
        started = time.monotonic()
        created_at = timezone.now()
        job = services.bulk_job_create_from_list(
            user=user, kind=kind, values=asins, params={"marketplace": "US"}
        )
        deadline = started + timeout
        while not job.is_final:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench_bulk: the {scenario.name} job did not finish in {timeout:.0f}s")
            time.sleep(0.02)
            job.refresh_from_db()
        seconds = (job.finished_at - created_at).total_seconds()
        from_start = (job.finished_at - job.started_at).total_seconds()
        recount = bulk_job_recount(job=job)
        problems = {
            "status": (job.status, BulkJob.Status.COMPLETED),
            "delivered": (job.succeeded, items),
            "delivered items": (recount["succeeded"], items),
            "credits spent": (recount["credits_spent"], items),
            "credits taken": (balance_before - balance_get(user=user), items),
            "accounts out of balance": (len(accounts_out_of_balance()), 0),
        }
        wrong = {what: found for what, (found, expected) in problems.items() if found != expected}
        if wrong:
            raise SystemExit(f"bench_bulk: the {scenario.name} job is wrong: {wrong}")
    finally:
        stop_workers(workers)
        app.control.purge()
    rate_bound = max(0.0, (items - scenario.burst) / scenario.rate)
    latency_bound = math.ceil(math.ceil(items / batch) / WORKERS) * LATENCY_MS / 1000
    return Row(scenario, kind, items, batch, seconds, from_start, rate_bound, latency_bound)


def print_table(rows: list[Row], *, items: int) -> None:
    import platform

    print(
        f"\nBulk job of {items:,} new ASINs, sandbox latency {LATENCY_MS} ms, {WORKERS} workers (solo pool), "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs\n"
    )
    print(
        "| scenario | kind | upstream rate (burst) | batch | job time | items/min | rate bound "
        "| latency bound | bound items/min | ratio to bound | ratio to the rate |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        s = row.scenario
        bound_per_minute = items / row.bound_s * 60 if row.bound_s else float("inf")
        ratio = row.bound_s / row.seconds if row.bound_s else float("nan")
        print(
            f"| {s.name} | {row.kind} | {s.rate:,.0f}/s ({s.burst:,.0f}) = {s.rate * 60:,.0f}/min "
            f"| {row.batch} | {row.seconds:.2f} s ({row.seconds_from_start:.2f} s from the first claim) "
            f"| {row.per_minute:,.0f} | {row.rate_bound_s:.2f} s | {row.latency_bound_s:.2f} s "
            f"| {bound_per_minute:,.0f} | {ratio:.3f} | {row.per_minute / (s.rate * 60):.2f} |"
        )
    times: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        times.setdefault((row.scenario.name, row.kind), []).append(row.seconds)
    for (scenario, kind), seconds in times.items():
        baseline = times.get((scenario, "asin_lookup"))
        if kind != "asin_lookup" and baseline:
            mean, base = sum(seconds) / len(seconds), sum(baseline) / len(baseline)
            print(
                f"\n{scenario}: {kind} took {mean / base:.2f}x the time of asin_lookup "
                f"(mean {mean:.2f} s of {len(seconds)} vs {base:.2f} s of {len(baseline)})."
            )
    print("\nEvery job: each item delivered once, credits spent = items, ledger reconciled.")


if __name__ == "__main__":
    sys.exit(main())
