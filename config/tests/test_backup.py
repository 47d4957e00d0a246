"""manage.py dbbackup / dbrestore (make backup / make restore) on a real PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from accounts.models import User
from accounts.tests.factories import UserFactory
from credits import services
from credits.models import CreditAccount, LedgerEntry, Operation
from credits.tests.factories import funded_user

BASE_DIR = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def snapshot() -> dict[str, object]:
    return {
        "users": sorted(User.objects.values_list("email", flat=True)),
        "balances": dict(CreditAccount.objects.values_list("user__email", "balance")),
        "ledger": sorted(LedgerEntry.objects.values_list("idempotency_key", "amount")),
    }


def trigger_exists(cursor) -> bool:
    cursor.execute(
        "SELECT count(*) FROM pg_trigger "
        "WHERE tgname = 'credits_ledgerentry_append_only' AND NOT tgisinternal"
    )
    return cursor.fetchone()[0] == 1


def some_data() -> None:
    alice = funded_user(credits=100, user__email="alice@example.com")
    funded_user(credits=30, user__email="bob@example.com")
    services.credits_charge(user=alice, operation=Operation.ASIN_LOOKUP, idempotency_key="backup-charge-1")


def server_connection(dbname: str = "postgres") -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname=dbname,
        autocommit=True,
    )


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """An empty database beside the test database: where a disaster recovery restores to."""
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    with server_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with server_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(
    *args: str, database: str, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database}"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": url},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_backup_then_restore_brings_the_data_back_with_the_ledger_still_append_only(tmp_path):
    some_data()
    before = snapshot()
    dump = tmp_path / "nightly.dump"

    call_command("dbbackup", output=dump)
    assert dump.stat().st_size > 0
    assert not list(tmp_path.glob("*.partial"))

    # After the backup: a new user, more ledger rows, a changed balance, a dropped table.
    services.credits_grant(
        user=User.objects.get(email="bob@example.com"), amount=5, reason="late", idempotency_key="after-1"
    )
    UserFactory(email="mallory@example.com")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE products_lookuplog CASCADE")
    assert snapshot() != before

    call_command("dbrestore", str(dump), yes=True)

    assert snapshot() == before
    with connection.cursor() as cursor:
        assert trigger_exists(cursor)
        cursor.execute("SELECT count(*) FROM products_lookuplog")
        assert cursor.fetchone()[0] == 0
    # The trigger works, not only exists: the ledger still refuses changes.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(idempotency_key="backup-charge-1").update(amount=-1)
    # And the platform goes on charging after the restore.
    services.credits_charge(
        user=User.objects.get(email="alice@example.com"),
        operation=Operation.ASIN_LOOKUP,
        idempotency_key="after-2",
    )


def test_restore_into_an_empty_database_through_make_style_commands(tmp_path, scratch_database):
    some_data()
    before = snapshot()
    dump = tmp_path / "for-recovery.dump"
    call_command("dbbackup", output=dump)

    # Not a terminal and no --yes: refused, nothing done.
    refused = manage("dbrestore", str(dump), database=scratch_database)
    assert refused.returncode != 0
    assert "--yes" in refused.stderr
    with server_connection(scratch_database) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables is not None
        assert tables[0] == 0

    restored = manage("dbrestore", str(dump), "--yes", database=scratch_database)
    assert restored.returncode == 0, restored.stderr

    with server_connection(scratch_database) as conn:
        rows = conn.execute(
            "SELECT u.email, a.balance FROM credits_creditaccount a JOIN accounts_user u ON u.id = a.user_id"
        ).fetchall()
        assert dict(rows) == before["balances"]
        ledger = conn.execute("SELECT idempotency_key, amount FROM credits_ledgerentry").fetchall()
        assert sorted(ledger) == before["ledger"]
        assert trigger_exists(conn.cursor())
        with pytest.raises(psycopg.errors.RestrictViolation):
            conn.execute("DELETE FROM credits_ledgerentry")
        # Nothing left to migrate: the schema and django_migrations came back together.
    check = manage("migrate", "--check", database=scratch_database)
    assert check.returncode == 0, check.stdout + check.stderr


def test_backup_command_names_the_file_by_time_in_backups(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    call_command("dbbackup")

    (dump,) = (tmp_path / "backups").glob("*.dump")
    assert dump.name.endswith("Z.dump")


def test_restore_refuses_a_missing_or_unreadable_file_before_touching_anything(tmp_path):
    some_data()
    before = snapshot()
    garbage = tmp_path / "not-a-dump.dump"
    garbage.write_text("SELECT 1;")

    with pytest.raises(CommandError, match="No backup file"):
        call_command("dbrestore", str(tmp_path / "missing.dump"), yes=True)
    with pytest.raises(CommandError, match="pg_restore failed"):
        call_command("dbrestore", str(garbage), yes=True)
    assert snapshot() == before


def test_restore_without_confirmation_is_refused_when_not_on_a_terminal(tmp_path, monkeypatch):
    some_data()
    dump = tmp_path / "x.dump"
    call_command("dbbackup", output=dump)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)

    with pytest.raises(CommandError, match="without confirmation"):
        call_command("dbrestore", str(dump))


def test_a_failed_backup_leaves_no_file(tmp_path):
    dump = tmp_path / "x.dump"
    connection.settings_dict["NAME"], real = "no_such_database_here", connection.settings_dict["NAME"]
    try:
        with pytest.raises(CommandError, match="pg_dump failed"):
            call_command("dbbackup", output=dump)
    finally:
        connection.settings_dict["NAME"] = real
    assert list(tmp_path.iterdir()) == []


def test_on_a_terminal_restore_asks_for_the_database_name(tmp_path, monkeypatch):
    some_data()
    before = snapshot()
    dump = tmp_path / "x.dump"
    call_command("dbbackup", output=dump)
    UserFactory(email="after@example.com")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    name = connection.settings_dict["NAME"]

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    with pytest.raises(CommandError, match="Not confirmed"):
        call_command("dbrestore", str(dump), stdout=StringIO())
    assert User.objects.filter(email="after@example.com").exists()

    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or name)
    call_command("dbrestore", str(dump), stdout=StringIO())
    assert name in prompts[0]
    assert snapshot() == before
