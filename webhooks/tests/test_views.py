import re

import pytest

from accounts.tests.factories import UserFactory
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import EVENT_ALERT_RAISED, EVENT_BALANCE_LOW, EVENT_BULK_JOB_FINISHED
from webhooks.tests.addresses import TRANSITION_ADDRESSES_TO_PRIVATE

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_client(client):
    user = UserFactory()
    client.force_login(user)
    client.user = user
    return client


def test_nav_links_to_the_page(user_client):
    html = user_client.get("/").content.decode()
    assert 'href="/webhooks/"' in html


def test_add_an_endpoint_shows_its_secret_once(user_client, receiver):
    response = user_client.post(
        "/webhooks/", {"url": receiver.url, "events": [EVENT_BULK_JOB_FINISHED], "description": "ERP"}
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    secret = re.search(r'id="new-secret-value">(whsec_[^<]+)<', html).group(1)
    endpoint = WebhookEndpoint.objects.get(user=user_client.user)
    assert endpoint.events == [EVENT_BULK_JOB_FINISHED]
    assert receiver.url in html
    again = user_client.get("/webhooks/").content.decode()
    assert secret not in again
    assert receiver.url in again


def test_add_refuses_a_private_url_with_the_reason(user_client, settings):
    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    response = user_client.post("/webhooks/", {"url": "http://127.0.0.1:9/x", "events": [EVENT_BALANCE_LOW]})

    assert response.status_code == 200
    assert "The URL must use https." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", TRANSITION_ADDRESSES_TO_PRIVATE)
def test_add_refuses_an_ipv6_address_carrying_a_private_one(user_client, address):
    response = user_client.post(
        "/webhooks/", {"url": f"https://[{address}]/x", "events": [EVENT_BALANCE_LOW]}
    )

    assert response.status_code == 200
    assert "a private or reserved address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_edit_rotate_ping_replay_and_delete(user_client, receiver):
    user = user_client.user
    endpoint, _ = services.webhook_endpoint_create(user=user, url=receiver.url, events=[EVENT_BALANCE_LOW])
    page = f"/webhooks/{endpoint.pk}/"

    assert user_client.get(page).status_code == 200
    form = {"url": receiver.url, "events": [EVENT_ALERT_RAISED], "is_active": "on"}
    response = user_client.post(page, form)
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == [EVENT_ALERT_RAISED]

    rotated = user_client.post(f"{page}rotate", {"expire_old_now": "on"})
    assert rotated.status_code == 200
    assert re.search(r'id="new-secret-value">whsec_', rotated.content.decode())

    assert user_client.post(f"{page}ping").status_code == 302
    delivery = WebhookDelivery.objects.get()
    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    html = user_client.get(page).content.decode()
    assert 'data-status="succeeded"' in html
    detail = user_client.get(f"/webhooks/deliveries/{delivery.pk}/")
    assert str(delivery.event_id) in detail.content.decode()

    assert user_client.post(f"/webhooks/deliveries/{delivery.pk}/replay").status_code == 302
    replay = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert (replay.event_id, replay.replay_of_id) == (delivery.event_id, delivery.pk)

    assert user_client.post(f"{page}delete").status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_another_users_endpoint_and_delivery_pages_are_404(user_client, receiver):
    owner = UserFactory()
    endpoint, _ = services.webhook_endpoint_create(user=owner, url=receiver.url, events=[EVENT_BALANCE_LOW])
    delivery = services.webhook_endpoint_ping(user=owner, endpoint_id=endpoint.pk)

    assert user_client.get(f"/webhooks/{endpoint.pk}/").status_code == 404
    assert user_client.post(f"/webhooks/{endpoint.pk}/rotate").status_code == 404
    assert user_client.post(f"/webhooks/{endpoint.pk}/delete").status_code == 404
    assert user_client.get(f"/webhooks/deliveries/{delivery.pk}/").status_code == 404
    assert user_client.post(f"/webhooks/deliveries/{delivery.pk}/replay").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_page_needs_login(client):
    assert client.get("/webhooks/").status_code == 302


def test_admin_lists_endpoints_without_secrets_and_deliveries(admin_client, receiver):
    user = UserFactory()
    endpoint, secret = services.webhook_endpoint_create(
        user=user, url=receiver.url, events=[EVENT_BALANCE_LOW]
    )
    delivery = services.webhook_endpoint_ping(user=user, endpoint_id=endpoint.pk)

    endpoints = admin_client.get("/admin/webhooks/webhookendpoint/")
    detail = admin_client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    deliveries = admin_client.get("/admin/webhooks/webhookdelivery/")

    assert endpoints.status_code == detail.status_code == deliveries.status_code == 200
    assert receiver.url in endpoints.content.decode()
    assert secret not in detail.content.decode()
    assert endpoint.secret_encrypted not in detail.content.decode()
    assert str(delivery.event_id) in deliveries.content.decode()
