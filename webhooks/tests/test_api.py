import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory, api_key_for
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import EVENT_ALERT_RAISED, EVENT_BALANCE_LOW, EVENT_BULK_JOB_FINISHED
from webhooks.tests.addresses import TRANSITION_ADDRESSES_TO_PRIVATE
from webhooks.tests.receiver import verify

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user)[1]}")
    return client


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def test_create_shows_the_secret_once_and_lists_without_it(receiver):
    user = UserFactory()
    client = client_for(user)

    response = client.post(
        URL, {"url": receiver.url, "events": [EVENT_BULK_JOB_FINISHED, EVENT_BALANCE_LOW]}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == [EVENT_BULK_JOB_FINISHED, EVENT_BALANCE_LOW]
    assert body["is_active"] is True
    listing = client.get(URL).json()
    assert [e["id"] for e in listing] == [body["id"]]
    assert "secret" not in listing[0]
    assert "secret" not in client.get(f"{URL}/{body['id']}").json()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"url": "https://hooks.example.com", "events": ["nope"]}, "invalid"),
        ({"url": "https://hooks.example.com", "events": []}, "invalid"),
        ({"events": [EVENT_BALANCE_LOW]}, "invalid"),
        ({"url": "https://10.0.0.1/hooks", "events": [EVENT_BALANCE_LOW]}, "webhook_url_refused"),
        ({"url": "http://hooks.example.com/hooks", "events": [EVENT_BALANCE_LOW]}, "webhook_url_refused"),
    ],
)
def test_create_refuses_bad_input_with_a_clear_400(payload, code):
    response = client_for(UserFactory()).post(URL, payload, format="json")

    assert_error(response, 400, code)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", TRANSITION_ADDRESSES_TO_PRIVATE)
def test_create_refuses_an_ipv6_address_carrying_a_private_one(address):
    response = client_for(UserFactory()).post(
        URL, {"url": f"https://[{address}]:8443/hooks", "events": [EVENT_BALANCE_LOW]}, format="json"
    )

    assert_error(response, 400, "webhook_url_refused")
    assert "private or reserved address" in response.json()["error"]["message"]
    assert not WebhookEndpoint.objects.exists()


def test_endpoint_limit(settings, receiver):
    settings.WEBHOOKS_MAX_ENDPOINTS = 1
    client = client_for(UserFactory())
    payload = {"url": receiver.url, "events": [EVENT_BALANCE_LOW]}
    assert client.post(URL, payload, format="json").status_code == 201

    response = client.post(URL, payload, format="json")

    assert_error(response, 400, "webhook_endpoint_limit")


