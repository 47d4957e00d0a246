"""Fee estimates from SP-API Product Fees v0, Keepa and the sandbox (products/providers/fees.py).

SP-API answers are the productFeesV0.json examples (fixtures/README.md); Keepa's are the
reference product answer with its documented ``fbaFees`` and ``referralFeePercentage`` added.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from products.marketplaces import marketplace_get
from products.providers import UpstreamBadResponse, UpstreamUnavailable
from products.providers.base import Money
from products.providers.fees import (
    FeeEstimate,
    FeeFailure,
    KeepaFees,
    SandboxFees,
    SpApiFees,
    decode_fees_result,
    fees_with_fallback,
)
from products.providers.keepa import KeepaProvider
from products.tests.conftest import KEEPA_PRODUCT_URL, LWA_URL, SPAPI_NA, load_fixture

US = marketplace_get("US")
DE = marketplace_get("DE")
FOR_ASIN_URL = SPAPI_NA + "/products/fees/v0/items/{asin}/feesEstimate"
BATCH_URL = SPAPI_NA + "/products/fees/v0/feesEstimate"
ASIN = "B00V5DG6IQ"  # the ASIN of the model's example answer


def usd(amount: str) -> Money:
    return Money.of(Decimal(amount), "USD")


def token(rsps):
    rsps.post(LWA_URL, json={"access_token": "Atza|fees", "expires_in": 3600, "token_type": "bearer"})


def batch_result(asin: str, *, status: str = "Success", total: float = 3.0) -> dict:
    """One ``FeesEstimateResult`` of the model's getMyFeesEstimates example, for ``asin``."""
    result = copy.deepcopy(load_fixture("spapi/getMyFeesEstimates.200.json")[0])
    result["FeesEstimateIdentifier"]["IdValue"] = asin
    result["FeesEstimateIdentifier"]["SellerInputIdentifier"] = asin
    result["FeesEstimate"]["TotalFeesEstimate"]["Amount"] = total
    result["Status"] = status
    if status != "Success":
        del result["FeesEstimate"]
        result["Error"] = {
            "Type": "Sender",
            "Code": "InvalidParameterValue",
            "Message": "There is an client-side error. Please verify your inputs.",
            "Detail": [],
        }
    return result


# --- SP-API -----------------------------------------------------------------------------------------


def test_model_example_for_one_asin_decodes(spapi_settings, rsps):
    token(rsps)
    rsps.post(FOR_ASIN_URL.format(asin=ASIN), json=load_fixture("spapi/getMyFeesEstimateForASIN.200.json"))
    answers = SpApiFees().estimate_many([(ASIN, usd("10"))], US)
    estimate = answers[ASIN]
    assert isinstance(estimate, FeeEstimate)
    # The example has an empty FeeDetailList: only the total is known, and it is all "other".
    assert estimate.total == usd("3.00")
    assert (estimate.referral, estimate.fulfilment, estimate.closing) == (None, None, None)
    assert estimate.other == usd("3.00")
    assert estimate.source == "spapi"
    assert not estimate.sample


def test_fee_details_split_into_referral_fulfilment_closing_and_other(spapi_settings, rsps):
    token(rsps)
    rsps.post(
        FOR_ASIN_URL.format(asin=ASIN),
        json=load_fixture("spapi/getMyFeesEstimateForASIN.200.fba-details.json"),
    )
    estimate = SpApiFees().estimate_many([(ASIN, usd("10"))], US)[ASIN]
    assert isinstance(estimate, FeeEstimate)
    assert estimate.referral == usd("1.50")
    # FBAFees counts once, not again through its IncludedFeeDetailList.
    assert estimate.fulfilment == usd("3.76")
    assert estimate.closing == usd("1.80")
    assert estimate.other == usd("0.00")
    assert estimate.total == usd("7.06")


def test_one_asin_request_is_fba_at_the_price_with_the_documented_shape(spapi_settings, rsps):
    token(rsps)
    rsps.post(FOR_ASIN_URL.format(asin=ASIN), json=load_fixture("spapi/getMyFeesEstimateForASIN.200.json"))
    SpApiFees().estimate_many([(ASIN, usd("24.99"))], US)
    call = next(c for c in rsps.calls if "feesEstimate" in c.request.url)
    body = json.loads(call.request.body)
    request = body["FeesEstimateRequest"]
    assert request["MarketplaceId"] == US.marketplace_id
    assert request["IsAmazonFulfilled"] is True
    assert request["Identifier"] == ASIN
    assert request["PriceToEstimateFees"]["ListingPrice"] == {"CurrencyCode": "USD", "Amount": 24.99}
    assert call.request.headers["x-amz-access-token"] == "Atza|fees"


