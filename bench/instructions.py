"""Instructions per request of the hot paths, counted by valgrind (callgrind).

CPU time on a shared 2-core machine moves by a quarter from one minute to the
next; the number of instructions a request executes does not. Each target runs
in a process of its own under callgrind twice, with FEW and MANY requests
handed to the deployed WSGI application as gunicorn hands them (no sockets, no
gunicorn's own parsing and writing); the difference divided
by MANY - FEW is what one request costs, start-up and warm-up excluded. Redis
and PostgreSQL run outside valgrind, so their own work is not counted, only
the client's side of each round trip.

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/instructions.py [--only lookup]

Needs valgrind (apt-get install valgrind). Run `bench/http_load.py` once first:
it migrates the `bench` database and funds its user. About two minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
FEW, MANY = 20, 220
TARGETS = ("health", "me", "lookup")


def child(target: str, requests: int) -> None:
    """Runs under valgrind: set up Django, then send ``requests`` requests."""
    sys.path.insert(0, str(BASE_DIR))
    from http_load import bench_env  # this directory: the HTTP benchmark's settings

    os.environ.update(bench_env(), DJANGO_SETTINGS_MODULE="config.settings")
    warnings.simplefilter("ignore")
    import io

    import config.wsgi  # sets Django up, as gunicorn's workers do

    application = config.wsgi.application
    from accounts import services
    from accounts.models import User

    user = User.objects.get(email="bench@example.com")
    _, key = services.api_key_create(user=user, name=f"instructions-{target}")
    body = json.dumps({"asin": "B08N5WRWNW", "marketplace": "US"}).encode()
    requests_ = {
        "health": ("GET", "/health", b""),
        "me": ("GET", "/api/v1/me", b""),
        "lookup": ("POST", "/api/v1/products/asin", body),
    }
    method, path, payload = requests_[target]
    base = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(payload)),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
    }
    statuses: list[str] = []

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        statuses.append(status)

    for _ in range(requests):
        # What gunicorn hands the application for each request.
        chunks = application(dict(base, **{"wsgi.input": io.BytesIO(payload)}), start_response)
        b"".join(chunks)
        chunks.close()  # type: ignore[attr-defined]
        if not statuses[-1].startswith("200"):
            raise SystemExit(f"{target}: HTTP {statuses[-1]}")


def count(target: str, requests: int) -> int:
    """Instructions executed by a whole child process sending ``requests`` requests."""
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                __file__,
                "--child",
                target,
                str(requests),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONMALLOC="malloc"),
        )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"{target}: valgrind failed\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", choices=TARGETS, help="targets to count (health always)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if not shutil.which("valgrind"):
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    targets = [t for t in TARGETS if not args.only or t == "health" or t in args.only]
    jobs = [(target, n) for target in targets for n in (FEW, MANY)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: count(*job), jobs), strict=True))
    per_request = {t: (counts[(t, MANY)] - counts[(t, FEW)]) / (MANY - FEW) for t in targets}
    print(f"\n{'target':<10}{'instructions/request':>22}{'vs /health':>12}")
    for target, value in per_request.items():
        print(f"{target:<10}{value:>22,.0f}{value / per_request['health']:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
