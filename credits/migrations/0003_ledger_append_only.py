"""Ledger entries are never updated or deleted: the database refuses it.

PostgreSQL refuses UPDATE and DELETE of a row (TRUNCATE, which a test
database flush uses, stays possible). SQLite refuses UPDATE only: Django
flushes an SQLite test database with DELETE, and deleting through Django is
already stopped by the PROTECT foreign keys to the ledger.
"""

from django.db import migrations

POSTGRES_FORWARD = [
    """
CREATE OR REPLACE FUNCTION credits_ledgerentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'credits ledger entries are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
""",
    """
CREATE TRIGGER credits_ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON credits_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION credits_ledgerentry_append_only()
""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS credits_ledgerentry_append_only ON credits_ledgerentry",
    "DROP FUNCTION IF EXISTS credits_ledgerentry_append_only()",
]
SQLITE_FORWARD = [
    """
CREATE TRIGGER credits_ledgerentry_append_only
    BEFORE UPDATE ON credits_ledgerentry
BEGIN
    SELECT RAISE(ABORT, 'credits ledger entries are append-only: UPDATE refused');
END
"""
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS credits_ledgerentry_append_only"]

SQL = {
    "postgresql": (POSTGRES_FORWARD, POSTGRES_REVERSE),
    "sqlite": (SQLITE_FORWARD, SQLITE_REVERSE),
}


def forward(apps, schema_editor):
    sql = SQL.get(schema_editor.connection.vendor)
    for statement in sql[0] if sql else []:
        # No parameters: the SQL's own "%" must not be taken for a placeholder.
        schema_editor.execute(statement, params=None)


def reverse(apps, schema_editor):
    sql = SQL.get(schema_editor.connection.vendor)
    for statement in sql[1] if sql else []:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0002_default_prices"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
