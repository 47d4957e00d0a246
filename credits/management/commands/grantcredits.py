from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from core.errors import DomainError
from credits import services
from credits.models import LedgerEntry


class Command(BaseCommand):
    help = "Grant credits to a user through the ledger (a grant entry with the reason)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("amount", type=int)
        parser.add_argument("--reason", required=True, help="Recorded in the ledger entry.")
        parser.add_argument(
            "--idempotency-key",
            default=None,
            help="Run again with the same key and nothing is granted twice.",
        )
        parser.add_argument(
            "--kind",
            choices=[LedgerEntry.Kind.GRANT, LedgerEntry.Kind.PURCHASE],
            default=LedgerEntry.Kind.GRANT,
        )

    def handle(
        self,
        *args: Any,
        email: str,
        amount: int,
        reason: str,
        idempotency_key: str | None,
        kind: str,
        **options: Any,
    ) -> None:
        try:
            user = User.objects.get(email__iexact=email.strip())
        except User.DoesNotExist:
            raise CommandError(f"No user with the email {email!r}.") from None
        if not reason.strip():
            raise CommandError("A reason is required.")
        try:
            entry = services.credits_grant(
                user=user,
                amount=amount,
                reason=reason.strip(),
                idempotency_key=idempotency_key,
                kind=kind,
                reference="manage.py grantcredits",
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Granted {entry.amount} credits to {user.email} (entry {entry.pk}); "
            f"balance {entry.balance_after}."
        )
