import csv
import datetime as dt
import io

import pytest
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.tests.factories import UserFactory, api_key_for
from credits import services
from credits.metering import (
    REMAINING_HEADER,
    KeyedCharge,
    Unkeyed,
    insufficient_credits_response,
    metered,
    metered_headers,
)
from credits.models import CreditAccount, LedgerEntry, Operation
from credits.tests.factories import funded_user, new_key

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
BALANCE_URL = "/api/v1/credits/balance"
TRANSACTIONS_URL = "/api/v1/credits/transactions"
USAGE_URL = "/api/v1/credits/usage"
PRICES_URL = "/api/v1/credits/prices"


def client_for(user) -> APIClient:
    _, raw = api_key_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- A metered endpoint, as products will write one ---------------------------------------


class MeteredLookupApi(APIView):
    @extend_schema(responses={200: None, 402: insufficient_credits_response()})
    def get(self, request, asin: str):
        key = request.headers.get("Idempotency-Key")
        balance = metered(
            user=request.user,
            operation=Operation.ASIN_LOOKUP,
            reference=asin,
            claim=KeyedCharge(f"test:{key}") if key else Unkeyed(ledger_prefix="test"),
            serve=lambda charge: charge.balance_after,
        )
        return metered_headers(Response({"asin": asin}), credits_remaining=balance)


urlpatterns = [path("api/v1/metered/<str:asin>", MeteredLookupApi.as_view())]


@pytest.mark.urls(__name__)
def test_a_served_metered_call_carries_the_remaining_credits():
    user = funded_user(3)

    response = client_for(user).get("/api/v1/metered/B000TEST01")

    assert response.status_code == 200
    assert response[REMAINING_HEADER] == "2"
    assert CreditAccount.objects.get(user=user).balance == 2


@pytest.mark.urls(__name__)
def test_an_unpaid_metered_call_is_402_and_charges_nothing():
    user = funded_user(0)
    client = client_for(user)

    response = client.get("/api/v1/metered/B000TEST01")

    error = assert_error(response, 402, "insufficient_credits")
    assert error["detail"] == {"balance": 0, "price": 1, "operation": Operation.ASIN_LOOKUP}
    assert "Insufficient credits" in error["message"]
    assert REMAINING_HEADER not in response
    assert not LedgerEntry.objects.filter(kind=Kind.CHARGE).exists()
    assert CreditAccount.objects.get(user=user).balance == 0


@pytest.mark.urls(__name__)
def test_metered_endpoint_documents_the_402():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(patterns=urlpatterns).get_schema(request=None, public=True)

    response = schema["paths"]["/api/v1/metered/{asin}"]["get"]["responses"]["402"]
    assert response["description"] == "Not enough credits; nothing was charged."
    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


@pytest.mark.urls(__name__)
def test_a_retried_metered_call_is_charged_once():
    user = funded_user(5)
    client = client_for(user)

    first = client.get("/api/v1/metered/B000TEST01", HTTP_IDEMPOTENCY_KEY="req-1")
    again = client.get("/api/v1/metered/B000TEST01", HTTP_IDEMPOTENCY_KEY="req-1")

    assert first[REMAINING_HEADER] == again[REMAINING_HEADER] == "4"
    assert CreditAccount.objects.get(user=user).balance == 4


# --- Balance ------------------------------------------------------------------------------------


def test_balance_of_the_caller():
    user = funded_user(42)
    services.credits_threshold_set(user=user, threshold=50)
    services.credits_hold(user=user, amount=2, reference="job:1", idempotency_key="job-1")
    funded_user(1000)  # someone else

    response = client_for(user).get(BALANCE_URL)

    assert response.status_code == 200
    assert response.json() == {"balance": 40, "held": 2, "low_balance_threshold": 50, "low_balance": True}


def test_balance_opens_a_missing_account(settings):
    settings.SIGNUP_FREE_CREDITS = 7
    user = UserFactory()

    response = client_for(user).get(BALANCE_URL)

    assert response.json()["balance"] == 7


def test_balance_needs_authentication():
    assert_error(APIClient().get(BALANCE_URL), 401, "not_authenticated")


def test_balance_with_a_session():
    user = funded_user(9)
    client = APIClient()
    client.force_login(user)

    assert client.get(BALANCE_URL).json()["balance"] == 9


# --- Transactions ---------------------------------------------------------------------------------


def make_history(user) -> list[LedgerEntry]:
    charges = [
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
        for _ in range(3)
    ]
    refund = services.credits_refund(charge=charges[0], reason="Upstream failed")
    return [*charges, refund]


def test_transactions_are_paginated_newest_first_and_only_the_callers():
    user = funded_user(10)
    make_history(user)
    make_history(funded_user(10))
    client = client_for(user)

    body = client.get(TRANSACTIONS_URL, {"limit": 2}).json()

    assert body["count"] == 5  # the funding grant, 3 charges, 1 refund
    assert len(body["results"]) == 2
    assert body["next"]
    newest = body["results"][0]
    assert newest["kind"] == Kind.REFUND
    assert newest["amount"] == 1
    assert newest["refund_of"] is not None
    assert set(newest) == {
        "id",
        "created_at",
        "kind",
        "amount",
        "balance_after",
        "operation",
        "reference",
        "description",
        "idempotency_key",
        "refund_of",
    }
    rest = client.get(body["next"]).json()
    ids = [e["id"] for e in body["results"]] + [e["id"] for e in rest["results"]]
    assert ids == sorted(ids, reverse=True)
    own = set(LedgerEntry.objects.filter(account__user=user).values_list("id", flat=True))
    assert set(ids) <= own


