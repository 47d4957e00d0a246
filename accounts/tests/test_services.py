import pytest

from accounts import services
from accounts.models import ApiKey
from accounts.tests.factories import UserFactory
from config.errors import NotFoundError

pytestmark = pytest.mark.django_db


def test_only_the_hash_is_stored():
    user = UserFactory()

    api_key, raw = services.api_key_create(user=user, name="  CI  ")

    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.name == "CI"
    assert stored.key_hash == services.api_key_hash(raw)
    assert raw not in {stored.key_hash, stored.prefix}
    assert raw.startswith(stored.prefix)
    assert len(raw) > 40


def test_keys_are_unique():
    user = UserFactory()

    raws = {services.api_key_create(user=user, name="k")[1] for _ in range(20)}

    assert len(raws) == 20


def test_blank_name_gets_a_default():
    api_key, _ = services.api_key_create(user=UserFactory(), name="   ")

    assert api_key.name == "API key"


def test_revoke_is_idempotent():
    user = UserFactory()
    api_key, _ = services.api_key_create(user=user, name="k")

    first = services.api_key_revoke(user=user, key_id=api_key.pk).revoked_at
    second = services.api_key_revoke(user=user, key_id=api_key.pk).revoked_at

    assert first is not None
    assert first == second


def test_revoke_refuses_another_users_key():
    api_key, _ = services.api_key_create(user=UserFactory(), name="k")

    with pytest.raises(NotFoundError):
        services.api_key_revoke(user=UserFactory(), key_id=api_key.pk)
