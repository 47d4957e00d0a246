"""The conversion API through the real stack (API-key auth, exception handler, ledger)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.tests.factories import api_key_for
from conversion.models import Conversion, SpApiConnection
from conversion.tests.conftest import lookalike_pair
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversion/fnsku"


def client_for(user) -> APIClient:
    _, raw = api_key_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def charges(user):
    return list(LedgerEntry.objects.filter(account__user=user, kind="charge"))


def test_conversion_answers_with_asin_confidence_candidates_and_evidence():
    user = funded_user(credits=10)
    asin_a, title_a, asin_b, _ = lookalike_pair()

    response = client_for(user).post(
        URL, {"fnsku": "x001api001", "marketplace": "us", "label_text": f"{title_a} New"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response["X-Credits-Remaining"] == "8"
    body = response.json()
    assert body["fnsku"] == "X001API001"
    assert body["marketplace"] == "US"
    assert body["asin"] == asin_a
    assert 0 <= body["confidence"] <= 1
    assert body["status"] in ("resolved", "ambiguous")
    assert {"asin", "title", "score", "sources", "label_similarity", "image"} <= set(body["candidates"][0])
    assert asin_b in [c["asin"] for c in body["candidates"]]
    assert all({"source", "asin", "detail", "weight", "seen_at"} <= set(e) for e in body["evidence"])
    assert body["credits_charged"] == 2
    assert body["credits_remaining"] == 8


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"fnsku": "X001ABCDE"}, "invalid_fnsku"),
        ({"fnsku": "X001ABCDEF1"}, "invalid_fnsku"),
        ({"fnsku": "X001AB-DEF"}, "invalid_fnsku"),
        ({"fnsku": "X001ABCDÜF"}, "invalid_fnsku"),
        ({"fnsku": "   "}, "invalid_fnsku"),
        ({"fnsku": "X001ABCDEF", "marketplace": "XX"}, "invalid_marketplace"),
        ({}, "invalid"),
        ({"fnsku": ["X001ABCDEF"]}, "invalid"),
    ],
)
def test_bad_input_is_400_and_not_charged(payload, code):
    user = funded_user(credits=10)

    response = client_for(user).post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert balance_get(user=user) == 10
    assert charges(user) == []


def test_nothing_found_is_404_refunded():
    user = funded_user(credits=10)

    response = client_for(user).post(URL, {"fnsku": "X00NOTHING"}, format="json")

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "fnsku_not_found"
    assert error["detail"]["credits_remaining"] == 10
    assert response["X-Credits-Remaining"] == "10"
    assert balance_get(user=user) == 10


def test_no_credits_is_402():
    user = funded_user(credits=0)

    response = client_for(user).post(URL, {"fnsku": "B07N4M94X4"}, format="json")

    assert response.status_code == 402
    assert response.json()["error"]["detail"]["price"] == 2
    assert charges(user) == []


def test_idempotency_key_replays():
    user = funded_user(credits=10)
    client = client_for(user)

    first = client.post(URL, {"fnsku": "B07N4M94X4"}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    second = client.post(URL, {"fnsku": "B07N4M94X4"}, format="json", HTTP_IDEMPOTENCY_KEY="abc")

    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert (first.json()["charged"], second.json()["charged"]) == (True, False)
    assert len(charges(user)) == 1


def test_unauthenticated_is_401():
    assert APIClient().post(URL, {"fnsku": "B07N4M94X4"}, format="json").status_code == 401


def test_feedback_and_the_users_list():
    user, other = funded_user(credits=10), funded_user(credits=10)
    client = client_for(user)
    conversion_id = client.post(URL, {"fnsku": "B07N4M94X4"}, format="json").json()["id"]
    client_for(other).post(URL, {"fnsku": "B08N5WRWNW"}, format="json")

    confirmed = client.post(
        f"/api/v1/conversion/{conversion_id}/feedback", {"asin": "B07N4M94X4"}, format="json"
    )
    corrected = client.post(
        f"/api/v1/conversion/{conversion_id}/feedback", {"asin": "B0TESTKEEP"}, format="json"
    )
    listed = client.get("/api/v1/conversion/conversions")
    detail = client.get(f"/api/v1/conversion/{conversion_id}")

    assert confirmed.json() == {"conversion_id": conversion_id, "asin": "B07N4M94X4", "verdict": "confirmed"}
    assert corrected.json()["verdict"] == "corrected"
    assert listed.status_code == 200
    assert [c["fnsku"] for c in listed.json()["results"]] == ["B07N4M94X4"]
    assert detail.json()["asin"] == "B07N4M94X4"


def test_another_users_conversion_is_404_for_feedback_and_detail():
    owner, other = funded_user(credits=10), funded_user(credits=10)
    conversion_id = client_for(owner).post(URL, {"fnsku": "B07N4M94X4"}, format="json").json()["id"]
    client = client_for(other)

    feedback = client.post(
        f"/api/v1/conversion/{conversion_id}/feedback", {"asin": "B07N4M94X4"}, format="json"
    )
    detail = client.get(f"/api/v1/conversion/{conversion_id}")

    assert feedback.status_code == 404
    assert feedback.json()["error"]["code"] == "conversion_not_found"
    assert detail.status_code == 404


def test_bad_feedback_asin_is_400():
    user = funded_user(credits=10)
    client = client_for(user)
    conversion_id = client.post(URL, {"fnsku": "B07N4M94X4"}, format="json").json()["id"]
    response = client.post(f"/api/v1/conversion/{conversion_id}/feedback", {"asin": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_asin"


def test_mapping_import_and_list():
    user = funded_user(credits=10)
    client = client_for(user)
    report = SimpleUploadedFile(
        "report.txt", b"sku\tfnsku\tasin\nSKU-1\tX001IMPORT\tB0TESTKEEP\nSKU-2\tBAD\tB0TESTKEEP\n"
    )

    response = client.post("/api/v1/conversion/mappings/import", {"file": report}, format="multipart")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["skipped"], body["errors"][0]["line"]) == (1, 1, 3)
    mappings = client.get("/api/v1/conversion/mappings").json()["results"]
    assert [(m["fnsku"], m["asin"], m["source"]) for m in mappings] == [
        ("X001IMPORT", "B0TESTKEEP", "inventory_report")
    ]
    assert client.post(URL, {"fnsku": "X001IMPORT"}, format="json").json()["asin"] == "B0TESTKEEP"


def test_spapi_connection_never_shows_the_token(settings):
    settings.SPAPI_CLIENT_ID = "amzn1.application-oa2-client.platform"
    settings.SPAPI_CLIENT_SECRET = "platform-secret"
    user = funded_user(credits=1)
    client = client_for(user)
    token = "Atzr|a-very-secret-refresh-token-1234"

    put = client.put(
        "/api/v1/conversion/spapi-connection",
        {"selling_partner_id": "A2SELLER0TEST", "refresh_token": token},
        format="json",
    )
    got = client.get("/api/v1/conversion/spapi-connection")

    assert put.status_code == 200, put.content
    assert token not in put.content.decode()
    assert token not in got.content.decode()
    assert got.json()["token_hint"] == "1234"
    assert token not in SpApiConnection.objects.get().refresh_token_encrypted
    assert client.delete("/api/v1/conversion/spapi-connection").status_code == 204
    assert client.get("/api/v1/conversion/spapi-connection").status_code == 404


def test_conversions_are_logged_with_channel(real_catalogue):
    # A real product (amazon-us-products-2023.csv), listed by a provider that is not the sandbox.
    real_catalogue["B07XSCCZYG"] = (
        "Platinum Elite Softside Expandable Checked Luggage, 8 Wheel Spinner Suitcase"
    )
    user = funded_user(credits=10)
    client_for(user).post(URL, {"fnsku": "B07XSCCZYG"}, format="json")
    conversion = Conversion.objects.get()
    assert (conversion.channel, conversion.credits_charged, conversion.status) == ("api", 2, "resolved")
    assert conversion.latency_ms > 0


def test_schema_documents_the_endpoints():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    schema = response.content.decode()
    assert "/api/v1/conversion/fnsku" in schema
    assert "/api/v1/conversion/{conversion_id}/feedback" in schema


def test_schema_documents_sample_data_and_rescans():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    output = schema["components"]["schemas"]["ConversionOutput"]
    for field in ("provider", "sample_data", "charged", "replayed_from"):
        assert field in output["properties"], field
        assert field in output["required"], field
    assert output["properties"]["sample_data"]["type"] == "boolean"
    assert output["properties"]["replayed_from"]["nullable"] is True


def test_the_body_marks_sample_data_and_its_provider():
    user = funded_user(credits=10)

    body = client_for(user).post(URL, {"fnsku": "B07N4M94X4"}, format="json").json()

    assert (body["provider"], body["sample_data"]) == ("sandbox", True)
    assert (body["charged"], body["replayed_from"]) == (True, None)


def test_a_rescan_is_answered_without_a_second_charge():
    user = funded_user(credits=10)
    client = client_for(user)
    _, title_a, _, _ = lookalike_pair()

    first = client.post(URL, {"fnsku": "X001APIRSC", "label_text": title_a}, format="json")
    second = client.post(URL, {"fnsku": "X001APIRSC", "label_text": title_a}, format="json")

    assert first.status_code == second.status_code == 200
    assert second.json()["replayed_from"] == first.json()["id"] == second.json()["id"]
    assert second.json()["charged"] is False
    assert second["X-Credits-Remaining"] == "8"
    assert len(charges(user)) == 1
    assert balance_get(user=user) == 8