def test_update_rotate_ping_and_delete(receiver):
    user = UserFactory()
    client = client_for(user)
    endpoint, old = services.webhook_endpoint_create(user=user, url=receiver.url, events=[EVENT_BALANCE_LOW])

    response = client.patch(
        f"{URL}/{endpoint.pk}",
        {"events": [EVENT_ALERT_RAISED], "description": "ops", "is_active": False},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["events"], response.json()["description"]) == ([EVENT_ALERT_RAISED], "ops")
    assert response.json()["is_active"] is False
    assert_error(
        client.patch(f"{URL}/{endpoint.pk}", {"url": "https://192.168.1.1/x"}, format="json"),
        400,
        "webhook_url_refused",
    )

    rotated = client.post(f"{URL}/{endpoint.pk}/rotate", {}, format="json")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old
    assert new.startswith("whsec_")
    assert rotated.json()["previous_secret_expires_at"] is not None
    leaked = client.post(f"{URL}/{endpoint.pk}/rotate", {"expire_old_now": True}, format="json")
    assert leaked.json()["previous_secret_expires_at"] is None

    ping = client.post(f"{URL}/{endpoint.pk}/ping", format="json")
    assert ping.status_code == 202
    assert ping.json()["event"] == "ping"
    assert ping.json()["status"] == "pending"
    services.webhook_delivery_attempt(delivery_id=ping.json()["id"])
    [request] = receiver.received
    header = request.headers["X-Webhook-Signature"]
    assert verify(secret=leaked.json()["secret"], body=request.body, header=header)

    assert client.delete(f"{URL}/{endpoint.pk}").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_deliveries_list_detail_and_replay(receiver):
    user = UserFactory()
    client = client_for(user)
    endpoint, _ = services.webhook_endpoint_create(user=user, url=receiver.url, events=[EVENT_BALANCE_LOW])
    services.webhook_event_emit(user_id=user.pk, event=EVENT_BALANCE_LOW, data={"balance": 3})
    delivery = WebhookDelivery.objects.get()
    services.webhook_delivery_attempt(delivery_id=delivery.pk)

    listing = client.get(f"{URL}/deliveries").json()
    assert listing["count"] == 1
    row = listing["results"][0]
    assert (row["id"], row["status"], row["attempts"], row["last_status_code"]) == (
        delivery.pk,
        "succeeded",
        1,
        200,
    )
    assert client.get(f"{URL}/deliveries", {"status": "failed"}).json()["count"] == 0
    assert client.get(f"{URL}/deliveries", {"endpoint": endpoint.pk}).json()["count"] == 1
    assert_error(client.get(f"{URL}/deliveries", {"status": "lost"}), 400, "invalid")
    detail = client.get(f"{URL}/deliveries/{delivery.pk}").json()
    assert detail["payload"]["data"] == {"balance": 3}

    replay = client.post(f"{URL}/deliveries/{delivery.pk}/replay", format="json")

    assert replay.status_code == 202, replay.content
    assert replay.json()["event_id"] == str(delivery.event_id)
    assert replay.json()["replay_of_id"] == delivery.pk
    assert WebhookDelivery.objects.count() == 2


def test_replay_to_a_paused_endpoint_is_a_conflict(receiver):
    user = UserFactory()
    endpoint, _ = services.webhook_endpoint_create(user=user, url=receiver.url, events=[EVENT_BALANCE_LOW])
    delivery = services.webhook_endpoint_ping(user=user, endpoint_id=endpoint.pk)
    services.webhook_endpoint_update(user=user, endpoint_id=endpoint.pk, is_active=False)

    response = client_for(user).post(f"{URL}/deliveries/{delivery.pk}/replay", format="json")

    assert_error(response, 409, "webhook_endpoint_paused")


def test_another_users_endpoints_and_deliveries_are_not_found(receiver):
    owner = UserFactory()
    endpoint, _ = services.webhook_endpoint_create(user=owner, url=receiver.url, events=[EVENT_BALANCE_LOW])
    delivery = services.webhook_endpoint_ping(user=owner, endpoint_id=endpoint.pk)
    other = client_for(UserFactory())

    assert other.get(URL).json() == []
    assert other.get(f"{URL}/deliveries").json()["count"] == 0
    for response in (
        other.get(f"{URL}/{endpoint.pk}"),
        other.patch(f"{URL}/{endpoint.pk}", {"description": "mine"}, format="json"),
        other.delete(f"{URL}/{endpoint.pk}"),
        other.post(f"{URL}/{endpoint.pk}/rotate", {}, format="json"),
        other.post(f"{URL}/{endpoint.pk}/ping", format="json"),
        other.get(f"{URL}/deliveries/{delivery.pk}"),
        other.post(f"{URL}/deliveries/{delivery.pk}/replay", format="json"),
    ):
        assert_error(response, 404, "not_found")
    endpoint.refresh_from_db()
    assert endpoint.description == ""
    assert WebhookDelivery.objects.count() == 1


def test_requires_authentication():
    assert APIClient().get(URL).status_code in (401, 403)


@pytest.mark.parametrize("endpoint", ["2652988330668123488256", "0", "-12"])
def test_a_deliveries_filter_out_of_range_is_a_400_not_a_server_error(endpoint):
    response = client_for(UserFactory()).get("/api/v1/webhooks/deliveries", {"endpoint": endpoint})

    assert_error(response, 400, "invalid")
    assert "endpoint" in response.json()["error"]["detail"]
