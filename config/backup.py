"""Backups of the PostgreSQL database with pg_dump and pg_restore.

The connection comes from Django's DATABASES (so from DATABASE_URL); the
password and TLS options go to the tools through their environment, never on
a command line that ``ps`` would show.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.db import connections

# DATABASES[...]["OPTIONS"] keys that libpq also reads from the environment.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


class BackupError(Exception):
    """The backup or restore could not be done; the message says why."""


def postgres_settings(alias: str = "default") -> Mapping[str, Any]:
    if alias not in connections.settings:
        raise BackupError(f"No database {alias!r} in DATABASES.")
    db = connections[alias].settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise BackupError(
            f"Backups use pg_dump and pg_restore: database {alias!r} is {db['ENGINE']}, not PostgreSQL "
            "(the embedded default's SQLite file is VAR_DIR/db.sqlite3: copy it with the platform stopped)."
        )
    return db


def libpq_environment(db: Mapping[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    values = {
        "PGHOST": db.get("HOST"),
        "PGPORT": db.get("PORT"),
        "PGUSER": db.get("USER"),
        "PGPASSWORD": db.get("PASSWORD"),
        "PGDATABASE": db.get("NAME"),
    }
    for option, variable in _LIBPQ_OPTIONS.items():
        values[variable] = (db.get("OPTIONS") or {}).get(option)
    for variable, value in values.items():
        if value not in (None, ""):
            env[variable] = str(value)
    return env


def describe(db: Mapping[str, Any]) -> str:
    return f"database {db['NAME']!r} on {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client).")
    return path


def _run(command: list[str], env: Mapping[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")


def backup(*, output: Path, alias: str = "default") -> Path:
    """Dump the database in pg_dump's custom format to ``output``; a failed dump leaves no file there."""
    db = postgres_settings(alias)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-password",
                f"--file={partial}",
                "--dbname",
                db["NAME"],
            ],
            libpq_environment(db),
        )
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def check_dump(path: Path) -> None:
    """Refuse anything pg_restore cannot read before touching the database."""
    if not path.is_file():
        raise BackupError(f"No backup file at {path}.")
    _run([_tool("pg_restore"), "--list", str(path)], dict(os.environ))


def restore(*, dump: Path, alias: str = "default") -> None:
    """Replace the database's objects with the dump's, in one transaction: all or nothing.

    ``--clean --if-exists`` drops each object of the dump before recreating it
    (and works on an empty database too); ``--no-owner --no-privileges`` lets
    the configured user own everything, whoever owned it where the dump came from.
    """
    db = postgres_settings(alias)
    check_dump(dump)
    # The tables are dropped: this process's own connection must not hold a lock on them.
    connections[alias].close()
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            "--dbname",
            db["NAME"],
            str(dump),
        ],
        libpq_environment(db),
    )
