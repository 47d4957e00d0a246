import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey, User
from accounts.tests.factories import KEYS_MANAGE, UserFactory, api_key_for

pytestmark = pytest.mark.django_db


def test_createapikey_prints_the_key_alone_on_the_last_line():
    user = UserFactory()
    out = io.StringIO()

    call_command("createapikey", user.email.upper(), "--name", "Cron", stdout=out, stderr=io.StringIO())

    raw = out.getvalue().strip().splitlines()[-1]
    assert ApiKey.objects.get(user=user).name == "Cron"
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.json()["email"] == user.email


def test_createapikey_for_unknown_user_fails_clearly():
    with pytest.raises(CommandError, match="No user"):
        call_command("createapikey", "nobody@example.com", stdout=io.StringIO())


def test_createapikey_gives_a_scope_only_when_asked():
    user = UserFactory()
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}

    call_command("createapikey", user.email, "--name", "Plain", **quiet)
    call_command("createapikey", user.email, "--name", "Manager", "--scope", KEYS_MANAGE, **quiet)

    assert {k.name: k.scopes for k in ApiKey.objects.filter(user=user)} == {
        "Plain": [],
        "Manager": [KEYS_MANAGE],
    }


def test_createapikey_refuses_a_key_over_the_limit_clearly(settings):
    settings.API_KEYS_MAX_ACTIVE = 1
    user = UserFactory()
    api_key_for(user)

    with pytest.raises(CommandError, match="at most 1 active API keys"):
        call_command("createapikey", user.email, stdout=io.StringIO(), stderr=io.StringIO())


def test_demo_command_prints_a_working_login_and_key(client):
    out = io.StringIO()

    call_command("demo", stdout=out)
    call_command("demo", stdout=out)  # a second start refreshes, it does not fail

    text = out.getvalue()
    user = User.objects.get(email="demo@example.com")
    assert user.emailaddress_set.get().verified
    raw = text.strip().split("API key:")[-1].split()[0]
    assert APIClient().get("/api/v1/keys", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() == 1
    # The README's example lists keys with it.
    assert ApiKey.objects.get(user=user, revoked_at__isnull=True).scopes == [KEYS_MANAGE]
    assert client.login(email="demo@example.com", password="demo-password-123")
