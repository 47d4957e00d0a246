from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config import backup


class Command(BaseCommand):
    help = (
        "Back up the PostgreSQL database (DATABASE_URL) with pg_dump in its custom format, "
        "to --output or backups/<UTC timestamp>.dump. Restore with dbrestore."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, help="Where to write the dump.")
        parser.add_argument("--database", default="default", help="Which of DATABASES (default: default).")

    def handle(self, *args: Any, output: Path | None, database: str, **options: Any) -> None:
        if output is None:
            output = Path("backups") / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.dump"
        try:
            db = backup.postgres_settings(database)
            backup.backup(output=output, alias=database)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        size = output.stat().st_size
        self.stderr.write(f"Backed up {backup.describe(db)} ({size} bytes).")
        self.stdout.write(str(output))
