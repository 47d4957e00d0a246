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


# --- The back office's login: the same buckets as the site's ------------------------------------

ADMIN_LOGIN = "/admin/login/"


def admin_login(client: Client, email: str, password: str):
    return client.post(ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"})


def per_account_failures() -> int:
    per_key = next(
        rate for rate in django_settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",") if "key" in rate
    )
    return int(per_key.split("/")[0])


def test_forty_wrong_admin_passwords_then_the_right_one_does_not_get_in():
    operator = UserFactory(is_staff=True, is_superuser=True)
    attacker = client_from("203.0.113.66")

    for _ in range(40):
        admin_login(attacker, operator.email, "wrong password")
    response = admin_login(attacker, operator.email, PASSWORD)

    assert not signed_in(attacker)
    assert response.status_code in {200, 429}
    assert attacker.get("/admin/").status_code == 302  # back to the login page


def test_wrong_admin_passwords_lock_the_account_from_any_ip_like_the_site_login():
    operator = UserFactory(is_staff=True)
    # The per-account limit, each attempt from another address: the per-IP limits never trip.
    for n in range(per_account_failures()):
        response = admin_login(client_from(f"203.0.113.{n}"), operator.email, "wrong password")
        assert "too many" not in response.content.decode().lower()

    attacker = client_from("203.0.113.99")
    response = admin_login(attacker, operator.email, PASSWORD)

    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(attacker)


@pytest.mark.parametrize(("fail_on", "then_on"), [(ADMIN_LOGIN, LOGIN), (LOGIN, ADMIN_LOGIN)])
def test_failures_on_either_login_page_count_against_the_other(fail_on, then_on):
    operator = UserFactory(is_staff=True)
    forms = {LOGIN: login, ADMIN_LOGIN: admin_login}
    for n in range(per_account_failures()):
        forms[fail_on](client_from(f"198.51.100.{n}"), operator.email, "wrong password")

    owner = client_from("198.51.100.200")
    response = forms[then_on](owner, operator.email, PASSWORD)

    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(owner)


def test_admin_logins_over_the_per_ip_limit_get_429(settings):
    settings.ACCOUNT_RATE_LIMITS = {**django_settings.ACCOUNT_RATE_LIMITS, "login": "3/m/ip"}
    operators = [UserFactory(is_staff=True) for _ in range(4)]
    client = client_from("198.51.100.70")

    statuses = [admin_login(client, o.email, "wrong password").status_code for o in operators]

    assert statuses == [200, 200, 200, 429]
    assert admin_login(client_from("198.51.100.71"), operators[0].email, PASSWORD).status_code == 302


def test_staff_log_into_the_back_office_after_a_few_mistakes():
    operator = UserFactory(is_staff=True, is_superuser=True)
    client = client_from("192.0.2.50")
    for _ in range(per_account_failures() - 1):
        admin_login(client, operator.email, "a typo")

    response = admin_login(client, operator.email, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert signed_in(client)
    assert client.get("/admin/").status_code == 200
    # A good login uses up none of the account's budget: its last attempt is still there.
    assert admin_login(client_from("192.0.2.51"), operator.email, PASSWORD).status_code == 302


def test_the_right_password_of_a_non_staff_account_does_not_open_the_back_office():
    user = UserFactory()
    client = client_from("192.0.2.60")

    response = admin_login(client, user.email, PASSWORD)

    assert response.status_code == 200
    assert not signed_in(client)
