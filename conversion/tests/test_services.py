"""fnsku_convert and friends through the real stack: ledger, mapping store, sandbox provider, SP-API stub."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from conversion import convert, sources
from conversion.feedback import conversion_feedback
from conversion.models import Conversion, ConversionFeedback, FbaSync, FnskuMapping, SpApiConnection
from conversion.resolvers import SAMPLE_STICKERLESS_CONFIDENCE
from conversion.tests.conftest import lookalike_pair
from conversion.tests.factories import FnskuMappingFactory
from conversion.tests.spapi_stub import SpApiStub, summary
from core.api_errors import error_headers, http_status
from core.errors import ConflictError, DomainError, NotFoundError
from credits.errors import InsufficientCredits
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.providers import UpstreamUnavailable
from products.providers.sandbox import OUTAGE_ASIN, sample_title

pytestmark = pytest.mark.django_db

PRICE = 2


def entries(user, kind):
    return list(LedgerEntry.objects.filter(account__user=user, kind=kind))


def shared_confirmation(fnsku, asin, *, users=3, rejected=0, days_ago=5):
    seen = timezone.now() - timedelta(days=days_ago)
    return FnskuMappingFactory(
        fnsku=fnsku,
        marketplace="US",
        asin=asin,
        first_seen=seen,
        last_seen=seen,
        times_seen=users + rejected,
        times_confirmed=users,
        times_rejected=rejected,
    )


# --- Input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fnsku", "marketplace", "code"),
    [
        ("", "US", "invalid_fnsku"),
        ("X001ABCDE", "US", "invalid_fnsku"),
        ("X001ABCDEFG", "US", "invalid_fnsku"),
        ("X001-BCDEF", "US", "invalid_fnsku"),
        ("X001ABCDÉF", "US", "invalid_fnsku"),
        (None, "US", "invalid_fnsku"),
        ("X001ABCDEF", "XX", "invalid_marketplace"),
    ],
)
def test_every_bad_input_is_refused_uncharged(fnsku, marketplace, code):
    user = funded_user(credits=10)

    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=user, fnsku=fnsku, marketplace=marketplace)

    assert http_status(caught.value) == 400
    assert caught.value.code == code
    assert balance_get(user=user) == 10
    assert entries(user, "charge") == []
    assert not Conversion.objects.exists()


# --- Exact sources ------------------------------------------------------------------------------------


# A real product (amazon-us-products-2023.csv): its ASIN and title.
LISTED_ASIN = "B07XSCCZYG"
LISTED_TITLE = (
    "Platinum Elite Softside Expandable Checked Luggage, 8 Wheel Spinner Suitcase, TSA Lock, Men and Women"
)


def test_stickerless_code_is_its_own_asin_with_confidence_one_and_charged(real_catalogue):
    real_catalogue[LISTED_ASIN] = LISTED_TITLE
    user = funded_user(credits=10)

    result = convert.fnsku_convert(user=user, fnsku=f" {LISTED_ASIN.lower()} ")

    body = result.body()
    assert body["fnsku"] == LISTED_ASIN
    assert body["asin"] == LISTED_ASIN
    assert body["confidence"] == 1.0
    assert body["status"] == "resolved"
    assert body["title"] == LISTED_TITLE  # from the product store, not charged again
    assert [e["source"] for e in body["evidence"]] == ["stickerless"]
    assert body["candidates"][0]["sources"] == ["stickerless"]
    assert body["credits_charged"] == PRICE
    assert result.credits_remaining == 10 - PRICE == balance_get(user=user)
    assert len(entries(user, "charge")) == 1
    assert entries(user, "charge")[0].operation == "fnsku_conversion"
    conversion = Conversion.objects.get()
    assert conversion.status == "resolved"
    # The charge's key is the row's (stored data: a retry after a deploy finds it).
    assert entries(user, "charge")[0].idempotency_key == f"fnsku-conversion:{conversion.pk}"
    assert conversion.charge_entry_id == entries(user, "charge")[0].pk


def test_a_stickerless_code_only_the_sandbox_lists_is_a_sample_at_the_stated_confidence():
    user = funded_user(credits=10)

    result = convert.fnsku_convert(user=user, fnsku=" b07n4m94x4 ")

    body = result.body()
    assert (body["asin"], body["status"]) == ("B07N4M94X4", "ambiguous")
    assert body["confidence"] == SAMPLE_STICKERLESS_CONFIDENCE < 0.9
    assert body["candidates"][0]["score"] == SAMPLE_STICKERLESS_CONFIDENCE
    assert (body["provider"], body["sample_data"]) == ("sandbox", True)
    assert body["title"] == sample_title("B07N4M94X4")  # from the product store, not charged again
    assert "was not checked (50% sure)" in body["evidence"][0]["detail"]
    assert body["credits_charged"] == PRICE
    assert Conversion.objects.get().status == "ambiguous"


def test_store_hit_answers_from_shared_confirmations():
    user = funded_user(credits=10)
    asin = "B0TESTKEEP"
    shared_confirmation("X001STORE1", asin, users=3)

    body = convert.fnsku_convert(user=user, fnsku="X001STORE1").body()

    assert body["asin"] == asin
    assert body["status"] == "resolved"
    assert body["confidence"] >= 0.9
    community = next(e for e in body["evidence"] if e["source"] == "community")
    assert community["asin"] == asin
    assert community["detail"].startswith(f"3 other resellers confirmed this FNSKU is {asin}")
    # Users' confirmations name a real ASIN: the sandbox's made-up title is never attached to it.
    assert body["title"] is None
    assert (body["sample_data"], body["provider"]) == (False, None)
    assert balance_get(user=user) == 10 - PRICE


def test_another_users_own_mappings_are_not_used():
    owner = funded_user(credits=10)
    other = funded_user(credits=10)
    sources.inventory_report_import(
        user=owner, file=io.BytesIO(b"sku,fnsku,asin\nSKU-1,X001PRIVAT,B0TESTKEEP\n")
    )

    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=other, fnsku="X001PRIVAT")

    assert caught.value.code == "fnsku_not_found"
    assert convert.fnsku_convert(user=owner, fnsku="X001PRIVAT").body()["asin"] == "B0TESTKEEP"


def test_inventory_report_import_then_conversion():
    user = funded_user(credits=10)
    report = (
        b"sku\tfnsku\tasin\tproduct-name\tcondition\n"
        b"SKU-1\tX001REPORT\tB0TESTKEEP\tNorthwind Bottle\tNew\n"
        b"SKU-2\tx001other1\tb07n4m94x4\tA TV\tNew\n"
        b"SKU-3\tX001-BAD\tB07N4M94X4\tBad\tNew\n"
        b"SKU-4\tX001REPORT\tB0TESTKEEP\tNorthwind Bottle\tNew\n"
        b"\n"
    )

    result = sources.inventory_report_import(user=user, file=io.BytesIO(report))

    assert (result.rows, result.created, result.updated, result.skipped, result.duplicates) == (4, 2, 0, 1, 1)
    assert result.errors[0]["line"] == 4
    assert "exactly 10 characters" in result.errors[0]["message"]
    row = FnskuMapping.objects.get(user=user, fnsku="X001OTHER1")
    assert (row.asin, row.source, row.seller_sku) == ("B07N4M94X4", "inventory_report", "SKU-2")

    body = convert.fnsku_convert(user=user, fnsku="X001REPORT").body()
    assert body["asin"] == "B0TESTKEEP"
    assert body["status"] == "resolved"
    # The later line about the same FNSKU won.
    assert any(e["source"] == "inventory_report" and "SKU-4" in e["detail"] for e in body["evidence"])

    # A newer report moves the FNSKU to another ASIN: the user's row follows it.
    again = sources.inventory_report_import(
        user=user, file=io.BytesIO(b"seller-sku,fnsku,asin\nSKU-1,X001REPORT,B08N5WRWNW\n")
    )
    assert (again.created, again.updated) == (0, 1)
    assert FnskuMapping.objects.get(user=user, fnsku="X001REPORT").asin == "B08N5WRWNW"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "invalid_file"),
        (b"sku,asin\nA,B0TESTKEEP\n", "invalid_file"),
    ],
)
def test_unusable_report_is_refused_and_nothing_written(content, code):
    user = funded_user(credits=1)
    with pytest.raises(DomainError) as caught:
        sources.inventory_report_import(user=user, file=io.BytesIO(content))
    assert caught.value.code == code
    assert not FnskuMapping.objects.exists()


def test_report_limits(settings):
    user = funded_user(credits=1)
    settings.CONVERSION_IMPORT_MAX_ROWS = 2
    with pytest.raises(DomainError) as caught:
        sources.inventory_report_import(
            user=user,
            file=io.BytesIO(
                b"fnsku,asin\nX001AAAAAA,B0TESTKEEP\nX001BBBBBB,B0TESTKEEP\nX001CCCCCC,B0TESTKEEP\n"
            ),
        )
    assert caught.value.code == "file_too_long"
    settings.CONVERSION_IMPORT_MAX_BYTES = 10
    with pytest.raises(DomainError) as caught:
        sources.inventory_report_import(user=user, file=io.BytesIO(b"fnsku,asin\nX001AAAAAA,B0TESTKEEP\n"))
    assert http_status(caught.value) == 413
    assert not FnskuMapping.objects.exists()


# --- The seller's FBA inventory (SP-API, through a local stub in its format) ---------------------------

REFRESH_TOKEN = "Atzr|seller-refresh-token-0123456789"
SELLER = "A2SELLER0TEST"


@pytest.fixture
def spapi_stub(settings):
    pages = [
        [
            summary("X001AAAAAA", "B0TESTKEEP", "SKU-A", "Northwind Bottle"),
            summary("X001BBBBBB", "B08N5WRWNW", "SKU-B"),
        ],
        [
            summary("X001FBAHIT", "B07N4M94X4", "SKU-TV", "Samsung TV"),
            {"sellerSku": "NO-FNSKU", "asin": "B000000001"},
        ],
    ]
    with SpApiStub(refresh_token=REFRESH_TOKEN, pages=pages, marketplace_id="ATVPDKIKX0DER") as stub:
        settings.SPAPI_CLIENT_ID = "amzn1.application-oa2-client.platform"
        settings.SPAPI_CLIENT_SECRET = "platform-secret"
        settings.SPAPI_REFRESH_TOKEN = ""
        settings.LWA_TOKEN_URL = stub.url + "/auth/o2/token"
        settings.SPAPI_ENDPOINT = stub.url
        yield stub


def test_fba_inventory_answers_through_sp_api(spapi_stub):
    user = funded_user(credits=10)
    connection = sources.spapi_connection_set(
        user=user, selling_partner_id=SELLER.lower(), refresh_token=REFRESH_TOKEN
    )
    assert REFRESH_TOKEN not in connection.refresh_token_encrypted
    assert connection.token_hint == "6789"

    body = convert.fnsku_convert(user=user, fnsku="X001FBAHIT").body()

    assert body["asin"] == "B07N4M94X4"
    assert body["status"] == "resolved"
    assert body["confidence"] >= 0.9
    fba = next(e for e in body["evidence"] if e["source"] == "fba_inventory" and e["asin"])
    assert "SKU-TV" in fba["detail"]
    # Login with Amazon: the seller's refresh token with the platform app's credentials.
    (token_call,) = spapi_stub.calls("POST", "/auth/o2/token")
    assert token_call.form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": "amzn1.application-oa2-client.platform",
        "client_secret": "platform-secret",
    }
    first, second = spapi_stub.calls("GET", "/fba/inventory/v1/summaries")
    assert first.query == {
        "granularityType": "Marketplace",
        "granularityId": "ATVPDKIKX0DER",
        "marketplaceIds": "ATVPDKIKX0DER",
    }
    assert second.query["nextToken"] == "page-2"
    assert first.headers["x-amz-access-token"] == "Atza|stub-access-token"
    # Every summary with an FNSKU and an ASIN is kept as the user's own mapping.
    own = dict(FnskuMapping.objects.filter(user=user, source="fba_inventory").values_list("fnsku", "asin"))
    assert own == {"X001AAAAAA": "B0TESTKEEP", "X001BBBBBB": "B08N5WRWNW", "X001FBAHIT": "B07N4M94X4"}
    sync = FbaSync.objects.get()
    assert sync.synced_at is not None
    assert sync.items_seen == 3

    # The next conversion within the sync interval reads the store, not Amazon.
    assert convert.fnsku_convert(user=user, fnsku="X001AAAAAA").body()["asin"] == "B0TESTKEEP"
    with pytest.raises(DomainError):
        convert.fnsku_convert(user=user, fnsku="X001NOTMIN")
    assert len(spapi_stub.calls("GET", "/fba/inventory/v1/summaries")) == 2


def test_incremental_sync_asks_only_for_changes(spapi_stub):
    user = funded_user(credits=10)
    sources.spapi_connection_set(user=user, selling_partner_id=SELLER, refresh_token=REFRESH_TOKEN)
    sources.fba_inventory_sync(user=user, marketplace="US")

    result = sources.fba_inventory_sync(user=user, marketplace="US")

    assert result.complete
    later = spapi_stub.calls("GET", "/fba/inventory/v1/summaries")[2]
    assert later.query["startDateTime"].endswith("Z")
    assert result.updated == 3
    assert result.created == 0


def test_revoked_authorisation_is_reported_not_charged_twice(spapi_stub):
    user = funded_user(credits=10)
    sources.spapi_connection_set(
        user=user, selling_partner_id=SELLER, refresh_token="Atzr|revoked-token-000000000"
    )

    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=user, fnsku="X001FBAHIT")

    assert caught.value.code == "fnsku_not_found"
    assert balance_get(user=user) == 10
    assert "could not be read" in " ".join(e["detail"] for e in caught.value.extra["evidence"])
    assert "Login with Amazon refused" in SpApiConnection.objects.get().last_error


def test_connecting_needs_the_platform_app_and_a_real_token(settings, spapi_stub):
    user = funded_user(credits=1)
    with pytest.raises(DomainError) as caught:
        sources.spapi_connection_set(user=user, selling_partner_id=SELLER, refresh_token="not-a-token")
    assert caught.value.code == "invalid_refresh_token"
    settings.SPAPI_CLIENT_SECRET = ""
    with pytest.raises(DomainError) as caught:
        sources.spapi_connection_set(user=user, selling_partner_id=SELLER, refresh_token=REFRESH_TOKEN)
    assert caught.value.code == "spapi_not_configured"
    assert not SpApiConnection.objects.exists()


# --- Fallback: catalogue search by label text -----------------------------------------------------------


def test_label_text_picks_the_right_one_of_look_alike_products():
    user = funded_user(credits=10)
    asin_a, title_a, asin_b, _title_b = lookalike_pair()

    body = convert.fnsku_convert(user=user, fnsku="X001LABEL1", label_text=f"{title_a.upper()} New").body()

    assert body["asin"] == asin_a
    scores = {c["asin"]: c["score"] for c in body["candidates"]}
    assert asin_b in scores
    assert scores[asin_b] < scores[asin_a]
    assert body["candidates"][0]["label_similarity"] == 1.0
    assert any(e["source"] == "catalog_search" for e in body["evidence"])


def test_label_text_breaks_a_tie_between_conflicting_confirmations(real_catalogue):
    # A real provider's titles: the sandbox's made-up ones are never attached to confirmed ASINs.
    user = funded_user(credits=10)
    asin_a, title_a = "B0TIEBLUE1", "Trailhead Hiking Backpack 30L, Blue"
    asin_b, title_b = "B0TIEGREN2", "Trailhead Hiking Backpack 30L, Green"
    real_catalogue.update({asin_a: title_a, asin_b: title_b})
    shared_confirmation("X001TIE001", asin_a, users=1)
    shared_confirmation("X001TIE001", asin_b, users=1)

    to_b = convert.fnsku_convert(
        user=user, fnsku="X001TIE001", label_text=f"{title_b} Used - Like New"
    ).body()
    to_a = convert.fnsku_convert(user=user, fnsku="X001TIE001", label_text=title_a).body()

    assert to_b["asin"] == asin_b
    assert to_a["asin"] == asin_a


def test_a_confident_search_answer_is_learnt_for_next_time(settings, real_catalogue):
    settings.CONVERSION_LEARN_CONFIDENCE = 0.0  # whatever the model says, learn it
    user = funded_user(credits=10)
    asin_a, title_a = "B0REALONE1", "Trailhead Hiking Backpack 30L, Blue"
    real_catalogue.update({asin_a: title_a, "B0REALTWO2": "Kitchen Scale Digital, Silver"})

    convert.fnsku_convert(user=user, fnsku="X001LEARN1", label_text=title_a)
    # Another label text: not a rescan, so it is resolved (and could be learnt) again.
    convert.fnsku_convert(user=user, fnsku="X001LEARN1", label_text=f"{title_a} New")

    learnt = FnskuMapping.objects.get(fnsku="X001LEARN1")
    assert (learnt.user, learnt.source, learnt.asin) == (None, "provider", asin_a)
    # The second answer had a learnt mapping among its sources, so it was not "search only".
    assert learnt.times_seen == 1


# --- Nothing found, sources down, no credits ----------------------------------------------------------------


def test_nothing_found_is_404_and_refunded():
    user = funded_user(credits=10)

    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=user, fnsku="X00NOTHING")

    error = caught.value
    assert (http_status(error), error.code) == (404, "fnsku_not_found")
    assert "label_text" in error.message
    assert error.extra["credits_remaining"] == 10
    assert error_headers(error)["X-Credits-Remaining"] == "10"
    assert balance_get(user=user) == 10
    (charge,) = entries(user, "charge")
    (refund,) = entries(user, "refund")
    assert refund.refund_of_id == charge.pk
    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.credits_charged, conversion.asin) == ("not_found", 0, "")
    assert error.extra["conversion_id"] == conversion.pk
    assert list(error.extra)[-2:] == ["credits_remaining", "conversion_id"]
    assert refund.description == "fnsku_not_found"


def test_a_failure_of_our_own_is_refunded_and_gives_the_key_up(monkeypatch):
    user = funded_user(credits=10)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(convert, "conversion_resolve", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        convert.fnsku_convert(user=user, fnsku="B07N4M94X4", idempotency_key="k-bug")

    assert balance_get(user=user) == 10
    (refund,) = entries(user, "refund")
    assert refund.description == "conversion failed"
    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.error_code, conversion.idempotency_key) == (
        "unavailable",
        "server_error",
        None,
    )


def test_catalogue_search_down_is_503_and_refunded():
    user = funded_user(credits=10)

    with pytest.raises(UpstreamUnavailable) as caught:
        convert.fnsku_convert(user=user, fnsku="X001DOWN01", label_text=f"Water Bottle {OUTAGE_ASIN}")

    assert http_status(caught.value) == 503
    assert error_headers(caught.value)["Retry-After"] == "30"
    assert balance_get(user=user) == 10
    assert Conversion.objects.get().status == "unavailable"


def test_no_credits_is_402_and_nothing_charged():
    user = funded_user(credits=1)

    with pytest.raises(InsufficientCredits) as caught:
        convert.fnsku_convert(user=user, fnsku="B07N4M94X4")

    assert http_status(caught.value) == 402
    assert caught.value.extra == {"balance": 1, "price": PRICE, "operation": "fnsku_conversion"}
    assert balance_get(user=user) == 1
    assert entries(user, "charge") == []
    assert Conversion.objects.get().status == "insufficient_credits"


# --- Idempotency ---------------------------------------------------------------------------------


def test_a_repeated_key_answers_again_and_charges_once():
    user = funded_user(credits=10)

    first = convert.fnsku_convert(user=user, fnsku="B07N4M94X4", idempotency_key="k-1")
    second = convert.fnsku_convert(user=user, fnsku="b07n4m94x4", idempotency_key="k-1")

    assert second.replayed
    assert not first.replayed
    assert second.conversion.pk == first.conversion.pk
    assert len(entries(user, "charge")) == 1
    assert balance_get(user=user) == 10 - PRICE
    with pytest.raises(ConflictError) as caught:
        convert.fnsku_convert(user=user, fnsku="B08N5WRWNW", idempotency_key="k-1")
    assert caught.value.code == "idempotency_key_reused"


def test_a_repeated_key_of_a_not_found_answers_not_found_again_free():
    user = funded_user(credits=10)
    for _ in range(2):
        with pytest.raises(DomainError) as caught:
            convert.fnsku_convert(user=user, fnsku="X00NOTHING", idempotency_key="k-404")
        assert caught.value.code == "fnsku_not_found"
    assert error_headers(caught.value).get("Idempotent-Replayed") == "true"
    assert len(entries(user, "charge")) == 1
    assert balance_get(user=user) == 10


# --- Feedback ------------------------------------------------------------------------------------


def test_feedback_feeds_the_mapping_store():
    alice, bob, carol = funded_user(credits=20), funded_user(credits=20), funded_user(credits=20)
    asin_a, _title_a, asin_b, _ = lookalike_pair()
    shared_confirmation("X001FEEDBK", asin_a, users=1)

    answer = convert.fnsku_convert(user=alice, fnsku="X001FEEDBK").conversion
    assert answer.asin == asin_a

    feedback = conversion_feedback(user=alice, conversion_id=answer.pk, asin=asin_b.lower())

    assert feedback.verdict == ConversionFeedback.Verdict.CORRECTED
    # Alice's own word is strong evidence for her next conversion of this code ...
    assert convert.fnsku_convert(user=alice, fnsku="X001FEEDBK").conversion.asin == asin_b
    own = FnskuMapping.objects.get(user=alice, fnsku="X001FEEDBK")
    assert (own.source, own.asin) == ("confirmed", asin_b)
    # ... and counted once into the shared rows: one user for B, one against A.
    shared = {
        r.asin: r for r in FnskuMapping.objects.filter(user=None, fnsku="X001FEEDBK", source="confirmed")
    }
    assert (shared[asin_b].times_confirmed, shared[asin_b].times_rejected) == (1, 0)
    assert shared[asin_a].times_rejected == 1

    # Bob confirms B too: two users now, and Carol, who never said anything, gets B.
    bobs = convert.fnsku_convert(user=bob, fnsku="X001FEEDBK").conversion
    conversion_feedback(user=bob, conversion_id=bobs.pk, asin=asin_b)
    assert FnskuMapping.objects.get(user=None, fnsku="X001FEEDBK", asin=asin_b).times_confirmed == 2
    assert convert.fnsku_convert(user=carol, fnsku="X001FEEDBK").conversion.asin == asin_b

    # Saying it again does not count twice.
    conversion_feedback(user=bob, conversion_id=bobs.pk, asin=asin_b)
    assert FnskuMapping.objects.get(user=None, fnsku="X001FEEDBK", asin=asin_b).times_confirmed == 2


def test_feedback_on_another_users_conversion_is_not_found():
    owner, other = funded_user(credits=10), funded_user(credits=10)
    conversion = convert.fnsku_convert(user=owner, fnsku="B07N4M94X4").conversion

    with pytest.raises(NotFoundError):
        conversion_feedback(user=other, conversion_id=conversion.pk, asin="B07N4M94X4")
    assert not ConversionFeedback.objects.exists()


def test_feedback_can_teach_a_code_that_was_not_found():
    user = funded_user(credits=10)
    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=user, fnsku="X001UNKNWN")
    conversion_id = caught.value.extra["conversion_id"]

    conversion_feedback(user=user, conversion_id=conversion_id, asin="B0TESTKEEP")

    assert convert.fnsku_convert(user=user, fnsku="X001UNKNWN").conversion.asin == "B0TESTKEEP"


def test_disconnecting_removes_the_token_and_the_inventory_mappings(spapi_stub):
    user = funded_user(credits=10)
    sources.spapi_connection_set(user=user, selling_partner_id=SELLER, refresh_token=REFRESH_TOKEN)
    sources.fba_inventory_sync(user=user, marketplace="US")
    sources.inventory_report_import(user=user, file=io.BytesIO(b"fnsku,asin\nX001REPORT,B0TESTKEEP\n"))

    sources.spapi_connection_delete(user=user)

    assert not SpApiConnection.objects.exists()
    assert list(FnskuMapping.objects.filter(user=user).values_list("source", flat=True)) == [
        "inventory_report"
    ]
