from collections.abc import Sequence
from typing import Any

import factory
from allauth.account.models import EmailAddress

from accounts import services
from accounts.models import ApiKey, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.save()
            EmailAddress.objects.create(user=self, email=self.email, primary=True, verified=True)


# The scope that lets a key list, create and revoke keys (a session may always).
KEYS_MANAGE = "keys:manage"


def api_key_for(user: User, name: str = "Test key", *, scopes: Sequence[str] = ()) -> tuple[ApiKey, str]:
    return services.api_key_create(user=user, name=name, scopes=scopes)
