"""The machine's CPU per committed transaction, with and without waiting for the WAL flush.

A charge is one statement in its own transaction; its commit waits for PostgreSQL
to flush the WAL to disk. This runs pgbench with 4 clients (as many as the
benchmark's gunicorn workers) on an update of one row of a table of its own
(`bench_commit_cpu`, made and dropped here; no ledger table is touched), for each setting,
and reads the CPU the whole machine spent from /proc/stat (PostgreSQL's backends,
its WAL writer, the kernel's flush, pgbench itself), so run it on an idle machine:

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench .venv/bin/python bench/commit_cpu.py

Needs pgbench (Debian's postgresql-client) and a database to run in (default
`bench`, the one `bench/http_load.py` creates). Each setting is applied to pgbench's sessions only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

import psycopg

SETTINGS = {
    "synchronous_commit = on (the default)": "-c synchronous_commit=on",
    "group commit (commit_delay 20 µs)": "-c commit_delay=20 -c commit_siblings=1",
    "group commit (commit_delay 100 µs)": "-c commit_delay=100 -c commit_siblings=1",
    "synchronous_commit = off (not for a ledger)": "-c synchronous_commit=off",
}
STATEMENT = "UPDATE bench_commit_cpu SET n = n + 1 WHERE id = 1;\n"
DEFAULT_URL = "postgres://root@127.0.0.1:5432/bench"


def busy_jiffies() -> int:
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, stat.readline().split()[1:8])
    return user + nice + system + irq + softirq


def pgbench(
    url: str, script: str, *, clients: int = 4, seconds: int = 8, options: str = ""
) -> tuple[float, float]:
    """Run ``script`` (pgbench's script language) for ``seconds``: transactions per second and
    the whole machine's CPU milliseconds per transaction. ``options`` go to the sessions
    (PGOPTIONS). Also used by bench/charge_sql.py."""
    parts = urlsplit(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        before = busy_jiffies()
        out = subprocess.run(
            [
                *("pgbench", "-n", "-j", "1", "-c", str(clients), "-T", str(seconds), "-f", file.name),
                *("-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)),
                *("-U", parts.username or "root", parts.path.lstrip("/")),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, PGOPTIONS=options),
        )
        jiffies = busy_jiffies() - before
    match = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
    if out.returncode != 0 or match is None or not int(match.group(1)):
        raise SystemExit(f"pgbench failed:\n{out.stdout}{out.stderr}")
    transactions = int(match.group(1))
    return transactions / seconds, jiffies / os.sysconf("SC_CLK_TCK") * 1000 / transactions


def connect(name: str) -> psycopg.Connection | None:
    """An autocommit connection to ``DATABASE_URL`` (default: the benchmark's database), or
    None after saying in one line why ``name`` cannot run."""
    if shutil.which("pgbench") is None:
        print(f"{name} needs pgbench (apt-get install postgresql-client).")
        return None
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        print(f"{name}: cannot connect to {url} ({exc}); run bench/http_load.py once first.")
        return None


def main() -> int:
    connection = connect("bench/commit_cpu.py")
    if connection is None:
        return 0
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    with connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_commit_cpu (id integer PRIMARY KEY, n bigint NOT NULL)"
        )
        connection.execute("INSERT INTO bench_commit_cpu VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
        try:
            print(f"{'setting':<46}{'tx/s':>9}{'machine CPU ms/tx':>20}")
            for name, options in SETTINGS.items():
                rate, cpu = pgbench(url, STATEMENT, options=options)
                print(f"{name:<46}{rate:>9.0f}{cpu:>20.3f}")
        finally:
            connection.execute("DROP TABLE bench_commit_cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