def test_transactions_filtered_by_kind():
    user = funded_user(10)
    make_history(user)
    client = client_for(user)

    charges = client.get(TRANSACTIONS_URL, {"kind": "charge"}).json()
    several = client.get(f"{TRANSACTIONS_URL}?kind=refund&kind=grant").json()

    assert charges["count"] == 3
    assert {e["kind"] for e in charges["results"]} == {"charge"}
    assert {e["kind"] for e in several["results"]} == {"refund", "grant"}


def test_transactions_filtered_by_date(monkeypatch):
    user = funded_user(10)

    def at(day: dt.date):
        moment = dt.datetime.combine(day, dt.time(23, 30), tzinfo=dt.UTC)
        monkeypatch.setattr(services.timezone, "now", lambda: moment)

    for day in (dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3)):
        at(day)
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=f"day-{day}")
    client = client_for(user)

    body = client.get(
        TRANSACTIONS_URL, {"created_after": "2025-01-02", "created_before": "2025-01-02", "kind": "charge"}
    ).json()
    after = client.get(TRANSACTIONS_URL, {"created_after": "2025-01-02", "kind": "charge"}).json()

    assert [e["idempotency_key"] for e in body["results"]] == ["day-2025-01-02"]
    assert after["count"] == 2


def test_invalid_filter_is_400_in_the_error_shape():
    user = funded_user(1)

    error = assert_error(client_for(user).get(TRANSACTIONS_URL, {"kind": "bogus"}), 400, "invalid")

    assert "kind" in error["detail"]


def parse_csv(response) -> list[dict]:
    content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


def test_transactions_as_csv():
    user = funded_user(10)
    make_history(user)
    make_history(funded_user(10))

    response = client_for(user).get(TRANSACTIONS_URL, {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="credits-')
    rows = parse_csv(response)
    assert len(rows) == 5
    assert [r["kind"] for r in rows] == ["refund", "charge", "charge", "charge", "grant"]
    assert rows[0]["description"] == "Upstream failed"
    assert sum(int(r["amount"]) for r in rows) == CreditAccount.objects.get(user=user).balance


def test_csv_honours_filters_and_accept_header():
    user = funded_user(10)
    make_history(user)

    response = client_for(user).get(TRANSACTIONS_URL, {"kind": "charge"}, HTTP_ACCEPT="text/csv")

    rows = parse_csv(response)
    assert {r["kind"] for r in rows} == {"charge"}
    assert len(rows) == 3


def test_csv_neutralises_spreadsheet_formulas():
    user = funded_user(10)
    services.credits_adjust(user=user, amount=1, reason="=HYPERLINK('http://evil')", actor=None)

    rows = parse_csv(client_for(user).get(TRANSACTIONS_URL, {"format": "csv", "kind": "adjustment"}))

    assert rows[0]["description"] == "'=HYPERLINK('http://evil')"
    assert rows[0]["amount"] == "1"


def test_csv_errors_stay_json():
    user = funded_user(1)

    response = client_for(user).get(TRANSACTIONS_URL, {"format": "csv", "created_after": "not-a-date"})

    assert response["Content-Type"].startswith("application/json")
    assert_error(response, 400, "invalid")


def test_unknown_format_is_404():
    user = funded_user(1)

    assert client_for(user).get(TRANSACTIONS_URL, {"format": "xml"}).status_code == 404


# --- Usage -------------------------------------------------------------------------------------------------


def test_usage_over_the_requested_days():
    user = funded_user(20)
    make_history(user)
    services.credits_charge(user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=new_key())

    body = client_for(user).get(USAGE_URL, {"days": 7}).json()

    assert body["days"] == 7
    assert len(body["daily"]) == 7
    assert body["by_operation"] == {"asin_lookup": 2, "fnsku_conversion": 2}
    assert body["total"] == 4
    assert body["daily"][-1]["date"] == body["end"]
    assert body["daily"][-1]["total"] == 4
    assert body["daily"][0]["total"] == 0


def test_usage_defaults_to_30_days():
    user = funded_user(1)

    body = client_for(user).get(USAGE_URL).json()

    assert body["days"] == 30
    assert len(body["daily"]) == 30
    assert body["total"] == 0


@pytest.mark.parametrize("days", ["0", "367", "many"])
def test_usage_rejects_bad_days(days):
    user = funded_user(1)

    error = assert_error(client_for(user).get(USAGE_URL, {"days": days}), 400, "invalid")

    assert "days" in error["detail"]


# --- Prices ------------------------------------------------------------------------------------------------


def test_prices_list_every_operation():
    user = funded_user(1)
    services.price_set(operation=Operation.FNSKU_CONVERSION, credits=3)

    body = client_for(user).get(PRICES_URL).json()

    prices = {p["operation"]: p["credits"] for p in body}
    assert prices[Operation.ASIN_LOOKUP] == 1
    assert prices[Operation.FNSKU_CONVERSION] == 3
    assert prices[Operation.BULK_ITEM] == 1
    assert all(p["description"] for p in body)


# --- Schema ------------------------------------------------------------------------------------------------


def test_openapi_documents_the_credits_endpoints():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    paths = schema["paths"]
    for url in (BALANCE_URL, TRANSACTIONS_URL, USAGE_URL, PRICES_URL):
        assert url in paths
    params = {p["name"] for p in paths[TRANSACTIONS_URL]["get"]["parameters"]}
    assert {"kind", "created_after", "created_before", "format", "limit", "offset"} <= params
    assert "days" in {p["name"] for p in paths[USAGE_URL]["get"]["parameters"]}
