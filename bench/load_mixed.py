"""Mixed load with locust: gunicorn (4 workers) on PostgreSQL and Redis, a Celery worker for the bulk jobs.

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench .venv/bin/python bench/load_mixed.py \\
        [--users 32] [--duration 60] [--keys 8]

Sets up like bench/http_load.py (its functions: environment, database, own
Redis server) and adds: ``--keys`` users each with a real API key and plenty
of credits, FNSKU mappings for the conversions, a Celery worker. Then runs
bench/locustfile.py headless (its workload is described there) and prints,
per request type, requests/s, p50/p95/p99 and failures. The API rate limits
are raised out of the way: this measures the platform, not the limiter.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_load import BASE_DIR, PYTHON, bench_env, ensure_database, free_port, manage, start_redis

FNSKU_COUNT = 100


def setup_keys(env: dict[str, str], count: int) -> list[str]:
    """``count`` verified users with credits, one API key each, and the FNSKU mappings."""
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(
        env,
        "shell",
        "-v",
        "0",
        "-c",
        "from accounts.models import User\n"
        "from accounts import services\n"
        "from credits import services as cs\n"
        "from conversion.models import FnskuMapping\n"
        f"for i in range({count}):\n"
        "    email = f'load{i}@example.com'\n"
        "    u = User.objects.filter(email=email).first() or "
        "services.user_create(email=email, password='load-password-123', verified=True)\n"
        "    cs.credits_grant(user=u, amount=10_000_000, reason='load test')\n"
        f"for i in range({FNSKU_COUNT}):\n"
        "    FnskuMapping.objects.get_or_create(fnsku=f'X00LOAD{i:03d}', marketplace='US', user=None, "
        "defaults={'asin': f'B0LOAD{i:04d}', 'source': 'confirmed', "
        "'times_confirmed': 3, 'times_seen': 3})\n",
    )
    return [
        manage(env, "createapikey", f"load{i}@example.com", "--name", "load").strip().splitlines()[-1]
        for i in range(count)
    ]


def bulk_jobs(env: dict[str, str], since: float) -> dict[str, int]:
    """The load users' bulk jobs created since ``since`` (epoch seconds), counted by status."""
    out = manage(
        env,
        "shell",
        "-v",
        "0",
        "-c",
        "import datetime, json\n"
        "from django.db.models import Count\n"
        "from jobs.models import BulkJob\n"
        f"since = datetime.datetime.fromtimestamp({since}, tz=datetime.UTC)\n"
        "rows = BulkJob.objects.filter(user__email__startswith='load', created_at__gte=since)"
        ".values('status').annotate(n=Count('id'))\n"
        "print(json.dumps({r['status']: r['n'] for r in rows}))\n",
    )
    return dict(json.loads(out.strip().splitlines()[-1]))


def drain_bulk_jobs(env: dict[str, str], since: float, timeout: float = 120) -> str:
    """Wait for the worker to finish the run's bulk jobs; say how it went."""
    started = time.monotonic()
    while True:
        counts = bulk_jobs(env, since)
        active = counts.get("queued", 0) + counts.get("running", 0)
        if not active or time.monotonic() - started > timeout:
            waited = time.monotonic() - started
            summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            return f"bulk jobs of the run: {summary or 'none'} ({waited:.0f} s after the load stopped)"
        time.sleep(2)


def start_group(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - our own server
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def percentile(histogram: dict[str, int], fraction: float) -> float:
    """The response time (ms) under which ``fraction`` of the requests fall, from locust's histogram."""
    total = sum(histogram.values())
    seen = 0
    for milliseconds, count in sorted((float(ms), n) for ms, n in histogram.items()):
        seen += count
        if seen >= fraction * total:
            return milliseconds
    return 0.0


def report(stats_json: Path) -> None:
    """Per request type and for all: requests, requests/s, p50/p95/p99, failures."""
    entries = sorted(json.loads(stats_json.read_text()), key=lambda e: -e["num_requests"])
    combined: dict[str, int] = {}
    for entry in entries:
        for ms, n in entry["response_times"].items():
            combined[ms] = combined.get(ms, 0) + n
    everything = {
        "name": "all",
        "num_requests": sum(e["num_requests"] for e in entries),
        "num_failures": sum(e["num_failures"] for e in entries),
        "start_time": min(e["start_time"] for e in entries),
        "last_request_timestamp": max(e["last_request_timestamp"] for e in entries),
        "response_times": combined,
    }
    header = f"{'request':<30}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    print(f"\n{header}{'failures':>10}")
    for entry in [*entries, everything]:
        histogram = entry["response_times"]
        seconds = entry["last_request_timestamp"] - entry["start_time"]
        print(
            f"{entry['name']:<30}{entry['num_requests']:>10}{entry['num_requests'] / seconds:>9.1f}"
            f"{percentile(histogram, 0.50):>9.0f}{percentile(histogram, 0.95):>9.0f}"
            f"{percentile(histogram, 0.99):>9.0f}{entry['num_failures']:>10}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=32, help="concurrent simulated integrators")
    parser.add_argument("--spawn-rate", type=float, default=8)
    parser.add_argument("--duration", type=int, default=60, help="seconds")
    parser.add_argument("--keys", type=int, default=8, help="users with an API key each")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args()

    env = bench_env()
    redis, redis_port = start_redis()
    env.update(
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/1",
        API_RATE_METERED="1000000/min",
        API_RATE_FREE="1000000/min",
        API_RATE_USER_METERED="1000000/min",
        API_RATE_USER_FREE="1000000/min",
    )
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        try:
            ensure_database(env)
            keys = setup_keys(env, args.keys)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            processes.append(
                start_group(
                    [
                        PYTHON,
                        "-m",
                        "gunicorn",
                        "config.wsgi:application",
                        "--config",
                        "deploy/gunicorn.conf.py",
                        "--workers",
                        str(args.workers),
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--access-logfile",
                        "/dev/null",
                    ],
                    env,
                    logs / "gunicorn.log",
                )
            )
            processes.append(
                start_group(
                    [PYTHON, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING"],
                    env,
                    logs / "celery.log",
                )
            )
            wait_for(f"{base}/health")
            locust_env = {
                **os.environ,
                "LOAD_API_KEYS": ",".join(keys),
                "LOAD_FNSKUS": ",".join(f"X00LOAD{i:03d}" for i in range(FNSKU_COUNT)),
            }
            load_started = time.time()
            subprocess.run(
                [
                    PYTHON,
                    "-m",
                    "locust",
                    "-f",
                    str(BASE_DIR / "bench" / "locustfile.py"),
                    "--headless",
                    "--host",
                    base,
                    "--users",
                    str(args.users),
                    "--spawn-rate",
                    str(args.spawn_rate),
                    "--run-time",
                    f"{args.duration}s",
                    "--json-file",
                    str(logs / "load"),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=BASE_DIR,
                env=locust_env,
                check=False,
            )
            bulk_summary = drain_bulk_jobs(env, load_started)
        finally:
            for process in reversed(processes):
                stop_group(process)
            redis.terminate()
            redis.wait(timeout=10)
        print(
            f"\ngunicorn {args.workers} sync workers + 1 Celery worker (solo), locust {args.users} users "
            f"on {args.keys} API keys, {args.duration}s, {os.cpu_count()} CPUs shared with locust itself"
        )
        report(logs / "load.json")
        print(f"\n{bulk_summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
