"""Charges per second on PostgreSQL, against baselines measured in the same run.

    DATABASE_URL=postgres://root@127.0.0.1:5432/platform .venv/bin/python bench/bench_credits.py

Creates a throw-away database (``bench_credits_<pid>``) next to the configured
one, migrates it, and for 1, 2, 4 and 8 threads measures:

- ``SELECT 1``: one round trip, the floor any charge pays;
- naive ORM charge: ``select_for_update`` of the account, check, ``save()``,
  ``LedgerEntry.objects.create`` in an atomic block (the usual first version);
- ``credits_charge`` on its portable ORM path (conditional UPDATE + SELECT +
  INSERT in an atomic block, CREDITS_SINGLE_STATEMENT=0);
- ``credits_charge`` on its PostgreSQL path (one statement, one round trip);

each with every thread charging its own account, and the charges also with
every thread charging one shared account (the worst case: one hot row). Every
figure is charges (or queries) per second over the whole process; the ratio
column compares with ``SELECT 1`` at the same thread count; the one-thread
rows also give the CPU time per operation of the client thread (Python) and
of its PostgreSQL backend (read from /proc when the server runs on this host). Afterwards every
account is reconciled (balance = sum of the ledger) and the database dropped.
Writes nothing but the throw-away database; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="Duration of each measurement.")
    parser.add_argument("--threads", default="1,2,4,8", help="Comma-separated thread counts.")
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("bench_credits: skipped, it needs PostgreSQL (set DATABASE_URL=postgres://...).")
        return 0

    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = f"bench_credits_{os.getpid()}"
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(seconds=args.seconds, thread_counts=[int(n) for n in args.threads.split(",")])
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
    return 0


def run(*, seconds: float, thread_counts: list[int]) -> None:
    import platform

    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from credits import selectors, services
    from credits.errors import InsufficientCredits
    from credits.models import CreditAccount, LedgerEntry, Operation

    settings.SIGNUP_FREE_CREDITS = 0
    max_threads = max(thread_counts)
    users = [
        User.objects.create_user(email=f"bench{i}@example.com", password=None) for i in range(max_threads)
    ]
    for user in users:
        services.credits_grant(user=user, amount=10**12, reason="Benchmark funds")
    price = selectors.price_get(operation=Operation.ASIN_LOOKUP)

    def select_one(user: User) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def naive_charge(user: User) -> None:
        with transaction.atomic():
            account = CreditAccount.objects.select_for_update().get(user=user)
            if account.balance < price:
                raise InsufficientCredits(balance=account.balance, price=price)
            account.balance -= price
            account.save(update_fields=["balance"])
            LedgerEntry.objects.create(
                account=account,
                kind=LedgerEntry.Kind.CHARGE,
                amount=-price,
                balance_after=account.balance,
                operation=Operation.ASIN_LOOKUP,
                idempotency_key=uuid.uuid4().hex,
                created_at=timezone.now(),
            )

    def service_charge(user: User) -> None:
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=uuid.uuid4().hex)

    def backend_cpu_seconds() -> float | None:
        """CPU used so far by this thread's PostgreSQL backend (a server on this host)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measure(call: Callable[[User], None], threads: int, *, shared: bool) -> tuple[float, str]:
        stop = threading.Event()
        counts = [0] * threads
        cpu: list[tuple[float, float | None]] = [(0.0, None)] * threads
        barrier = threading.Barrier(threads + 1)

        def worker(index: int) -> None:
            user = users[0] if shared else users[index]
            try:
                call(user)  # connect before the clock starts
                client_start, server_start = time.thread_time(), backend_cpu_seconds()
                barrier.wait()
                while not stop.is_set():
                    call(user)
                    counts[index] += 1
                server_end = backend_cpu_seconds()
                server = None if server_start is None or server_end is None else server_end - server_start
                cpu[index] = (time.thread_time() - client_start, server)
            finally:
                connection.close()

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in workers:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        time.sleep(seconds)
        stop.set()
        for thread in workers:
            thread.join()
        rate = sum(counts) / (time.perf_counter() - started)
        # CPU per operation, from the one-thread runs (no lock waits mixed in).
        client_cpu, server_cpu = cpu[0]
        if threads != 1 or not counts[0]:
            return rate, "-"
        server = "?" if server_cpu is None else f"{server_cpu / counts[0] * 1e6:,.0f}"
        return rate, f"{client_cpu / counts[0] * 1e6:,.0f} / {server}"

    print(f"# bench_credits: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        print(f"# PostgreSQL {cursor.fetchone()[0]}, {seconds:g} s per figure, price {price} credit")
    print()
    print("| threads | workload | accounts | per second | vs SELECT 1 | CPU µs/op client / server |")
    print("| ---: | --- | --- | ---: | ---: | ---: |")
    for threads in thread_counts:
        baseline, cpu = measure(select_one, threads, shared=False)
        print(f"| {threads} | `SELECT 1` (one round trip) | - | {baseline:,.0f} | 1.00 | {cpu} |", flush=True)
        rows: list[tuple[str, Callable[[User], None], bool | None]] = [
            ("naive ORM charge", naive_charge, None),
            ("`credits_charge`, ORM path", service_charge, False),
            ("`credits_charge`, one statement", service_charge, True),
        ]
        for label, call, single_statement in rows:
            if single_statement is not None:
                settings.CREDITS_SINGLE_STATEMENT = single_statement
            for shared in (False, True):
                if shared and threads == 1:
                    continue
                rate, cpu = measure(call, threads, shared=shared)
                accounts = "one shared" if shared else "one each"
                print(
                    f"| {threads} | {label} | {accounts} | {rate:,.0f} | {rate / baseline:.2f} | {cpu} |",
                    flush=True,
                )
    settings.CREDITS_SINGLE_STATEMENT = True

    out_of_balance = selectors.accounts_out_of_balance()
    charges = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE).count()
    print()
    print(f"# {charges:,} charges written; accounts out of balance: {len(out_of_balance)}")
    if out_of_balance:
        raise SystemExit(f"bench_credits: ledger does not reconcile: {out_of_balance}")


if __name__ == "__main__":
    raise SystemExit(main())
