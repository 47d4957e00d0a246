"""HTTP load benchmark: gunicorn (4 workers) on PostgreSQL and Redis, driven by wrk.

Every figure is printed beside `/health` measured in the same run, so the
ratio says what the platform's own work costs, whatever the machine.

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/http_load.py [--duration 15] [--connections 32] [--only NAME ...]

Needs `wrk` (apt-get install wrk). Targets are listed in TARGETS below.

`--before REF` also serves the lookup from an earlier commit, in the same run. The CPU accounting
is bench/cpu.py, the py-spy profiles bench/profiling.py.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from cpu import CpuProbe, calibration_ms
from profiling import print_profile, start_profilers

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: str
    body: dict[str, object] | None = None
    authenticated: bool = False
    # "platform" (config.wsgi) or "floor" (bench/floor_app.py, a gunicorn of its own).
    server: str = "platform"


FLOOR = "floor (same I/O, no Django)"
LOOKUP = Target(
    "lookup (metered, cached)",
    "POST",
    "/api/v1/products/asin",
    body={"asin": "B08N5WRWNW", "marketplace": "US"},
    authenticated=True,
)
TARGETS = [
    Target("health", "GET", "/health"),
    Target("me (API key auth)", "GET", "/api/v1/me", authenticated=True),
    LOOKUP,
    # The lookup's round trips with no framework: what Django, DRF and the platform's
    # own Python add is the gap between the two.
    dataclasses.replace(LOOKUP, name=FLOOR, server="floor"),
]
APPLICATIONS = {
    "platform": "config.wsgi:application",
    "floor": "bench.floor_app:application",
    # --before REF: the platform as it was at REF, from a checkout of its own.
    "before": "config.wsgi:application",
}
BEFORE = "lookup before"


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
        SITE_URL="http://127.0.0.1",
        SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",  # noqa: S106
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # The benchmark user is created verified: nothing sends mail.
        EMAIL_URL="dummymail://",
        METRICS_TOKEN="bench-only-metrics-token",  # noqa: S106
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


def manage(env: dict[str, str], *args: str, tree: Path = BASE_DIR) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=tree, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


def setup_user(env: dict[str, str], tree: Path = BASE_DIR) -> str:
    manage(env, "migrate", "--noinput", "-v", "0", tree=tree)
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
        tree=tree,
    )
    created = manage(env, "createapikey", "bench@example.com", "--name", "bench", tree=tree)
    return created.strip().splitlines()[-1]


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """A detached worktree of ``ref`` (a commit, branch or tag of this repository), removed after."""
    with tempfile.TemporaryDirectory(prefix="bench-before-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(BASE_DIR), "worktree"]
        subprocess.run([*git, "add", "--detach", "--quiet", str(tree), ref], check=True)
        try:
            yield tree
        finally:
            subprocess.run([*git, "remove", "--force", str(tree)], check=False)


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


def start_gunicorn(
    application: str, args: argparse.Namespace, env: dict[str, str], tree: Path = BASE_DIR
) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn with the deployment's configuration serving ``application``, in a process
    group of its own (whose CPU is read); returns it and its base URL once it answers."""
    port = free_port()
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            application,
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
        ],
        cwd=tree,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server, f"http://127.0.0.1:{port}"
        time.sleep(0.2)
    os.killpg(server.pid, signal.SIGTERM)
    raise RuntimeError(f"gunicorn serving {application} did not start")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure each target this many times, taking turns; the median round is reported",
    )
    parser.add_argument("--only", nargs="*", help="target names to run (health always runs)")
    parser.add_argument(
        "--before",
        metavar="REF",
        help="also serve the lookup from this git commit (its own database and Redis database), "
        "taking turns with the other targets, and compare both with the floor",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="record each target's measured run in every worker with py-spy (on-CPU samples) "
        "and print where the workers spend their time; collapsed stacks are kept in DIR",
    )
    args = parser.parse_args()
    if args.profile and not shutil.which(
        "py-spy", path=str(Path(PYTHON).parent) + os.pathsep + os.environ["PATH"]
    ):
        print("--profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return 2
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    with ExitStack() as stack:
        before_tree = stack.enter_context(checkout(args.before)) if args.before else None
        return measure(args, before_tree)


def measure(args: argparse.Namespace, before_tree: Path | None) -> int:
    env = bench_env()
    redis, redis_port = start_redis()
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{redis_port}/1"
    ensure_database(env)
    keys = {"platform": setup_user(env)}
    keys["floor"] = keys["platform"]
    targets = [t for t in TARGETS if not args.only or t.name == "health" or t.name in args.only]
    trees = {"platform": BASE_DIR, "floor": BASE_DIR}
    envs = {"platform": env, "floor": env}
    if before_tree is not None:
        # The earlier commit's own database and Redis database: nothing cached or counted by one
        # version is read by the other.
        envs["before"] = env | {
            "DATABASE_URL": env["DATABASE_URL"] + "_before",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/2",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/3",
        }
        trees["before"] = before_tree
        ensure_database(envs["before"])
        keys["before"] = setup_user(envs["before"], tree=before_tree)
        targets.append(dataclasses.replace(LOOKUP, name=BEFORE, server="before"))
    servers: dict[str, subprocess.Popen[bytes]] = {}
    bases: dict[str, str] = {}
    try:
        for name in dict.fromkeys(target.server for target in [TARGETS[0], *targets]):
            servers[name], bases[name] = start_gunicorn(APPLICATIONS[name], args, envs[name], trees[name])
        probes = {
            name: CpuProbe(gunicorn_pgid=server.pid, redis_pid=redis.pid, database_url=env["DATABASE_URL"])
            for name, server in servers.items()
        }
        with tempfile.TemporaryDirectory() as tmp:
            scripts = {}
            if "floor" in servers:
                check_target(bases["platform"], LOOKUP, keys["platform"])  # caches the record the floor sends
            for target in targets:
                base = bases[target.server]
                check_target(base, target, keys[target.server])
                scripts[target.name] = wrk_script(target, keys[target.server], Path(tmp))
                run_wrk(base + target.path, scripts[target.name], 3, args.connections)  # warm-up
            # Rounds take turns over the targets, so a noisy neighbour on a shared machine
            # disturbs one round of each rather than every round of one.
            runs: dict[str, list[dict[str, float]]] = {target.name: [] for target in targets}
            calibrations = []
            for _round in range(args.rounds):
                calibrations.append(calibration_ms())
                for target in targets:
                    server, probe = servers[target.server], probes[target.server]
                    profilers = start_profilers(server.pid, target, args) if args.profile else []
                    before = probe.sample()
                    run = run_wrk(
                        bases[target.server] + target.path,
                        scripts[target.name],
                        args.duration,
                        args.connections,
                    )
                    after = probe.sample()
                    for profiler in profilers:
                        profiler.wait(timeout=60)
                    for part, seconds in after.items():
                        run[f"{part}_cpu"] = seconds - before[part]
                    runs[target.name].append(run)
            # The median round of each target by throughput.
            results = {
                name: sorted(target_runs, key=lambda r: r["rps"])[len(target_runs) // 2]
                for name, target_runs in runs.items()
            }
    finally:
        for server in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)

    baseline = results["health"]["rps"]
    print("\nRounds (req/s; calibration: ms for a fixed pure-Python loop on an idle server,")
    print("which grows when the machine's neighbours take the cores):\n")
    print(f"{'round':<8}{'calibration':>12}" + "".join(f"{name[:22]:>24}" for name in runs))
    for index, calibration in enumerate(calibrations):
        columns = "".join(f"{target_runs[index]['rps']:>24.0f}" for target_runs in runs.values())
        print(f"{index + 1:<8}{calibration:>12.1f}{columns}")
    print(
        f"\ngunicorn {args.workers} {args.worker_class} workers x {args.threads} threads, "
        f"wrk 2 threads x {args.connections} connections, "
        f"{args.duration}s per target and round, median of {args.rounds} round(s), {os.cpu_count()} CPUs\n"
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
    print(
        f"{'target':<28}"
        + "".join(f"{p:>10}" for p in parts)
        + f"{'total':>10}{'ceiling/s':>11}{'web kernel':>14}"
    )
    for name, r in results.items():
        per = [r[f"{p}_cpu"] * 1000 / r["requests"] for p in parts]
        total = sum(per)
        columns = "".join(f"{v:>10.3f}" for v in per)
        kernel = r["web_kernel_cpu"] * 1000 / r["requests"]
        print(f"{name:<28}{columns}{total:>10.3f}{cores * 1000 / total:>11.0f}{kernel:>14.3f}")
    if BEFORE in results and LOOKUP.name in results:
        print_before_after(results, args.before)
    if args.profile:
        for target in targets:
            print_profile(args.profile, target)
    return 0


def print_before_after(results: dict[str, dict[str, float]], ref: str) -> None:
    """The lookup now and at ``ref``, each against what the same run measured for the
    floor (and /health): a change keeps its speed when its ratios hold."""
    now, before = results[LOOKUP.name], results[BEFORE]
    floor = results.get(FLOOR)
    print(f"\nLookup now and at {ref}, measured in this run\n")
    print(f"{'':<20}{'req/s':>10}{'p99 ms':>9}{'vs /health':>12}{'vs floor':>10}")
    for label, r in (("now", now), (f"at {ref}"[:20], before)):
        vs_floor = f"{r['rps'] / floor['rps']:>10.2f}" if floor else f"{'-':>10}"
        print(
            f"{label:<20}{r['rps']:>10.0f}{r['p99_ms']:>9.1f}{r['rps'] / results['health']['rps']:>12.2f}"
            + vs_floor
        )
    rps, p99 = now["rps"] / before["rps"], now["p99_ms"] / before["p99_ms"]
    print(f"\nnow / before: {rps:.2f} (req/s), {p99:.2f} (p99)")


if __name__ == "__main__":
    sys.exit(main())
