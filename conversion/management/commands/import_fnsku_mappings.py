"""Import a user's FNSKU to ASIN pairs from an Amazon inventory report (the same service as the page and API).

python manage.py import_fnsku_mappings report.txt --user seller@example.com --marketplace US
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from conversion.sources import inventory_report_import
from core.errors import DomainError


class Command(BaseCommand):
    help = "Import FNSKU to ASIN mappings from an inventory report (CSV or tab-separated: sku, fnsku, asin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The report file.")
        parser.add_argument("--user", required=True, help="Email of the user whose mappings these are.")
        parser.add_argument("--marketplace", default="US")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["user"]).first()
        if user is None:
            raise CommandError(f"No user with email {options['user']!r}.")
        try:
            with open(options["path"], "rb") as handle:
                result = inventory_report_import(user=user, file=handle, marketplace=options["marketplace"])
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror}") from None
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{result.rows} rows: {result.created} new, {result.updated} updated, {result.skipped} skipped"
            + (f", {result.duplicates} repeated" if result.duplicates else "")
        )
        for error in result.errors:
            self.stdout.write(f"  line {error['line']}: {error['message']}")
