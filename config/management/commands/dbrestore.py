import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config import backup


class Command(BaseCommand):
    help = (
        "Restore a dbbackup file into the PostgreSQL database (DATABASE_URL), replacing its tables "
        "with the backup's. Asks for the database's name on a terminal; elsewhere needs --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dump", type=Path, help="A file written by dbbackup (pg_dump --format=custom).")
        parser.add_argument("--yes", action="store_true", help="Do not ask: the restore is intended.")
        parser.add_argument("--database", default="default", help="Which of DATABASES (default: default).")

    def handle(self, *args: Any, dump: Path, yes: bool, database: str, **options: Any) -> None:
        try:
            db = backup.postgres_settings(database)
            backup.check_dump(dump)
            target = backup.describe(db)
            if not yes:
                self._confirm(target, str(db["NAME"]))
            backup.restore(dump=dump, alias=database)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {dump} into {target}."))

    def _confirm(self, target: str, name: str) -> None:
        if not sys.stdin.isatty():
            raise CommandError(
                f"Refusing to replace the data of {target} without confirmation: "
                "pass --yes (make restore ... CONFIRM=yes)."
            )
        warning = f"This replaces every table of {target} with the backup's contents."
        self.stdout.write(self.style.WARNING(warning))
        if input(f"Type the database name ({name}) to go on: ").strip() != name:
            raise CommandError("Not confirmed: nothing was changed.")
