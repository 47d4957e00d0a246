"""HTTP load benchmark: gunicorn (4 workers) on PostgreSQL and Redis, driven by wrk.

Every figure is printed beside `/health` measured in the same run, so the
ratio says what the platform's own work costs, whatever the machine.

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/http_load.py [--duration 15] [--connections 32] [--only NAME ...]

Needs `wrk` (apt-get install wrk). Targets are listed in TARGETS below.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: str
    body: dict[str, object] | None = None
    authenticated: bool = False


TARGETS = [
    Target("health", "GET", "/health"),
    Target("me (API key auth)", "GET", "/api/v1/me", authenticated=True),
    Target(
        "lookup (metered, cached)",
        "POST",
        "/api/v1/products/asin",
        body={"asin": "B08N5WRWNW", "marketplace": "US"},
        authenticated=True,
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/bench")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    env.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
    env.update(
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",  # noqa: S106
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        LOG_LEVEL="WARNING",
    )
    return env


def ensure_database(env: dict[str, str]) -> None:
    import psycopg

    url = env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


def setup_user(env: dict[str, str]) -> str:
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(
        env,
        "shell",
        "-v",
        "0",
        "-c",
        "from accounts.models import User\n"
        "from accounts import services\n"
        "u = User.objects.filter(email='bench@example.com').first() or "
        "services.user_create(email='bench@example.com', password='bench-password-123', verified=True)\n"
        "from django.conf import settings\n"
        "if 'credits' in settings.INSTALLED_APPS:\n"
        "    from credits import services as cs\n"
        "    cs.credits_grant(user=u, amount=50_000_000, reason='benchmark')\n",
    )
    return manage(env, "createapikey", "bench@example.com", "--name", "bench").strip().splitlines()[-1]


def wrk_script(target: Target, api_key: str, directory: Path) -> Path:
    headers = {"Content-Type": "application/json"}
    if target.authenticated:
        headers["Authorization"] = f"Bearer {api_key}"
    lines = [f'wrk.method = "{target.method}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if target.body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(target.body))}")
    lines.append(
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("RESULT %d %d %d %d %.1f %.1f %.1f %.1f\\n", summary.requests, '
        "summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write "
        "+ summary.errors.timeout, summary.duration, latency:percentile(50), latency:percentile(90), "
        "latency:percentile(99), latency.mean))\n"
        "end"
    )
    path = directory / f"{re.sub(r'[^a-z]+', '_', target.name)}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fields = next(line for line in out.splitlines() if line.startswith("RESULT")).split()[1:]
    requests_, status_errors, socket_errors, duration_us = (int(x) for x in fields[:4])
    p50, p90, p99, mean = (float(x) / 1000 for x in fields[4:])
    return {
        "rps": requests_ / (duration_us / 1e6),
        "non_2xx": status_errors,
        "socket_errors": socket_errors,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "mean_ms": mean,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--only", nargs="*", help="target names to run (health always runs)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    env = bench_env()
    ensure_database(env)
    api_key = setup_user(env)
    port = free_port()
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--config",
            "deploy/gunicorn.conf.py",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1)  # noqa: S310 - our own server
                break
            except OSError:
                time.sleep(0.2)
        targets = [t for t in TARGETS if not args.only or t.name == "health" or t.name in args.only]
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for target in targets:
                script = wrk_script(target, api_key, Path(tmp))
                run_wrk(base + target.path, script, 3, args.connections)  # warm-up
                results[target.name] = run_wrk(base + target.path, script, args.duration, args.connections)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    baseline = results["health"]["rps"]
    print(
        f"\ngunicorn {args.workers} {args.worker_class} workers x {args.threads} threads, "
        f"wrk 2 threads x {args.connections} connections, "
        f"{args.duration}s per target, {os.cpu_count()} CPUs\n"
    )
    print(
        f"{'target':<28}{'req/s':>10}{'vs /health':>12}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'errors':>8}"
    )
    for name, r in results.items():
        errors = int(r["non_2xx"] + r["socket_errors"])
        print(
            f"{name:<28}{r['rps']:>10.0f}{r['rps'] / baseline:>12.2f}"
            f"{r['p50_ms']:>9.1f}{r['p90_ms']:>9.1f}{r['p99_ms']:>9.1f}{errors:>8}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
