import uuid
from typing import Any

import factory

from accounts.models import User
from accounts.tests.factories import UserFactory
from credits import services
from credits.models import CreditAccount


class CreditAccountFactory(factory.django.DjangoModelFactory[CreditAccount]):
    """An open account with an empty ledger; ``credits=N`` funds it through
    the grant service, so the balance always matches the ledger."""

    class Meta:
        model = CreditAccount
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    balance = 0
    low_balance_threshold = None

    @factory.post_generation
    def credits(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            services.credits_grant(
                user=self.user,
                amount=extracted,
                reason="Test funds",
                idempotency_key=f"test-funds-{uuid.uuid4().hex}",
            )
            self.refresh_from_db()


def funded_user(credits: int = 0, **kwargs: Any) -> User:
    """A user whose credit account holds ``credits``."""
    account: CreditAccount = CreditAccountFactory(credits=credits, **kwargs)
    return account.user


def new_key() -> str:
    return f"test-{uuid.uuid4().hex}"
