import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.tests.factories import KEYS_MANAGE, PASSWORD, UserFactory, api_key_for

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/keys"


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_bearer_key_lists_own_keys():
    user = UserFactory()
    api_key, raw = api_key_for(user, scopes=[KEYS_MANAGE])

    response = bearer(raw).get(KEYS_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == api_key.pk
    assert body["results"][0]["prefix"] == raw[: len(api_key.prefix)]
    assert "key" not in body["results"][0]
    assert "key_hash" not in body["results"][0]


def test_x_api_key_header_authenticates():
    user = UserFactory()
    _, raw = api_key_for(user)

    response = APIClient().get("/api/v1/me", HTTP_X_API_KEY=raw)

    assert response.status_code == 200
    assert response.json()["email"] == user.email


def test_missing_key_is_401_with_json_error():
    response = APIClient().get(KEYS_URL)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer apip_not-a-real-key", "Bearer ", "Bearer two parts", "bearer wrong"],
)
def test_wrong_key_is_401(header):
    UserFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(KEYS_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"invalid_api_key", "not_authenticated"}


def test_revoked_key_stops_working():
    user = UserFactory()
    api_key, raw = api_key_for(user, scopes=[KEYS_MANAGE])
    client = bearer(raw)
    assert client.get(KEYS_URL).status_code == 200

    assert client.delete(f"{KEYS_URL}/{api_key.pk}").status_code == 204

    assert_error(client.get(KEYS_URL), 401, "revoked_api_key")
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_a_key_revoked_elsewhere_is_refused_at_once_whatever_this_process_remembers():
    from django.core.cache import cache

    from accounts.selectors import revoked_marker_name
    from accounts.services import api_key_hash

    user = UserFactory()
    api_key, raw = api_key_for(user, scopes=[KEYS_MANAGE])
    client = bearer(raw)
    assert client.get(KEYS_URL).status_code == 200  # this process now remembers the key

    # What api_key_revoke does in another process: the row, then the marker.
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    cache.set(revoked_marker_name(api_key_hash(raw)), 1, 60)

    assert_error(client.get(KEYS_URL), 401, "revoked_api_key")
    assert_error(client.get(KEYS_URL), 401, "revoked_api_key")


def test_the_marker_of_a_revocation_that_rolled_back_is_removed_and_the_key_works():
    from django.core.cache import cache

    from accounts.selectors import revoked_marker_name
    from accounts.services import api_key_hash

    user = UserFactory()
    _, raw = api_key_for(user, scopes=[KEYS_MANAGE])
    marker = revoked_marker_name(api_key_hash(raw))
    cache.set(marker, 1, 60)  # published, but the revocation's transaction rolled back

    assert bearer(raw).get(KEYS_URL).status_code == 200
    assert cache.get(marker) is None


def test_a_warm_key_costs_one_redis_call_for_its_check_and_rate_limit(django_assert_num_queries):
    from unittest import mock

    import redis

    user = UserFactory()
    _, raw = api_key_for(user)
    client = bearer(raw)
    client.get("/api/v1/me")  # warms this process's copy and records the use

    with (
        mock.patch.object(
            redis.Redis, "execute_command", autospec=True, side_effect=redis.Redis.execute_command
        ) as calls,
        django_assert_num_queries(0),
    ):
        assert client.get("/api/v1/me").status_code == 200

    assert [call.args[1] for call in calls.call_args_list] == ["EVALSHA"]


def test_each_call_gets_its_own_user_instance():
    user = UserFactory(full_name="Ada Seller")
    _, raw = api_key_for(user)

    from accounts.selectors import api_key_principal
    from accounts.services import api_key_hash

    first = api_key_principal(key_hash=api_key_hash(raw))
    first.user.full_name = "Changed in one request only"
    second = api_key_principal(key_hash=api_key_hash(raw))

    assert second.user is not first.user
    assert second.user.full_name == "Ada Seller"


def test_the_per_process_copies_are_bounded(monkeypatch):
    from accounts import selectors
    from accounts.services import api_key_hash

    monkeypatch.setattr(selectors, "AUTH_LOCAL_MAX_ENTRIES", 3)
    user = UserFactory()
    for _ in range(10):
        _, raw = api_key_for(user)
        assert selectors.api_key_principal(key_hash=api_key_hash(raw)) is not None
        assert len(selectors._local_entries) <= 3


def test_key_of_disabled_user_is_refused():
    user = UserFactory()
    _, raw = api_key_for(user)
    user.is_active = False
    user.save()

    assert_error(bearer(raw).get(KEYS_URL), 401, "account_disabled")