def test_batch_example_decodes_each_item(spapi_settings, rsps):
    token(rsps)
    rsps.post(BATCH_URL, json=[batch_result("B000000001", total=3.0), batch_result("B000000002", total=4.5)])
    answers = SpApiFees().estimate_many([("B000000001", usd("10")), ("B000000002", usd("12"))], US)
    assert answers["B000000001"].total == usd("3.00")  # type: ignore[union-attr]
    assert answers["B000000002"].total == usd("4.50")  # type: ignore[union-attr]
    body = json.loads(next(c for c in rsps.calls if c.request.url == BATCH_URL).request.body)
    assert [item["IdValue"] for item in body] == ["B000000001", "B000000002"]
    assert all(item["IdType"] == "ASIN" for item in body)


def test_per_item_client_and_service_errors_fail_that_item_only(spapi_settings, rsps):
    token(rsps)
    rsps.post(
        BATCH_URL,
        json=[
            batch_result("B000000001"),
            batch_result("B000000002", status="ClientError"),
            batch_result("B000000003", status="ServiceError"),
        ],
    )
    answers = SpApiFees().estimate_many(
        [("B000000001", usd("10")), ("B000000002", usd("10")), ("B000000003", usd("10"))], US
    )
    assert isinstance(answers["B000000001"], FeeEstimate)
    for asin, status in (("B000000002", "ClientError"), ("B000000003", "ServiceError")):
        failure = answers[asin]
        assert isinstance(failure, FeeFailure)
        assert failure.code == "InvalidParameterValue"
        assert status in failure.reason


def test_more_than_20_go_in_batches_of_20(spapi_settings, rsps, settings):
    settings.PROVIDER_RATE_LIMITS = "spapi.fees_batch=1000/1000"
    token(rsps)
    asins = [f"B0000000{n:02d}" for n in range(45)]

    def answer(request):
        items = json.loads(request.body)
        return 200, {}, json.dumps([batch_result(item["IdValue"]) for item in items])

    rsps.add_callback("POST", BATCH_URL, callback=answer, content_type="application/json")
    answers = SpApiFees().estimate_many([(asin, usd("10")) for asin in asins], US)
    sizes = [len(json.loads(c.request.body)) for c in rsps.calls if c.request.url == BATCH_URL]
    assert sizes == [20, 20, 5]
    assert set(answers) == set(asins)
    assert all(isinstance(a, FeeEstimate) for a in answers.values())


def test_a_call_the_rate_limit_stops_keeps_the_batches_answered_and_says_when_to_ask_again(
    spapi_settings, rsps, settings
):
    # SP-API's own getMyFeesEstimates budget is 0.5 requests a second, burst 1: a chunk of 100
    # ASINs (5 batches) outlasts the limiter's wait after a few. Here: 2 batches, then no token.
    settings.PROVIDER_RATE_LIMITS = "spapi.fees_batch=0.01/2"
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.1
    token(rsps)
    asins = [f"B0000001{n:02d}" for n in range(45)]

    def answer(request):
        return 200, {}, json.dumps([batch_result(item["IdValue"]) for item in json.loads(request.body)])

    rsps.add_callback("POST", BATCH_URL, callback=answer, content_type="application/json")
    answers = SpApiFees().estimate_many([(asin, usd("10")) for asin in asins], US)

    assert [len(json.loads(c.request.body)) for c in rsps.calls if c.request.url == BATCH_URL] == [20, 20]
    assert all(isinstance(answers[asin], FeeEstimate) for asin in asins[:40])
    not_asked = [answers[asin] for asin in asins[40:]]
    assert all(isinstance(a, FeeFailure) for a in not_asked)
    assert all(a.retry_after is not None and a.retry_after > 1 for a in not_asked)
    assert "Too many" in not_asked[0].reason


