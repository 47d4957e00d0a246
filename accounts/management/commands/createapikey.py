from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import ApiKeyScope, User
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for a user; the key alone is printed on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="Command line")
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            choices=ApiKeyScope.values,
            dest="scopes",
            help="Give the key this scope (repeatable); keys:manage lets it list, create and revoke keys.",
        )

    def handle(self, *args: Any, email: str, name: str, scopes: list[str], **options: Any) -> None:
        try:
            user = User.objects.get(email__iexact=email.strip())
        except User.DoesNotExist:
            raise CommandError(f"No user with the email {email!r}.") from None
        try:
            api_key, raw_key = services.api_key_create(user=user, name=name, scopes=scopes)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        scope_note = f" with {', '.join(api_key.scopes)}" if api_key.scopes else ""
        self.stderr.write(
            f"Created API key “{api_key.name}” ({api_key.prefix}…){scope_note} for {user.email}."
        )
        self.stdout.write(raw_key)