def test_create_key_shows_it_once_and_it_works():
    user = UserFactory()
    _, raw = api_key_for(user, scopes=[KEYS_MANAGE])

    response = bearer(raw).post(KEYS_URL, {"name": "Inventory script"}, format="json")

    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "Inventory script"
    assert created["key"].startswith(created["prefix"])
    assert bearer(created["key"]).get("/api/v1/me").status_code == 200
    stored = ApiKey.objects.get(pk=created["id"])
    assert created["key"] not in {stored.key_hash, stored.prefix}
    listed = bearer(raw).get(f"{KEYS_URL}/{created['id']}").json()
    assert "key" not in listed


def test_create_key_rejects_too_long_name():
    user = UserFactory()
    _, raw = api_key_for(user, scopes=[KEYS_MANAGE])

    response = bearer(raw).post(KEYS_URL, {"name": "x" * 101}, format="json")

    assert_error(response, 400, "invalid")
    assert "name" in response.json()["error"]["detail"]
    assert ApiKey.objects.count() == 1


def test_malformed_json_is_400_in_the_error_shape():
    user = UserFactory()
    _, raw = api_key_for(user, scopes=[KEYS_MANAGE])

    response = bearer(raw).post(KEYS_URL, "{not json", content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_a_key_never_sees_another_users_keys():
    alice, bob = UserFactory(), UserFactory()
    _, alice_raw = api_key_for(alice, scopes=[KEYS_MANAGE])
    bob_key, _ = api_key_for(bob)
    client = bearer(alice_raw)

    listed = client.get(KEYS_URL).json()
    assert [k["id"] for k in listed["results"]] != [bob_key.pk]
    assert bob_key.pk not in {k["id"] for k in listed["results"]}
    assert_error(client.get(f"{KEYS_URL}/{bob_key.pk}"), 404, "not_found")
    assert_error(client.delete(f"{KEYS_URL}/{bob_key.pk}"), 404, "not_found")
    bob_key.refresh_from_db()
    assert bob_key.revoked_at is None


def test_session_auth_requires_csrf_for_writes():
    user = UserFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.get(KEYS_URL).status_code == 200
    response = client.post(KEYS_URL, {"name": "x"}, format="json")

    assert_error(response, 403, "permission_denied")
    assert not ApiKey.objects.exists()


def test_last_used_is_recorded_at_most_once_per_interval(settings):
    settings.API_KEY_TOUCH_INTERVAL = 60
    user = UserFactory()
    api_key, raw = api_key_for(user, scopes=[KEYS_MANAGE])
    client = bearer(raw)

    client.get(KEYS_URL)
    api_key.refresh_from_db()
    first = api_key.last_used_at
    assert first is not None
    assert first <= timezone.now()

    client.get(KEYS_URL)
    api_key.refresh_from_db()
    assert api_key.last_used_at == first


def test_pagination_limits_results():
    user = UserFactory()
    for i in range(3):
        api_key_for(user, name=f"k{i}")
    _, raw = api_key_for(user, scopes=[KEYS_MANAGE])

    body = bearer(raw).get(KEYS_URL, {"limit": 2}).json()

    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert body["next"]


def test_unknown_api_path_is_json_404():
    response = APIClient().get("/api/v1/does-not-exist")

    assert_error(response, 404, "not_found")


def test_warm_authentication_makes_no_database_query(django_assert_num_queries):
    user = UserFactory()
    _, raw = api_key_for(user)
    client = bearer(raw)
    client.get("/api/v1/me")  # warms the cache and records the use

    with django_assert_num_queries(0):
        response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["email"] == user.email


def test_cached_user_is_complete_and_cannot_clobber_the_password():
    user = UserFactory(full_name="Ada Seller")
    _, raw = api_key_for(user)
    bearer(raw).get("/api/v1/me")

    from accounts.selectors import api_key_principal
    from accounts.services import api_key_hash

    cached_user = api_key_principal(key_hash=api_key_hash(raw)).user
    assert cached_user.pk == user.pk
    assert cached_user.full_name == "Ada Seller"
    cached_user.full_name = "Changed"
    cached_user.save()
    user.refresh_from_db()
    assert user.full_name == "Changed"
    assert user.check_password(PASSWORD)


# --- Scopes and the number of keys --------------------------------------------------------------


def test_a_key_without_the_manage_scope_cannot_list_see_create_or_revoke_keys():
    # A leaked key must not make itself permanent (a new key, the owner's revoked) nor
    # learn about the others; it keeps working for everything else.
    user = UserFactory()
    plain, raw = api_key_for(user)
    other, _ = api_key_for(user, name="Other")
    client = bearer(raw)

    for response in (
        client.get(KEYS_URL),
        client.post(KEYS_URL, {"name": "Forever"}, format="json"),
        client.post(KEYS_URL, {"name": "Forever", "scopes": [KEYS_MANAGE]}, format="json"),
        client.get(f"{KEYS_URL}/{other.pk}"),
        client.delete(f"{KEYS_URL}/{other.pk}"),
        client.delete(f"{KEYS_URL}/{plain.pk}"),
    ):
        assert_error(response, 403, "insufficient_scope")
        assert KEYS_MANAGE in response.json()["error"]["message"]

    assert ApiKey.objects.filter(user=user).count() == 2
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()
    assert client.get("/api/v1/me").status_code == 200


def test_a_key_with_the_manage_scope_manages_keys_and_can_pass_the_scope_on():
    user = UserFactory()
    _, raw = api_key_for(user, scopes=[KEYS_MANAGE])
    client = bearer(raw)

    manager = client.post(KEYS_URL, {"name": "Rotation job", "scopes": [KEYS_MANAGE]}, format="json")
    plain = client.post(KEYS_URL, {"name": "Repricer"}, format="json")

    assert manager.status_code == 201, manager.content
    assert manager.json()["scopes"] == [KEYS_MANAGE]
    assert plain.status_code == 201, plain.content
    assert plain.json()["scopes"] == []
    listed = client.get(KEYS_URL).json()
    assert listed["count"] == 3
    assert {tuple(k["scopes"]) for k in listed["results"]} == {(KEYS_MANAGE,), ()}
    assert client.delete(f"{KEYS_URL}/{plain.json()['id']}").status_code == 204
    assert bearer(manager.json()["key"]).get(KEYS_URL).status_code == 200
    assert_error(bearer(plain.json()["key"]).get("/api/v1/me"), 401, "revoked_api_key")


def test_a_session_manages_keys_and_grants_the_scope():
    user = UserFactory()
    client = APIClient()
    client.force_login(user)

    created = client.post(KEYS_URL, {"name": "Ops script", "scopes": [KEYS_MANAGE]}, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["scopes"] == [KEYS_MANAGE]
    assert client.get(KEYS_URL).json()["count"] == 1
    assert client.delete(f"{KEYS_URL}/{created.json()['id']}").status_code == 204


def test_an_unknown_scope_is_400():
    user = UserFactory()
    client = APIClient()
    client.force_login(user)

    response = client.post(KEYS_URL, {"name": "k", "scopes": ["keys:everything"]}, format="json")

    assert_error(response, 400, "invalid")
    assert "scopes" in response.json()["error"]["detail"]
    assert not ApiKey.objects.exists()


def test_the_scope_is_kept_by_the_cached_key_state():
    from accounts import selectors

    user = UserFactory()
    _, manager_raw = api_key_for(user, scopes=[KEYS_MANAGE])
    _, plain_raw = api_key_for(user, name="plain")
    for _ in range(2):  # from the database, then from this process's memory
        assert bearer(manager_raw).get(KEYS_URL).status_code == 200
        assert_error(bearer(plain_raw).get(KEYS_URL), 403, "insufficient_scope")
    selectors.api_key_principals_forget_all()  # from the shared cache
    assert bearer(manager_raw).get(KEYS_URL).status_code == 200
    assert_error(bearer(plain_raw).get(KEYS_URL), 403, "insufficient_scope")


def test_the_21st_active_key_is_refused_with_409_until_one_is_revoked(settings):
    assert settings.API_KEYS_MAX_ACTIVE == 20
    user = UserFactory()
    _, raw = api_key_for(user, scopes=[KEYS_MANAGE])
    spare = [api_key_for(user, name=f"k{i}")[0] for i in range(19)]
    client = bearer(raw)

    response = client.post(KEYS_URL, {"name": "one too many"}, format="json")

    assert_error(response, 409, "too_many_keys")
    assert response.json()["error"]["detail"] == {"max_active_keys": 20}
    assert ApiKey.objects.filter(user=user).count() == 20
    assert client.delete(f"{KEYS_URL}/{spare[0].pk}").status_code == 204
    assert client.post(KEYS_URL, {"name": "replacement"}, format="json").status_code == 201
