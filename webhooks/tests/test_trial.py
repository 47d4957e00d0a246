"""The built-in trial receiver: a real delivery from the platform to itself, shown with its
signature checked; only where http://localhost endpoints are allowed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from webhooks import services, trial
from webhooks.models import WebhookDelivery


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_delivery_to_the_trial_receiver_is_shown_with_its_signature_checked(live_server, queued):
    user = UserFactory()
    client = signed_in(user)
    page = client.get(reverse("webhook-trial")).content.decode()
    path = reverse("webhook-trial-receive", args=[trial.trial_token(user.pk)])
    assert path in page
    assert "Nothing received yet." in page
    # The platform's own address, as make run's http://127.0.0.1:8000 would be.
    endpoint, _secret = services.webhook_endpoint_create(
        user=user, url=live_server.url + path, events=[services.EVENT_BULK_JOB_FINISHED]
    )

    delivery = services.webhook_endpoint_ping(user=user, endpoint_id=endpoint.pk)
    done = services.webhook_delivery_attempt(delivery_id=delivery.pk)

    assert done is not None
    assert (done.status, done.last_status_code) == (WebhookDelivery.Status.SUCCEEDED, 200)
    page = client.get(reverse("webhook-trial")).content.decode()
    assert f"X-Webhook-Delivery: {delivery.pk}" in page
    assert '<span class="badge ok">valid</span>' in page
    assert str(delivery.event_id) in page
    # Someone else's list stays empty.
    assert "Nothing received yet." in signed_in(UserFactory()).get(reverse("webhook-trial")).content.decode()


@pytest.mark.django_db
def test_a_forged_or_unsigned_post_is_kept_as_not_valid_and_a_bad_token_is_404():
    user = UserFactory()
    url = reverse("webhook-trial-receive", args=[trial.trial_token(user.pk)])
    response = Client().post(
        url, b'{"x":1}', content_type="application/json", HTTP_X_WEBHOOK_SIGNATURE="t=1,v1=00"
    )
    assert response.status_code == 200
    [kept] = trial.trial_received(user_id=user.pk)
    assert kept["signature"] == "not sent by one of your endpoints"

    assert Client().post(url + "x", b"{}", content_type="application/json").status_code == 404
    bad = reverse("webhook-trial-receive", args=[f"{user.pk}:forged"])
    assert Client().post(bad, b"{}", content_type="application/json").status_code == 404


@pytest.mark.django_db
def test_only_where_http_localhost_is_allowed(settings):
    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    settings.DEBUG = False
    user = UserFactory()
    client = signed_in(user)

    assert client.get(reverse("webhook-trial")).status_code == 404
    url = reverse("webhook-trial-receive", args=[trial.trial_token(user.pk)])
    assert Client().post(url, b"{}", content_type="application/json").status_code == 404
    assert 'id="http-localhost-allowed"' not in client.get(reverse("webhooks")).content.decode()


@pytest.mark.django_db
def test_the_webhooks_page_says_http_localhost_is_allowed_and_how_deliveries_are_signed():
    html = signed_in(UserFactory()).get(reverse("webhooks")).content.decode()

    assert 'id="http-localhost-allowed"' in html
    assert "<code>http://127.0.0.1</code>" in html
    assert f'href="{reverse("webhook-trial")}"' in html
    assert "HMAC-SHA256" in html
