"""The demo user for `make run`: an account, a fresh API key and a topped-up balance.

Here, in credits, rather than in accounts: it opens and tops up the credit account, and accounts
imports no app above it (docs/architecture.md, "Layers and import rules").
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts import services
from accounts.models import ApiKey, ApiKeyScope, User
from credits.services import credits_account_open, credits_grant

DEMO_KEY_NAME = "Demo key (make run)"


class Command(BaseCommand):
    help = "Create (or refresh) the demo user and print its login and a fresh API key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="demo@example.com")
        parser.add_argument("--password", default="demo-password-123")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--credits", type=int, default=1000, help="Top the demo balance up to at least this many credits."
        )

    def handle(
        self, *args: Any, email: str, password: str, base_url: str, credits: int, **options: Any
    ) -> None:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = services.user_create(email=email, password=password, verified=True)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        # Only the hash of a key is kept, so each start issues a new demo key
        # and retires the previous one.
        for old in ApiKey.objects.filter(user=user, name=DEMO_KEY_NAME, revoked_at__isnull=True):
            services.api_key_revoke(user=user, key_id=old.pk)
        # It may manage keys: the README's first call with it lists them.
        _, raw_key = services.api_key_create(user=user, name=DEMO_KEY_NAME, scopes=[ApiKeyScope.KEYS_MANAGE])
        balance = credits_account_open(user=user).balance
        if balance < credits:
            balance = credits_grant(
                user=user, amount=credits - balance, reason="Demo top-up", reference="manage.py demo"
            ).balance_after
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "=" * 72,
                    f"  Platform:  {base_url}/",
                    f"  Log in:    {email} / {password}",
                    f"  API key:   {raw_key}",
                    f"  Credits:   {balance}",
                    f"  Try:       curl -H 'Authorization: Bearer {raw_key}' {base_url}/api/v1/keys",
                    f"  API docs:  {base_url}/api/docs/",
                    "=" * 72,
                    "",
                ]
            )
        )
