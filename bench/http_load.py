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
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
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
        # One caller sends everything: the per-key API budgets would refuse most of it.
        API_RATE_METERED="1000000000/s",
        API_RATE_FREE="1000000000/s",
        API_RATE_USER_METERED="1000000000/s",
        API_RATE_USER_FREE="1000000000/s",
        # No worker recycling during a run: its CPU is read per process.
        GUNICORN_MAX_REQUESTS="0",
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


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def group_pids(pgid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


@dataclass
class CpuProbe:
    """CPU seconds spent by each part of the system under test: the gunicorn
    processes, the PostgreSQL backends of the bench database (and the WAL writer),
    the benchmark's own Redis server. wrk's own CPU comes from its rusage."""

    gunicorn_pgid: int
    redis_pid: int
    database_url: str

    def postgres_pids(self) -> list[int]:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() "
                "AND pid <> pg_backend_pid()) OR backend_type = 'walwriter'"
            ).fetchall()
        return [row[0] for row in rows]

    def sample(self) -> dict[str, float]:
        return {
            "web": sum(process_cpu_seconds(pid) for pid in group_pids(self.gunicorn_pgid)),
            "postgres": sum(process_cpu_seconds(pid) for pid in self.postgres_pids()),
            "redis": process_cpu_seconds(self.redis_pid),
        }


def run_wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = next(line for line in out.splitlines() if line.startswith("RESULT")).split()[1:]
    requests_, status_errors, socket_errors, duration_us = (int(x) for x in fields[:4])
    p50, p90, p99, mean = (float(x) / 1000 for x in fields[4:])
    return {
        "requests": requests_,
        "rps": requests_ / (duration_us / 1e6),
        "non_2xx": status_errors,
        "socket_errors": socket_errors,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "mean_ms": mean,
        "wrk_cpu": (children_after.ru_utime + children_after.ru_stime)
        - (children_before.ru_utime + children_before.ru_stime),
    }


def check_target(base: str, target: Target, api_key: str) -> None:
    """One request before the load: a target that does not answer 200 stops the run with its answer."""
    request = urllib.request.Request(  # noqa: S310 - our own server
        base + target.path,
        method=target.method,
        data=json.dumps(target.body).encode() if target.body is not None else None,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {api_key}"} if target.authenticated else {}),
    )
    try:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - our own server
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{target.name}: HTTP {exc.code} {exc.read()[:500]!r}") from None


def start_redis() -> tuple[subprocess.Popen[bytes], int]:
    """A Redis server of the benchmark's own, so its CPU can be read apart from
    anything else using the machine's Redis."""
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(50):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return redis, port
        time.sleep(0.1)
    raise RuntimeError("redis-server did not start")


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
    redis, redis_port = start_redis()
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{redis_port}/1"
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
    probe = CpuProbe(gunicorn_pgid=server.pid, redis_pid=redis.pid, database_url=env["DATABASE_URL"])
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
                check_target(base, target, api_key)
                script = wrk_script(target, api_key, Path(tmp))
                run_wrk(base + target.path, script, 3, args.connections)  # warm-up
                before = probe.sample()
                results[target.name] = run_wrk(base + target.path, script, args.duration, args.connections)
                after = probe.sample()
                for part, seconds in after.items():
                    results[target.name][f"{part}_cpu"] = seconds - before[part]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)

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
    parts = ("web", "postgres", "redis", "wrk")
    cores = os.cpu_count() or 1
    print(f"\nCPU per request, ms (summed over processes; ceiling = {cores} cores / total)\n")
    print(f"{'target':<28}" + "".join(f"{p:>10}" for p in parts) + f"{'total':>10}{'ceiling/s':>11}")
    for name, r in results.items():
        per = [r[f"{p}_cpu"] * 1000 / r["requests"] for p in parts]
        total = sum(per)
        columns = "".join(f"{v:>10.3f}" for v in per)
        print(f"{name:<28}{columns}{total:>10.3f}{cores * 1000 / total:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
