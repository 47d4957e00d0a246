"""Liquidation manifests: a 5,000-line manifest on real Celery workers against the upstream's rate bound.

    DATABASE_URL=postgres://root@127.0.0.1:5432/platform REDIS_URL=redis://127.0.0.1:6379/5 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/manifest.py

As bench/bench_bulk.py (whose worker start and bounds it reuses): a throw-away database
(``bench_bulk_<pid>``), 2 worker processes (``--pool=solo``) on the Redis broker, the sandbox provider
answering every batch after ``SANDBOX_LATENCY_MS=40`` under the shared rate limit the sandbox is
configured with (``PROVIDER_RATE_LIMITS=sandbox=<rate>/<burst>``, 100 ASINs a second with a burst of
100 by default), a cold cache. The manifest is a B-Stock-like CSV (ASIN, Item Description, Qty, Unit
Retail) of ``--lines`` lines with distinct ASINs: the real ones of
../shared/data/amazon-us-products-2023.csv first (with their titles and list prices), then made-up
ones for the rest; it is read through ``manifest_create`` (as the page and the API do) and run with
``manifest_start``. Each line is resolved (its ASIN), priced (one upstream token per product),
fee-estimated (the sandbox's fee source, which takes no upstream token) and costed.

It prints the job's time from its start to its last line against the rate bound (``(N - burst) /
rate`` seconds: the burst at once, the rest at the configured rate; the job cannot be faster) and
the latency bound, the ratio (bound / measured, >= 0.95 is the target), and memory: the resident
set size (RSS) of each worker sampled every 0.2 s, at the job's start and its peak, and of this
process before and after reading the manifest. Then it checks the books (every line delivered once,
credits = lines x price, ledger reconciled).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["CACHE_KEY_PREFIX"] = f"bench-manifest-{os.getpid()}"

from bench.bench_bulk import LATENCY_MS, WORKERS, Scenario, start_workers, stop_workers  # noqa: E402

DATA = BASE_DIR.parent.parent / "shared" / "data" / "amazon-us-products-2023.csv"
if not DATA.exists():
    DATA = Path("/work/shared/data/amazon-us-products-2023.csv")


MARKS = (20, 40, 60, 80)  # percent of the lines done when the workers' RSS is noted


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """The RSS of ``pids`` every ``interval`` seconds: first sample and peak of each."""

    def __init__(self, pids: list[int], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.first = {pid: rss_kb(pid) for pid in pids}
        self.peak = dict(self.first)
        self.marks: dict[int, dict[int, int]] = {}  # percent of the lines done -> RSS by pid
        self.last = dict(self.first)
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            for pid in self.pids:
                try:
                    self.last[pid] = rss_kb(pid)
                except OSError:
                    continue
                self.peak[pid] = max(self.peak[pid], self.last[pid])
            self.samples += 1

    def mark(self, percent: int) -> None:
        self.marks[percent] = {pid: rss_kb(pid) for pid in self.pids}

    def stop(self) -> None:
        self._halt.set()
        self.join()


def manifest_csv(lines: int) -> bytes:
    rows: list[list[object]] = []
    seen: set[str] = set()
    with DATA.open(encoding="utf-8", newline="") as handle:
        for product in csv.DictReader(handle):
            if len(rows) == lines:
                break
            if product["asin"] in seen:
                continue
            seen.add(product["asin"])
            retail = (
                product["list_price"] if product["list_price"] not in ("", "0", "0.0") else product["price"]
            )
            rows.append([product["asin"], product["title"], 1 + len(rows) % 3, retail])
    for i in range(lines - len(rows)):
        rows.append([f"B0MF{i:06d}", f"Liquidation item {i}", 1 + i % 3, "19.99"])
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["ASIN", "Item Description", "Qty", "Unit Retail"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


@dataclass(frozen=True)
class Result:
    lines: int
    seconds: float
    from_start: float
    rate_bound_s: float
    latency_bound_s: float
    worker_rss: list[tuple[int, list[int], int, int]]  # (first, at each of MARKS, peak, last) KB
    reader_rss: tuple[int, int]
    samples: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0, help="The sandbox's rate (ASINs/s).")
    parser.add_argument("--burst", type=float, default=100.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--debug",
        action="store_true",
        help="Workers with DEBUG on (Django keeps their SQL: memory grows); default off, as in production.",
    )
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("bench/manifest.py: skipped, it needs PostgreSQL (set DATABASE_URL=postgres://...).")
        return 0
    if not settings.REDIS_URL or not settings.CELERY_BROKER_URL.startswith("redis"):
        print("bench/manifest.py: skipped, it needs Redis (set REDIS_URL and CELERY_BROKER_URL=redis://...).")
        return 0
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = f"bench_bulk_{os.getpid()}"
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    scenario = Scenario("manifest", f"sandbox={args.rate:g}/{args.burst:g}", rate=args.rate, burst=args.burst)
    try:
        result = run(scenario, lines=args.lines, timeout=args.timeout, debug=args.debug)
    finally:
        connection.close()
        connection.creation.destroy_test_db(original_name, verbosity=0)
    report(result, scenario, debug=args.debug)
    return 0


def run(scenario: Scenario, *, lines: int, timeout: float, debug: bool) -> Result:
    from django.conf import settings

    from config.celery import app
    from credits.models import Operation
    from credits.selectors import accounts_out_of_balance, balance_get, price_get
    from credits.services import credits_grant
    from jobs.bulk.selectors import bulk_job_recount
    from jobs.models import BulkJob
    from products.providers.sandbox import SandboxProvider
    from resale.manifests import manifest_create, manifest_refresh, manifest_start
    from resale.models import ManifestLine

    settings.PROVIDER_RATE_LIMITS = scenario.rate_limits
    batch = SandboxProvider().max_batch_size
    price = price_get(operation=Operation.MANIFEST_LINE)
    data = manifest_csv(lines)
    app.control.purge()
    workers = start_workers(scenario, debug=debug)
    try:
        from accounts.models import User

        user = User.objects.create_user(email="bench-manifest@example.com", password=None)
        credits_grant(user=user, amount=lines * price, reason="bench", idempotency_key="bench-manifest")
        balance_before = balance_get(user=user)
        reader_before = rss_kb(os.getpid())
        manifest = manifest_create(
            user=user, file=io.BytesIO(data), size=len(data), filename="bench.csv", lot_price="25000.00"
        )
        reader_after = rss_kb(os.getpid())
        sampler = RssSampler([worker.pid for worker in workers])
        sampler.start()
        job = manifest_start(manifest=manifest)
        deadline = time.monotonic() + timeout
        while not job.is_final:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench/manifest.py: the manifest did not finish in {timeout:.0f}s")
            time.sleep(0.05)
            job.refresh_from_db()
            for percent in MARKS:
                if percent not in sampler.marks and job.processed >= lines * percent // 100:
                    sampler.mark(percent)
        sampler.stop()
        seconds = (job.finished_at - job.created_at).total_seconds()
        from_start = (job.finished_at - job.started_at).total_seconds()
        manifest.refresh_from_db()
        manifest_refresh(manifest=manifest)
        recount = bulk_job_recount(job=job)
        priced = ManifestLine.objects.filter(manifest=manifest, status=ManifestLine.Status.PRICED).count()
        problems = {
            "status": (job.status, BulkJob.Status.COMPLETED),
            "delivered": (recount["succeeded"], lines),
            "lines priced": (priced, lines),
            "credits spent": (recount["credits_spent"], lines * price),
            "credits taken": (balance_before - balance_get(user=user), lines * price),
            "accounts out of balance": (len(accounts_out_of_balance()), 0),
        }
        wrong = {what: found for what, (found, expected) in problems.items() if found != expected}
        if wrong:
            raise SystemExit(f"bench/manifest.py: the manifest is wrong: {wrong}")
    finally:
        stop_workers(workers)
        app.control.purge()
    rate_bound = max(0.0, (lines - scenario.burst) / scenario.rate)
    latency_bound = math.ceil(math.ceil(lines / batch) / WORKERS) * LATENCY_MS / 1000
    return Result(
        lines=lines,
        seconds=seconds,
        from_start=from_start,
        rate_bound_s=rate_bound,
        latency_bound_s=latency_bound,
        worker_rss=[
            (
                sampler.first[pid],
                [sampler.marks.get(percent, {}).get(pid, 0) for percent in MARKS],
                sampler.peak[pid],
                sampler.last[pid],
            )
            for pid in sampler.pids
        ],
        reader_rss=(reader_before, reader_after),
        samples=sampler.samples,
    )


def report(result: Result, scenario: Scenario, *, debug: bool) -> None:
    import platform

    bound = max(result.rate_bound_s, result.latency_bound_s)
    print(
        f"\nManifest of {result.lines:,} lines (distinct ASINs, cold cache), sandbox {scenario.rate:g}/s "
        f"(burst {scenario.burst:g}), latency {LATENCY_MS} ms, {WORKERS} workers (solo pool), "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"workers with DEBUG {'on' if debug else 'off'}\n"
    )
    print("| lines | job time | lines/min | rate bound | latency bound | ratio to bound |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {result.lines:,} | {result.seconds:.2f} s ({result.from_start:.2f} s from the first claim) "
        f"| {result.lines / result.seconds * 60:,.0f} | {result.rate_bound_s:.2f} s "
        f"| {result.latency_bound_s:.2f} s "
        f"| {bound / result.seconds:.3f} |"
    )
    print(f"\nMemory (RSS, {result.samples} samples every 0.2 s while the job ran):\n")
    marks = " | ".join(f"at {percent} %" for percent in MARKS)
    print(f"| process | before the job | {marks} | peak | peak - before |")
    print("| --- | ---: | " + "---: | " * len(MARKS) + "---: | ---: |")
    for i, (first, at, peak, _last) in enumerate(result.worker_rss):
        cells = " | ".join(f"{kb / 1024:.1f} MB" for kb in at)
        print(
            f"| worker {i + 1} | {first / 1024:.1f} MB | {cells} | {peak / 1024:.1f} MB "
            f"| {(peak - first) / 1024:+.1f} MB |"
        )
    before, after = result.reader_rss
    print(
        f"\nReading the {result.lines:,}-line manifest (this process): RSS {before / 1024:.1f} MB before, "
        f"{after / 1024:.1f} MB after ({(after - before) / 1024:+.1f} MB)."
    )
    print("\nChecked: every line delivered once and priced, credits = lines x price, ledger reconciled.")


if __name__ == "__main__":
    sys.exit(main())
