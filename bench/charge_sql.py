"""What one charge costs PostgreSQL: the ledger's own statement under pgbench.

A metered lookup's charge is one statement (credits/services.py: the balance's
conditional UPDATE and the entry's INSERT in one data-modifying CTE) in its own
transaction. This runs that statement with pgbench on copies of the ledger's two
tables in a schema of its own (`bench_charge`, made and dropped here, with the
same columns, checks, indexes and foreign key; no ledger table is touched), and
reads the CPU the whole machine spent from /proc/stat, so run it on an idle machine:

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench .venv/bin/python bench/charge_sql.py

Cases: one account charged by 4 clients at once (bench/http_load.py's case: one
user's key behind 4 workers, so each charge waits for the previous one's row lock
and commit), 4 accounts (4 users), one client, and the statement's two halves each
on its own. The baseline, measured in the same run, is a one-row UPDATE of a
table with one integer column (bench/commit_cpu.py's statement): a commit with
the least work in it.

Needs pgbench (Debian's postgresql-client) and a database whose schema is migrated
(`bench`, which bench/http_load.py creates and migrates).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from commit_cpu import DEFAULT_URL, connect, pgbench  # noqa: E402 - this directory: the pgbench runner

from credits.services import _ACCOUNT_TABLE, _ENTRY_TABLE, _POST_SQL  # noqa: E402 - the real statement

SCHEMA = "bench_charge"  # also spelled out in the scripts below
CLIENTS = 4
SECONDS = 6
BALANCE = 10**15
# pgbench variables in place of the statement's parameters; the key is unique per charge.
PARAMETERS = {
    "kind": "'charge'",
    "amount": "-1",
    "operation": "'asin_lookup'",
    "reference": "'US:B08N5WRWNW'",
    "description": "''",
    "idempotency_key": "('bench:' || :client_id || ':' || :r)",
    "actor_id": "NULL",
    "refund_of_id": "NULL",
    "hold_id": "NULL",
    "created_at": "now()",
}
RANDOM = "\\set r random(1, 1000000000000000)\n"


def charge_script(account: str) -> str:
    sql = _POST_SQL.format(
        account_table=f"{SCHEMA}.account", account_column="user_id", entry_table=f"{SCHEMA}.entry"
    )
    for name, value in {**PARAMETERS, "account_key": account}.items():
        sql = sql.replace(f"%({name})s", value)
    return RANDOM + " ".join(sql.split()) + ";\n"


CASES: list[tuple[str, str, int]] = [
    ("baseline: one-row UPDATE of a bare table", "UPDATE bench_charge.bare SET n = n + 1 WHERE id = 1;\n", 4),
    ("the charge, one account, 4 clients", charge_script("1"), CLIENTS),
    ("the charge, 4 accounts, 4 clients", charge_script("(1 + :client_id % 4)"), CLIENTS),
    ("the charge, one account, 1 client", charge_script("1"), 1),
    (
        "its UPDATE of the balance alone",
        "UPDATE bench_charge.account SET balance = balance - 1 WHERE user_id = 1 AND balance - 1 >= 0 "
        "RETURNING id, balance, low_balance_threshold;\n",
        CLIENTS,
    ),
    (
        "its INSERT of the entry alone",
        "\\set r random(1, 1000000000000000)\n"
        "INSERT INTO bench_charge.entry (account_id, kind, amount, balance_after, operation, "
        "reference, description, idempotency_key, created_at) VALUES (1, 'charge', -1, 5, "
        "'asin_lookup', 'US:B08N5WRWNW', '', 'bench:' || :client_id || ':' || :r, now());\n",
        CLIENTS,
    ),
]


def create_tables(connection: psycopg.Connection) -> None:
    statements = [
        "CREATE SCHEMA {schema}",
        "CREATE TABLE {schema}.bare (id integer PRIMARY KEY, n bigint NOT NULL)",
        "INSERT INTO {schema}.bare VALUES (1, 0)",
        "CREATE TABLE {schema}.account (LIKE {account} INCLUDING ALL)",
        "CREATE TABLE {schema}.entry (LIKE {entry} INCLUDING ALL)",
        "ALTER TABLE {schema}.entry ADD FOREIGN KEY (account_id) REFERENCES {schema}.account (id) "
        "DEFERRABLE INITIALLY DEFERRED",
        "INSERT INTO {schema}.account (id, balance, created_at, user_id) "
        "SELECT n, {balance}, now(), n FROM generate_series(1, 4) AS n",
    ]
    names = {
        "schema": sql.Identifier(SCHEMA),
        "account": sql.Identifier(_ACCOUNT_TABLE),
        "entry": sql.Identifier(_ENTRY_TABLE),
        "balance": sql.Literal(BALANCE),
    }
    for statement in statements:
        connection.execute(sql.SQL(statement).format(**names))


def main() -> int:
    connection = connect("bench/charge_sql.py")
    if connection is None:
        return 0
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    with connection:
        if connection.execute("SELECT to_regclass(%s)", (_ENTRY_TABLE,)).fetchone() == (None,):
            print(f"bench/charge_sql.py: {url} has no ledger tables; run bench/http_load.py once first.")
            return 0
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        create_tables(connection)
        try:
            print(f"pgbench, {SECONDS} s per case; machine CPU from /proc/stat (every process)\n")
            print(f"{'case':<44}{'clients':>8}{'tx/s':>9}{'CPU ms/tx':>11}{'vs baseline':>13}")
            baseline = None
            for name, script, clients in CASES:
                rate, cpu = pgbench(url, script, clients=clients, seconds=SECONDS)
                baseline = baseline or cpu
                print(f"{name:<44}{clients:>8}{rate:>9.0f}{cpu:>11.3f}{cpu / baseline:>13.2f}", flush=True)
        finally:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCHEMA)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
