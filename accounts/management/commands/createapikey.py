from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import User
from config.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for a user; the key alone is printed on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="Command line")

    def handle(self, *args: Any, email: str, name: str, **options: Any) -> None:
        try:
            user = User.objects.get(email__iexact=email.strip())
        except User.DoesNotExist:
            raise CommandError(f"No user with the email {email!r}.") from None
        try:
            api_key, raw_key = services.api_key_create(user=user, name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"Created API key “{api_key.name}” ({api_key.prefix}…) for {user.email}.")
        self.stdout.write(raw_key)
