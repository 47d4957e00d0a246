import pytest

from accounts import services
from accounts.models import ApiKey
from accounts.tests.factories import KEYS_MANAGE, UserFactory
from core.api_errors import http_status
from core.errors import DomainError, NotFoundError

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


def test_a_user_has_at_most_twenty_active_keys_and_revoking_one_frees_a_slot(settings):
    assert settings.API_KEYS_MAX_ACTIVE == 20
    user = UserFactory()
    keys = [services.api_key_create(user=user, name=f"k{i}")[0] for i in range(20)]

    with pytest.raises(DomainError) as refused:
        services.api_key_create(user=user, name="one too many")

    assert (http_status(refused.value), refused.value.code) == (409, "too_many_keys")
    assert refused.value.extra == {"max_active_keys": 20}
    assert "Revoke" in refused.value.message
    assert ApiKey.objects.filter(user=user).count() == 20

    services.api_key_revoke(user=user, key_id=keys[0].pk)
    services.api_key_create(user=user, name="replacement")

    assert ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() == 20


def test_the_limit_is_per_user_and_comes_from_the_setting(settings):
    settings.API_KEYS_MAX_ACTIVE = 2
    user, other = UserFactory(), UserFactory()
    services.api_key_create(user=other, name="theirs")
    services.api_key_create(user=other, name="theirs too")
    services.api_key_create(user=user, name="a")
    services.api_key_create(user=user, name="b")

    with pytest.raises(DomainError, match="2 active API keys"):
        services.api_key_create(user=user, name="c")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_cannot_pass_the_key_limit_together(settings):
    import threading

    from django.db import connection

    settings.API_KEYS_MAX_ACTIVE = 2
    user = UserFactory()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def create() -> None:
        try:
            barrier.wait(timeout=10)
            services.api_key_create(user=user, name="racer")
            outcomes.append("created")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["created"] * 2 + ["too_many_keys"] * 4
    assert ApiKey.objects.filter(user=user).count() == 2


def test_keys_have_no_scope_unless_given_one():
    user = UserFactory()

    plain, _ = services.api_key_create(user=user, name="plain")
    manager, _ = services.api_key_create(user=user, name="manager", scopes=[KEYS_MANAGE, KEYS_MANAGE])

    assert ApiKey.objects.get(pk=plain.pk).scopes == []
    assert ApiKey.objects.get(pk=manager.pk).scopes == [KEYS_MANAGE]


def test_a_key_cannot_grant_a_scope_it_does_not_have():
    user = UserFactory()

    with pytest.raises(DomainError) as refused:
        services.api_key_create(
            user=user, name="escalated", scopes=[KEYS_MANAGE], acting_key_scopes=frozenset()
        )

    assert (http_status(refused.value), refused.value.code) == (403, "insufficient_scope")
    assert not ApiKey.objects.filter(user=user).exists()
    # A key that holds the scope may pass it on; the user themselves (no key) may grant it.
    services.api_key_create(
        user=user, name="passed on", scopes=[KEYS_MANAGE], acting_key_scopes={KEYS_MANAGE}
    )
    services.api_key_create(user=user, name="by the user", scopes=[KEYS_MANAGE], acting_key_scopes=None)
    assert [key.scopes for key in ApiKey.objects.filter(user=user)] == [[KEYS_MANAGE]] * 2


def test_an_unknown_scope_is_refused():
    with pytest.raises(DomainError) as refused:
        services.api_key_create(user=UserFactory(), name="k", scopes=["keys:everything"])

    assert (http_status(refused.value), refused.value.code) == (400, "invalid_scope")
    assert not ApiKey.objects.exists()
