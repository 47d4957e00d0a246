import re
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import get_hasher
from django.core import mail
from django.test import Client

from accounts.models import ApiKey, User
from accounts.tests.factories import KEYS_MANAGE, PASSWORD, UserFactory, api_key_for

pytestmark = pytest.mark.django_db


def test_landing_page_for_visitors(client):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Create a free account" in html
    assert 'href="/accounts/signup/"' in html


def test_dashboard_for_signed_in_users(client):
    user = UserFactory()
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Dashboard" in html
    assert user.email in html


def test_signup_requires_email_confirmation_then_logs_in(client):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    assert "Product Intelligence" in page.content.decode()  # the platform's own layout

    response = client.post(
        "/accounts/signup/",
        {"email": "New.Seller@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    user = User.objects.get(email__iexact="new.seller@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    # Not signed in until the address is confirmed.
    assert client.get("/").content.decode().count("Create a free account") == 1

    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    confirm = client.post(link.group(1))
    assert confirm.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert "Dashboard" in client.get("/").content.decode()


def test_signup_with_a_taken_email_creates_nothing_and_reveals_nothing(client):
    # allauth's enumeration protection: the visitor sees the usual "check your
    # email" step, while the owner of the address is told someone tried.
    UserFactory(email="taken@example.com")

    response = client.post(
        "/accounts/signup/",
        {"email": "taken@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert User.objects.filter(email="taken@example.com").count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["taken@example.com"]
    assert "already" in mail.outbox[0].body.lower()


def test_signup_costs_the_same_whether_or_not_the_email_is_taken():
    # Hashing the password is most of a signup's time: skipped for a taken address, the
    # answer came ten times faster and told who has an account. Both paths hash the
    # submitted password once with the configured hasher and send one email.
    UserFactory(email="taken@example.com")
    hasher_class = type(get_hasher())
    seen = {}
    for email in ("taken@example.com", "fresh@example.com"):
        sent_before = len(mail.outbox)
        with mock.patch.object(
            hasher_class, "encode", autospec=True, side_effect=hasher_class.encode
        ) as encode:
            response = Client().post(
                "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
            )
        seen[email] = {
            "status": response.status_code,
            "location": response["Location"],
            "hashed": [call.args[1] for call in encode.call_args_list],
            "emails_sent": len(mail.outbox) - sent_before,
        }

    assert seen["taken@example.com"] == seen["fresh@example.com"]
    assert seen["fresh@example.com"] == {
        "status": 302,
        "location": "/accounts/confirm-email/",
        "hashed": [PASSWORD],
        "emails_sent": 1,
    }
    assert User.objects.filter(email="taken@example.com").count() == 1


def test_login_and_logout(client):
    user = UserFactory()

    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert "Dashboard" in client.get("/").content.decode()

    client.post("/accounts/logout/")
    assert "Create a free account" in client.get("/").content.decode()


def test_login_with_wrong_password_fails(client):
    user = UserFactory()

    response = client.post("/accounts/login/", {"login": user.email, "password": "wrong-password"})

    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_password_reset_by_email(client):
    user = UserFactory()

    client.post("/accounts/password/reset/", {"email": user.email})

    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/[^\s]+)", mail.outbox[0].body)
    assert link
    form_page = client.get(link.group(1), follow=True)
    new_password = "a-brand-new-passphrase-42"
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1),
        {"password1": new_password, "password2": new_password},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)


def test_password_change(client):
    user = UserFactory()
    client.force_login(user)
    new_password = "another-strong-passphrase-7"

    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": new_password, "password2": new_password},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)


def test_keys_page_requires_login(client):
    response = client.get("/keys/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_create_key_on_the_page_shows_it_once(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post("/keys/", {"name": "Repricer"})

    assert response.status_code == 200
    html = response.content.decode()
    api_key = ApiKey.objects.get(user=user)
    raw = re.search(r'id="new-key-value">([^<]+)<', html).group(1)
    assert raw.startswith(api_key.prefix)
    assert response["Cache-Control"] == "no-store"
    # It works against the API ...
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    # ... and is never shown again.
    assert raw not in client.get("/keys/").content.decode()


def test_revoke_key_on_the_page(client):
    user = UserFactory()
    api_key, _raw = api_key_for(user)
    client.force_login(user)

    response = client.post(f"/keys/{api_key.pk}/revoke/", follow=True)

    assert "revoked" in response.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_cannot_revoke_another_users_key_on_the_page(client):
    owner, intruder = UserFactory(), UserFactory()
    api_key, _ = api_key_for(owner)
    client.force_login(intruder)

    response = client.post(f"/keys/{api_key.pk}/revoke/", follow=True)

    assert "API key not found" in response.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert api_key.name not in client.get("/keys/").content.decode()


def test_revoke_needs_post(client):
    user = UserFactory()
    api_key, _ = api_key_for(user)
    client.force_login(user)

    assert client.get(f"/keys/{api_key.pk}/revoke/").status_code == 405


def test_the_page_creates_a_key_that_manages_keys_only_when_asked(client):
    user = UserFactory()
    client.force_login(user)

    client.post("/keys/", {"name": "Repricer"})
    response = client.post("/keys/", {"name": "Rotation job", "can_manage_keys": "on"})

    assert {k.name: k.scopes for k in ApiKey.objects.filter(user=user)} == {
        "Repricer": [],
        "Rotation job": [KEYS_MANAGE],
    }
    assert KEYS_MANAGE in response.content.decode()


def test_the_page_refuses_a_key_over_the_limit_and_says_why(client, settings):
    settings.API_KEYS_MAX_ACTIVE = 1
    user = UserFactory()
    api_key_for(user, name="The only one")
    client.force_login(user)

    response = client.post("/keys/", {"name": "One too many"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "at most 1 active API keys" in html
    assert 'id="new-key"' not in html
    assert ApiKey.objects.filter(user=user).count() == 1