def test_a_first_batch_the_rate_limit_stops_raises_for_the_chain_to_go_on(spapi_settings, rsps, settings):
    settings.PROVIDER_RATE_LIMITS = "spapi.fees_batch=0.01/1"
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.1
    token(rsps)
    rsps.add_callback(
        "POST",
        BATCH_URL,
        callback=lambda r: (200, {}, json.dumps([batch_result(i["IdValue"]) for i in json.loads(r.body)])),
        content_type="application/json",
    )
    asins = [f"B0000002{n:02d}" for n in range(25)]
    fees = SpApiFees()
    fees.estimate_many([(asin, usd("10")) for asin in asins[:2]], US)  # the one token
    with pytest.raises(UpstreamUnavailable) as caught:
        fees.estimate_many([(asin, usd("10")) for asin in asins], US)
    assert caught.value.extra["reason"] == "rate_limited"


def test_throttled_429_is_retried_then_succeeds(spapi_settings, rsps):
    token(rsps)
    url = FOR_ASIN_URL.format(asin=ASIN)
    rsps.post(
        url, status=429, json={"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]}
    )
    rsps.post(url, json=load_fixture("spapi/getMyFeesEstimateForASIN.200.json"))
    estimate = SpApiFees().estimate_many([(ASIN, usd("10"))], US)[ASIN]
    assert isinstance(estimate, FeeEstimate)
    assert len([c for c in rsps.calls if c.request.url == url]) == 2


def test_throttled_429_every_time_is_unavailable(spapi_settings, rsps, settings):
    settings.UPSTREAM_RETRY_ATTEMPTS = 2
    token(rsps)
    rsps.post(FOR_ASIN_URL.format(asin=ASIN), status=429, json={"errors": [{"code": "QuotaExceeded"}]})
    with pytest.raises(UpstreamUnavailable):
        SpApiFees().estimate_many([(ASIN, usd("10"))], US)


def test_model_400_example_is_a_bad_response_naming_amazons_code(spapi_settings, rsps):
    token(rsps)
    rsps.post(BATCH_URL, status=400, json=load_fixture("spapi/getMyFeesEstimates.400.json"))
    with pytest.raises(UpstreamBadResponse) as caught:
        SpApiFees().estimate_many([("B000000001", usd("10")), ("B000000002", usd("10"))], US)
    assert caught.value.extra["upstream_code"] == "InvalidInput"


def test_decoding_reads_final_fee_before_fee_amount():
    result = load_fixture("spapi/getMyFeesEstimateForASIN.200.fba-details.json")["payload"][
        "FeesEstimateResult"
    ]
    referral = result["FeesEstimate"]["FeeDetailList"][0]
    referral["FeePromotion"] = {"CurrencyCode": "USD", "Amount": 0.5}
    referral["FinalFee"] = {"CurrencyCode": "USD", "Amount": 1.0}
    result["FeesEstimate"]["TotalFeesEstimate"]["Amount"] = 6.56
    estimate = decode_fees_result(result, usd("10"), fetched_at=None)  # type: ignore[arg-type]
    assert isinstance(estimate, FeeEstimate)
    assert estimate.referral == usd("1.00")
    assert estimate.total == usd("6.56")


# --- Keepa ----------------------------------------------------------------------------------------


def keepa_answer(**fields) -> dict:
    body = load_fixture("keepa/product-response.json")
    body["products"][0].update(fields)
    return body


def keepa_asin() -> str:
    return load_fixture("keepa/product-response.json")["products"][0]["asin"]


def test_keepa_fees_from_fba_fees_and_referral_percentage(keepa_settings, rsps):
    rsps.get(
        KEEPA_PRODUCT_URL,
        json=keepa_answer(
            fbaFees={"storageFee": 12, "storageFeeTax": 0, "pickAndPackFee": 352, "pickAndPackFeeTax": 0},
            referralFeePercentage=15.0,
        ),
    )
    asin = keepa_asin()
    estimate = KeepaFees().estimate_many([(asin, usd("19.99"))], US)[asin]
    assert isinstance(estimate, FeeEstimate)
    assert estimate.fulfilment == usd("3.52")
    assert estimate.referral == usd("3.00")  # 15% of 19.99 = 2.9985, half up
    assert estimate.closing is None  # Keepa has none: not reported, not 0
    assert estimate.total == usd("6.52")
    query = rsps.calls[0].request.params
    assert query["history"] == "0"
    assert "stats" not in query
    assert "buybox" not in query


def test_keepa_fees_of_a_product_just_looked_up_cost_no_second_token(keepa_settings, rsps):
    fields = {
        "fbaFees": {"storageFee": 12, "storageFeeTax": 0, "pickAndPackFee": 352, "pickAndPackFeeTax": 0},
        "referralFeePercentage": 15.0,
    }
    rsps.get(KEEPA_PRODUCT_URL, json=keepa_answer(**fields))
    asin = keepa_asin()
    KeepaProvider().fetch_many([asin], US)  # the lookup: one product request
    assert len(rsps.calls) == 1

    estimate = KeepaFees().estimate_many([(asin, usd("19.99"))], US)[asin]

    assert len(rsps.calls) == 1  # answered from the product request's own fee fields
    assert isinstance(estimate, FeeEstimate)
    assert (estimate.referral, estimate.fulfilment, estimate.total) == (usd("3.00"), usd("3.52"), usd("6.52"))
    # Another ASIN, never looked up, still takes its own request, for it alone.
    other = "B0CKNOWN01"
    rsps.get(KEEPA_PRODUCT_URL, json=keepa_answer(asin=other, **fields))
    answers = KeepaFees().estimate_many([(asin, usd("25")), (other, usd("25"))], US)
    assert len(rsps.calls) == 2
    assert rsps.calls[1].request.params["asin"] == other
    assert answers[asin].total == answers[other].total == usd("7.27")  # 3.75 + 3.52


def test_keepa_older_integer_referral_percent(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=keepa_answer(fbaFees={"pickAndPackFee": 300}, referralFeePercent=8))
    asin = keepa_asin()
    estimate = KeepaFees().estimate_many([(asin, usd("10.00"))], US)[asin]
    assert estimate.referral == usd("0.80")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "fields",
    [
        {},  # no fbaFees at all: not collected yet
        {"fbaFees": {"pickAndPackFee": 0}, "referralFeePercentage": 15.0},  # 0: no valid dimensions
        {"fbaFees": {"pickAndPackFee": 352}},  # no referral percentage
    ],
)
def test_keepa_without_fee_data_is_unavailable_for_that_item_not_zero(keepa_settings, rsps, fields):
    rsps.get(KEEPA_PRODUCT_URL, json=keepa_answer(**fields))
    asin = keepa_asin()
    answer = KeepaFees().estimate_many([(asin, usd("10"))], US)[asin]
    assert isinstance(answer, FeeFailure)
    assert "Keepa has no" in answer.reason


