"""Account emails (django-allauth's) in the platform's layout and under its name."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import allauth
import pytest
from allauth.account.adapter import get_adapter
from allauth.core.context import request_context
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client, RequestFactory

from accounts.tests.factories import PASSWORD, UserFactory
from core.tests.emails import assert_platform_email

pytestmark = pytest.mark.django_db

ALLAUTH_EMAILS = Path(allauth.__file__).parent / "templates" / "account" / "email"
OURS = Path(django_settings.BASE_DIR) / "templates" / "account" / "email"
# Every email allauth can send, from its own templates (allauth 65: 13 of them).
ACCOUNT_EMAILS = sorted(
    path.name.removesuffix("_message.txt")
    for path in ALLAUTH_EMAILS.glob("*_message.txt")
    if not path.name.startswith("base_")
)


def test_signup_sends_the_confirmation_as_text_and_html_under_the_platforms_name(settings):
    settings.SITE_URL = "https://platform.example"

    response = Client().post(
        "/accounts/signup/", {"email": "ann@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert message.subject == "[Product Intelligence] Please Confirm Your Email Address"
    link = re.search(r"http://testserver/accounts/confirm-email/\S+/", message.body)
    assert link, message.body
    html = assert_platform_email(message, link=link.group(0))
    for part in (message.body, html):
        assert "Hello from" not in part  # allauth's greeting named the request's host
        assert "ann@example.com" in part
        assert "http://testserver/" in part  # the home link: where the request came, as the others
    assert "Confirm my email address" in html


def test_the_password_reset_email_has_an_html_part_with_the_reset_link():
    user = UserFactory()

    Client().post("/accounts/password/reset/", {"email": user.email})

    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver/accounts/password/reset/key/\S+/", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    html = assert_platform_email(mail.outbox[0], link=link.group(0))
    assert "Choose a new password" in html


def test_every_email_allauth_sends_has_a_text_and_an_html_template_here():
    # Pinned to the installed allauth: an email a new version adds fails here until it has ours.
    assert len(ACCOUNT_EMAILS) >= 13, ACCOUNT_EMAILS
    missing = [
        f"{name}_message.{ext}"
        for name in ACCOUNT_EMAILS
        for ext in ("txt", "html")
        if not (OURS / f"{name}_message.{ext}").exists()
    ]
    assert missing == []


WITH_LINK = {
    "account_already_exists",
    "email_confirmation",
    "email_confirmation_signup",
    "password_reset_key",
    "unknown_account",
}
WITH_CODE = {"login_code", "password_reset_code"}
# Security notices: they say where the change came from.
NOTIFICATIONS = {
    "email_changed",
    "email_confirm",
    "email_deleted",
    "password_changed",
    "password_reset",
    "password_set",
}


@pytest.mark.parametrize("name", ACCOUNT_EMAILS)
def test_each_account_email_renders_both_parts_in_the_layout(name):
    link = "http://testserver/accounts/some-link/"
    context = {
        "user": UserFactory.build(email="ann@example.com"),
        "activate_url": link,
        "password_reset_url": link,
        "signup_url": link,
        "code": "Q7X-42K" if name in WITH_CODE else "",
        "from_email": "old@example.com",
        "to_email": "new@example.com",
        "deleted_email": "old@example.com",
        "ip": "203.0.113.9",
        "user_agent": "Firefox",
        "timestamp": datetime(2026, 12, 7, 11, 30, tzinfo=UTC),
    }

    with request_context(RequestFactory().get("/")):
        get_adapter().send_mail(f"account/email/{name}", "ann@example.com", context)

    message = mail.outbox[-1]
    html = assert_platform_email(message, link=link if name in WITH_LINK else "http://testserver/")
    for part in (message.body, html):
        assert "http://testserver/" in part  # the home link
        assert "Hello from" not in part
        assert "{{" not in part
        if name in WITH_CODE:
            assert "Q7X-42K" in part
        if name in NOTIFICATIONS:
            assert "203.0.113.9" in part  # a security notice says where the change came from
