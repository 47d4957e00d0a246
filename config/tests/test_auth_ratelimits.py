"""Login, signup and password reset are rate-limited per IP and per account, in the shared Redis cache."""

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache
from django.test import Client

from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
SIGNUP = "/accounts/signup/"
RESET = "/accounts/password/reset/"


def client_from(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip)


def login(client: Client, email: str, password: str):
    return client.post(LOGIN, {"login": email, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_sixth_wrong_password_for_an_account_is_refused_from_any_ip():
    user = UserFactory()
    # Five wrong passwords, each from another address: the per-IP limit never trips.
    for n in range(5):
        response = login(client_from(f"203.0.113.{n}"), user.email, "wrong password")
        assert "too many" not in response.content.decode().lower()

    attacker = client_from("203.0.113.99")
    response = login(attacker, user.email, PASSWORD)

    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(attacker)
    # Another account from the same addresses is not affected.
    other = UserFactory()
    assert login(client_from("203.0.113.0"), other.email, PASSWORD).status_code == 302


def test_logins_over_the_per_ip_limit_get_429(settings):
    settings.ACCOUNT_RATE_LIMITS = {**django_settings.ACCOUNT_RATE_LIMITS, "login": "3/m/ip"}
    users = [UserFactory() for _ in range(4)]
    client = client_from("198.51.100.7")

    statuses = [login(client, u.email, "wrong password").status_code for u in users]

    assert statuses == [200, 200, 200, 429]
    # Elsewhere, logins go on.
    assert login(client_from("198.51.100.8"), users[0].email, PASSWORD).status_code == 302


def test_signups_over_the_per_ip_limit_get_429(settings):
    settings.ACCOUNT_RATE_LIMITS = {**django_settings.ACCOUNT_RATE_LIMITS, "signup": "2/h/ip"}
    client = client_from("192.0.2.10")
    form = {"password1": "a-long-unusual-passphrase-42", "password2": "a-long-unusual-passphrase-42"}

    statuses = [client.post(SIGNUP, {**form, "email": f"new{n}@example.com"}).status_code for n in range(3)]

    assert statuses == [302, 302, 429]
    from accounts.models import User

    assert not User.objects.filter(email="new2@example.com").exists()


def test_the_configured_signup_limit_refuses_the_next_attempt():
    amount = int(django_settings.ACCOUNT_RATE_LIMITS["signup"].split("/")[0])
    client = client_from("192.0.2.20")
    # Invalid forms count too: the limit is on attempts.
    statuses = [client.post(SIGNUP, {"email": "not-an-email"}).status_code for _ in range(amount + 1)]

    assert statuses[:amount] == [200] * amount
    assert statuses[amount] == 429


def test_password_resets_for_one_account_are_limited_whatever_the_ip():
    user = UserFactory()
    per_key = int(django_settings.ACCOUNT_RATE_LIMITS["reset_password"].split(",")[1].split("/")[0])

    responses = [client_from(f"203.0.113.{n}").post(RESET, {"email": user.email}) for n in range(per_key + 1)]

    assert [r.status_code for r in responses[:per_key]] == [302] * per_key
    assert responses[per_key].status_code == 429
    assert len(mail.outbox) == per_key


def test_password_resets_from_one_ip_are_limited(settings):
    settings.ACCOUNT_RATE_LIMITS = {**django_settings.ACCOUNT_RATE_LIMITS, "reset_password": "2/h/ip,3/h/key"}
    client = client_from("198.51.100.20")

    statuses = [client.post(RESET, {"email": UserFactory().email}).status_code for _ in range(3)]

    assert statuses == [302, 302, 429]


def test_attempts_are_counted_in_the_shared_redis_cache():
    user = UserFactory()
    login(client_from("203.0.113.50"), user.email, "wrong password")

    assert "redis" in django_settings.CACHES["default"]["BACKEND"].lower()
    assert cache.keys("allauth:rl:allauth.account:login_failed:*")  # type: ignore[attr-defined]