# --- Sandbox and the chain --------------------------------------------------------------------------


def test_sandbox_fees_are_deterministic_sample_and_scale_with_the_price():
    one = SandboxFees().estimate_many([("B07XJ8C8F5", Money.of(Decimal("20"), "EUR"))], DE)["B07XJ8C8F5"]
    again = SandboxFees().estimate_many([("B07XJ8C8F5", Money.of(Decimal("20"), "EUR"))], DE)["B07XJ8C8F5"]
    dearer = SandboxFees().estimate_many([("B07XJ8C8F5", Money.of(Decimal("40"), "EUR"))], DE)["B07XJ8C8F5"]
    assert isinstance(one, FeeEstimate)
    assert isinstance(again, FeeEstimate)
    assert isinstance(dearer, FeeEstimate)
    assert (one.total, one.referral, one.fulfilment) == (again.total, again.referral, again.fulfilment)
    assert one.sample
    assert one.source == "sandbox"
    assert one.total.currency == "EUR"
    assert dearer.referral.amount == 2 * one.referral.amount  # type: ignore[union-attr]
    assert dearer.fulfilment == one.fulfilment
    assert one.total == one.referral + one.fulfilment + one.closing  # type: ignore[operator]


def test_sandbox_reserved_asins_fail_like_an_upstream():
    with pytest.raises(UpstreamUnavailable):
        SandboxFees().estimate_many([("B000000503", usd("10"))], US)
    answer = SandboxFees().estimate_many([("B000000404", usd("10"))], US)["B000000404"]
    assert isinstance(answer, FeeFailure)


def test_chain_falls_back_to_the_next_source(settings, keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, status=500, json={})
    settings.UPSTREAM_RETRY_ATTEMPTS = 1
    result = fees_with_fallback([("B07XJ8C8F5", usd("10"))], US, sources=["keepa", "sandbox"])
    assert result.source == "sandbox"
    assert [s.provider for s in result.skipped] == ["keepa"]


def test_chain_with_every_source_failing_raises(settings):
    with pytest.raises(UpstreamUnavailable):
        fees_with_fallback([("B000000503", usd("10"))], US, sources=["sandbox"])
