"""Amazon's selling fees for an ASIN at a price: every upstream's fee wire format, one interface.

Three sources, tried in the order of ``PRODUCT_PROVIDERS`` like the product providers:

- **SP-API Product Fees v0** (github:amzn/selling-partner-api-models,
  models/product-fees-api-model/productFeesV0.json): ``getMyFeesEstimateForASIN``
  (POST /products/fees/v0/items/{Asin}/feesEstimate, 1 request/s, burst 2; bucket
  ``spapi.fees``) for one ASIN, ``getMyFeesEstimates`` (POST /products/fees/v0/feesEstimate,
  up to 20 items a call, 0.5 requests/s, burst 1; bucket ``spapi.fees_batch``) for more. Always
  ``IsAmazonFulfilled: true`` (FBA) with the price as ``ListingPrice`` and no shipping. Each
  ``FeesEstimateResult`` has a ``Status``: ``Success``, or ``ClientError``/``ServiceError``, which
  makes that one item unavailable (its ``Error.Code`` and ``Message`` kept as the reason), not
  the batch. ``FeeDetailList`` entries by ``FeeType``: ``ReferralFee`` is the referral fee;
  ``FBAFees`` (or its parts ``FBAPerUnitFulfillmentFee``, ``FBAPerOrderFulfillmentFee``,
  ``FBAWeightBasedFee``, ``FBAPickAndPackFee`` when Amazon lists them at the top level) the
  fulfilment fee; ``VariableClosingFee`` and ``FixedClosingFee`` the closing fee; the rest of
  ``TotalFeesEstimate`` (``PerItemFee`` and whatever else Amazon adds) is ``other``, so the parts
  always add up to Amazon's total. ``FinalFee`` (after promotions) is read, ``FeeAmount`` when
  absent.
- **Keepa**: the product object's ``fbaFees`` (``pickAndPackFee`` in the currency's minor unit;
  Keepa's backend: "if the total fee is 0 the product does not have (valid) dimensions and thus
  the fee can not be calculated", so 0 or less is no fee) and ``referralFeePercentage`` (a
  double; ``referralFeePercent``, an integer, in older answers). The referral fee is that
  percentage of the price, rounded half up to the minor unit. Keepa documents no minimum
  referral fee (Amazon's category minimums, typically 0.30, are not in its data), so none is
  applied: a referral fee below a category's minimum is understated (docs/resale.md). Keepa
  has no closing fee: ``closing`` is None (not reported), never a made-up 0. One request for up
  to 100 ASINs without histories or statistics (``history=0``): one token per ASIN, except for
  ASINs a product request answered lately, whose fee fields were kept (``keepa_fee_inputs_get``).
- **Sandbox**: deterministic fees from a hash of the ASIN and the price, marked ``sample``.

Every call goes through the shared rate limiter and the retries of ``UpstreamClient``, under a
circuit breaker of its own per source (``<source>.fees``), so a fee outage does not pause
product lookups nor the other way round.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import requests
from django.utils import timezone

from products import conf
from products.marketplaces import Marketplace
from products.providers.base import (
    FALLBACK_ERRORS,
    CircuitOpen,
    MarketplaceNotSupported,
    Money,
    ProviderError,
    ProviderNotConfigured,
    UpstreamBadResponse,
    UpstreamUnavailable,
    _longest_call_seconds,
    decoding,
)
from products.providers.chain import _chain_failed
from products.providers.circuit import CircuitBreaker
from products.providers.http import UpstreamClient, json_body
from products.providers.keepa import KeepaProvider, keepa_fee_inputs_get
from products.providers.sandbox import (
    _USD_RATES,
    BAD_RESPONSE_ASIN,
    NOT_FOUND_ASIN,
    OUTAGE_ASIN,
    QUOTA_EXHAUSTED_ASIN,
    SimulatedBadResponse,
    SimulatedUnavailable,
)
from products.providers.spapi import SpApiProvider, lwa_access_token

logger = logging.getLogger(__name__)

FEES_FOR_ASIN_PATH = "/products/fees/v0/items/{asin}/feesEstimate"
FEES_BATCH_PATH = "/products/fees/v0/feesEstimate"
SPAPI_FEES_BATCH_SIZE = 20
# When to ask again for fees a call did not ask for (see ``FeeFailure.retry_after``) when the
# upstream's error does not say.
NOT_ASKED_RETRY_SECONDS = 5.0
KEEPA_FEES_BATCH_SIZE = 100

REFERRAL_TYPES = frozenset({"ReferralFee"})
FULFILMENT_TYPES = frozenset(
    {
        "FBAFees",
        "FBAPerUnitFulfillmentFee",
        "FBAPerOrderFulfillmentFee",
        "FBAWeightBasedFee",
        "FBAPickAndPackFee",
    }
)
CLOSING_TYPES = frozenset({"VariableClosingFee", "FixedClosingFee"})


@dataclass(frozen=True, slots=True)
class FeeEstimate:
    """Amazon's fees for selling one unit of ``asin`` at ``price`` through FBA, as ``source`` said.

    The parts are None when the source does not report them (Keepa has no closing fee);
    ``total`` is the source's total (or the sum of the parts it has)."""

    asin: str
    price: Money
    total: Money
    referral: Money | None
    fulfilment: Money | None
    closing: Money | None
    other: Money | None
    source: str
    sample: bool
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class FeeFailure:
    """No estimate for ``asin``: ``code`` and a human ``reason`` (Amazon's per-item error, no fee data).

    ``retry_after`` (seconds) when the item was **not asked** now: an earlier batch of the same call
    was answered, then the upstream could not be called or failed for the rest (our shared rate
    limit, an open circuit, an outage). Ask again after that; it says nothing about the item."""

    asin: str
    code: str
    reason: str
    source: str
    retry_after: float | None = None


FeeAnswer = FeeEstimate | FeeFailure


def _round(amount: Decimal, currency: str) -> Money:
    return Money.of(amount, currency)


def _chunks(items: Sequence[tuple[str, Money]], size: int) -> Iterator[list[tuple[str, Money]]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class FeeSource(ABC):
    """One upstream source of fee estimates (the fee counterpart of ``Provider``)."""

    name: ClassVar[str]
    label: ClassVar[str]
    sample: ClassVar[bool] = False
    #: The most (ASIN, price) pairs one upstream call estimates.
    batch_size: ClassVar[int] = 1

    @property
    def max_batch_size(self) -> int:
        return self.batch_size

    def is_configured(self) -> bool:
        return True

    def supports(self, marketplace: Marketplace) -> bool:
        return True

    @abstractmethod
    def _estimate_batch(
        self, items: list[tuple[str, Money]], marketplace: Marketplace
    ) -> dict[str, FeeAnswer]:
        """An answer for each of at most ``max_batch_size`` (ASIN, price) pairs.

        Raises ``UpstreamUnavailable`` or ``UpstreamBadResponse`` when the batch as a whole failed."""

    def estimate_many(
        self, items: Sequence[tuple[str, Money]], marketplace: Marketplace
    ) -> dict[str, FeeAnswer]:
        """An estimate or a per-item failure for each (ASIN, price); one price per ASIN (the last wins).

        Raises like ``Provider.fetch_many`` when the first batch could not be estimated; when a later
        one could not (``UpstreamUnavailable``: an outage, our rate limit, an open circuit), the
        answers so far are kept and the items not asked are ``FeeFailure`` with ``retry_after``."""
        if not self.is_configured():
            raise ProviderNotConfigured(f"The {self.label} fee source is not configured.", provider=self.name)
        if not self.supports(marketplace):
            raise MarketplaceNotSupported(
                f"{self.label} has no fees for the {marketplace.code} marketplace.",
                provider=self.name,
                extra={"marketplace": marketplace.code},
            )
        unique = list(dict(items).items())
        breaker = CircuitBreaker(f"{self.name}.fees")
        answers: dict[str, FeeAnswer] = {}
        for batch in _chunks(unique, self.max_batch_size):
            try:
                retry_after = breaker.allow(probe_seconds=_longest_call_seconds())
                if retry_after is not None:
                    raise CircuitOpen(
                        f"{self.label} fee estimates failed repeatedly and are paused; try again shortly.",
                        provider=self.name,
                        retry_after=retry_after,
                        extra={"reason": "circuit_open"},
                    )
                answered = self._estimate_batch(batch, marketplace)
            except ProviderError as exc:
                if exc.counts_as_failure:
                    breaker.record_failure()
                if not answers or not isinstance(exc, UpstreamUnavailable):
                    raise
                # SP-API answers 20 fees every 2 s: a chunk of 100 outlasts the limiter's wait after
                # a few batches. Keep what was answered; the rest were not asked (``retry_after``).
                wait = exc.retry_after if exc.retry_after is not None else NOT_ASKED_RETRY_SECONDS
                return answers | {
                    asin: FeeFailure(asin, exc.code, exc.message, self.name, retry_after=wait)
                    for asin, _price in unique
                    if asin not in answers
                }
            breaker.record_success()
            for asin, _price in batch:
                answers[asin] = answered.get(asin) or FeeFailure(
                    asin, "fees_missing", f"{self.label} sent no fee estimate for {asin}.", self.name
                )
        return answers


# --- SP-API Product Fees v0 ---------------------------------------------------------------------


def spapi_fees_request(asin: str, price: Money, marketplace: Marketplace) -> dict[str, Any]:
    """One ``FeesEstimateRequest``: FBA, the price as listing price, no shipping or points."""
    return {
        "MarketplaceId": marketplace.marketplace_id,
        "IsAmazonFulfilled": True,
        "PriceToEstimateFees": {
            "ListingPrice": {"CurrencyCode": price.currency, "Amount": float(price.amount)},
            "Shipping": {"CurrencyCode": price.currency, "Amount": 0},
        },
        "Identifier": asin,
    }


def _spapi_money(data: Any) -> Money | None:
    if not isinstance(data, dict) or data.get("Amount") is None or not data.get("CurrencyCode"):
        return None
    return _round(Decimal(str(data["Amount"])), str(data["CurrencyCode"]))


def decode_fees_result(result: dict[str, Any], price: Money, *, fetched_at: datetime) -> FeeAnswer:
    """One ``FeesEstimateResult`` as an estimate, or a failure for its ``ClientError``/``ServiceError``."""
    identifier = result.get("FeesEstimateIdentifier") or {}
    asin = str(identifier.get("IdValue") or identifier.get("SellerInputIdentifier") or "").upper()
    status = str(result.get("Status") or "")
    if status != "Success":
        error = result.get("Error") or {}
        code = str(error.get("Code") or status or "unknown")
        message = str(error.get("Message") or "no message")
        return FeeFailure(
            asin, code, f"Amazon could not estimate the fees ({status}: {code}, {message}).", "spapi"
        )
    estimate = result["FeesEstimate"]
    currency = price.currency
    parts: dict[str, Decimal] = {"referral": Decimal(0), "fulfilment": Decimal(0), "closing": Decimal(0)}
    seen: set[str] = set()
    summed = Decimal(0)
    for detail in estimate.get("FeeDetailList") or ():
        fee = _spapi_money(detail.get("FinalFee")) or _spapi_money(detail.get("FeeAmount"))
        if fee is None:
            continue
        currency = fee.currency
        summed += fee.amount
        kind = str(detail.get("FeeType") or "")
        part = (
            "referral"
            if kind in REFERRAL_TYPES
            else "fulfilment"
            if kind in FULFILMENT_TYPES
            else "closing"
            if kind in CLOSING_TYPES
            else None
        )
        if part is not None:
            parts[part] += fee.amount
            seen.add(part)
    total = _spapi_money(estimate.get("TotalFeesEstimate")) or _round(summed, currency)
    known = sum(parts.values(), Decimal(0))
    return FeeEstimate(
        asin=asin,
        price=price,
        total=total,
        referral=_round(parts["referral"], total.currency) if "referral" in seen else None,
        fulfilment=_round(parts["fulfilment"], total.currency) if "fulfilment" in seen else None,
        closing=_round(parts["closing"], total.currency) if "closing" in seen else None,
        other=_round(total.amount - known, total.currency),
        source="spapi",
        sample=False,
        fetched_at=fetched_at,
    )


class SpApiFees(FeeSource):
    name = "spapi"
    label = "Amazon SP-API Product Fees"
    batch_size = SPAPI_FEES_BATCH_SIZE

    def __init__(self) -> None:
        self.settings = conf.spapi_settings()
        self.client = UpstreamClient(SpApiProvider.name, self.label)

    def is_configured(self) -> bool:
        return self.settings.configured

    def _estimate_batch(
        self, items: list[tuple[str, Money]], marketplace: Marketplace
    ) -> dict[str, FeeAnswer]:
        endpoint = self.settings.endpoint or marketplace.spapi_endpoint
        prices = dict(items)
        if len(items) == 1:
            asin, price = items[0]
            body = self._post(
                endpoint + FEES_FOR_ASIN_PATH.format(asin=asin),
                {"FeesEstimateRequest": spapi_fees_request(asin, price, marketplace)},
                operation="fees_for_asin",
                rate_bucket="spapi.fees",
            )
            with decoding(self.name, "fees estimate"):
                results = [body["payload"]["FeesEstimateResult"]]
        else:
            body = self._post(
                endpoint + FEES_BATCH_PATH,
                [
                    {
                        "FeesEstimateRequest": spapi_fees_request(asin, price, marketplace),
                        "IdType": "ASIN",
                        "IdValue": asin,
                    }
                    for asin, price in items
                ],
                operation="fees_batch",
                rate_bucket="spapi.fees_batch",
            )
            with decoding(self.name, "fees estimates"):
                if not isinstance(body, list):
                    raise TypeError("getMyFeesEstimates answered no list")
                results = body
        fetched_at = timezone.now()
        answers: dict[str, FeeAnswer] = {}
        with decoding(self.name, "fees estimate"):
            for result in results:
                identifier = result.get("FeesEstimateIdentifier") or {}
                asin = str(identifier.get("IdValue") or identifier.get("SellerInputIdentifier") or "").upper()
                if asin in prices:
                    answers[asin] = decode_fees_result(result, prices[asin], fetched_at=fetched_at)
        return answers

    def _post(self, url: str, payload: Any, *, operation: str, rate_bucket: str) -> Any:
        response: requests.Response | None = None
        for refresh in (False, True):
            token = lwa_access_token(self.settings, self.client, refresh=refresh)
            response = self.client.request(
                "POST",
                url,
                operation=operation,
                rate_bucket=rate_bucket,
                json=payload,
                headers={
                    "x-amz-access-token": token,
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                },
            )
            if response.status_code != 403:
                break
        assert response is not None
        body = json_body(response, provider=self.name, what=operation)
        if response.status_code != 200:
            errors = body.get("errors") if isinstance(body, dict) else None
            first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
            code = first.get("code")
            raise UpstreamBadResponse(
                f"Amazon SP-API refused the {operation} request (HTTP {response.status_code}"
                + (f", {code}" if code else "")
                + ").",
                provider=self.name,
                extra={
                    "status": response.status_code,
                    "operation": operation,
                    "upstream_code": code,
                    "upstream_message": first.get("message"),
                },
            )
        return body


# --- Keepa ----------------------------------------------------------------------------------------


def keepa_referral_percent(product: dict[str, Any]) -> Decimal | None:
    """``referralFeePercentage`` (a double), else the older ``referralFeePercent`` (an integer)."""
    for name in ("referralFeePercentage", "referralFeePercent"):
        value = product.get(name)
        if value is not None and not isinstance(value, bool) and Decimal(str(value)) > 0:
            return Decimal(str(value))
    return None


def decode_keepa_fees(product: dict[str, Any], price: Money, *, fetched_at: datetime) -> FeeAnswer:
    """A Keepa product object's FBA fees at ``price``."""
    asin = str(product.get("asin") or "").upper()
    percent = keepa_referral_percent(product)
    fba = product.get("fbaFees")
    pick_and_pack = fba.get("pickAndPackFee") if isinstance(fba, dict) else None
    if percent is None or pick_and_pack is None or int(pick_and_pack) <= 0:
        missing = "referral fee percentage" if percent is None else "FBA fee"
        return FeeFailure(asin, "fees_not_known", f"Keepa has no {missing} for this product.", "keepa")
    currency = price.currency
    referral = _round(price.amount * percent / 100, currency)
    fulfilment = Money.from_minor_units(int(pick_and_pack), currency)
    return FeeEstimate(
        asin=asin,
        price=price,
        total=referral + fulfilment,
        referral=referral,
        fulfilment=fulfilment,
        closing=None,
        other=None,
        source="keepa",
        sample=False,
        fetched_at=fetched_at,
    )


class KeepaFees(FeeSource):
    name = "keepa"
    label = "Keepa"

    def __init__(self) -> None:
        self.provider = KeepaProvider()

    @property
    def max_batch_size(self) -> int:
        return min(KEEPA_FEES_BATCH_SIZE, self.provider.max_batch_size)

    def is_configured(self) -> bool:
        return self.provider.is_configured()

    def supports(self, marketplace: Marketplace) -> bool:
        return self.provider.supports(marketplace)

    def _estimate_batch(
        self, items: list[tuple[str, Money]], marketplace: Marketplace
    ) -> dict[str, FeeAnswer]:
        prices = dict(items)
        # Products a product request answered lately carry their fee fields already: no token.
        answers: dict[str, FeeAnswer] = {}
        for asin, inputs in keepa_fee_inputs_get(list(prices), marketplace).items():
            answers[asin] = decode_keepa_fees(
                inputs, prices[asin], fetched_at=datetime.fromisoformat(inputs["fetched_at"])
            )
        rest = [asin for asin in prices if asin not in answers]
        if not rest:
            return answers
        body = self.provider._product_request(
            marketplace,
            {"asin": ",".join(rest)},
            operation="fees",
            tokens=len(rest),
            options={"history": "0"},
        )
        fetched_at = timezone.now()
        with decoding(self.name, "fees"):
            products = body["products"]
            if not isinstance(products, list):
                raise TypeError("products is not a list")
            for product in products:
                if not isinstance(product, dict):
                    continue
                asin = str(product.get("asin") or "").upper()
                if asin in prices:
                    answers[asin] = decode_keepa_fees(product, prices[asin], fetched_at=fetched_at)
        return answers


# --- Sandbox --------------------------------------------------------------------------------------

# Referral percentages the sandbox draws from (Amazon's common category rates).
SANDBOX_REFERRAL_PERCENTS = (Decimal(8), Decimal(12), Decimal(15))


class SandboxFees(FeeSource):
    """Deterministic sample fees: the same ASIN, price and marketplace always give the same fees.

    The reserved ASINs of the sandbox provider fail the same way here (outage, quota, garbage);
    ``B000000404`` has no fees (a per-item failure)."""

    name = "sandbox"
    label = "Sandbox"
    sample = True
    batch_size = 100

    def _estimate_batch(
        self, items: list[tuple[str, Money]], marketplace: Marketplace
    ) -> dict[str, FeeAnswer]:
        asins = {asin for asin, _ in items}
        if OUTAGE_ASIN in asins or QUOTA_EXHAUSTED_ASIN in asins:
            raise SimulatedUnavailable(
                "The sandbox simulates a fee estimate outage.",
                provider=self.name,
                retry_after=30,
                extra={"reason": "simulated_outage"},
            )
        if BAD_RESPONSE_ASIN in asins:
            raise SimulatedBadResponse(
                "The sandbox simulates an unreadable fee estimate.",
                provider=self.name,
                extra={"reason": "simulated_bad_response"},
            )
        fetched_at = timezone.now()
        return {asin: self._estimate(asin, price, marketplace, fetched_at) for asin, price in items}

    def _estimate(self, asin: str, price: Money, marketplace: Marketplace, fetched_at: datetime) -> FeeAnswer:
        if asin == NOT_FOUND_ASIN:
            return FeeFailure(asin, "fees_not_known", "The sandbox has no fees for this ASIN.", self.name)
        digest = hashlib.sha256(f"fees|{asin}".encode()).digest()
        percent = SANDBOX_REFERRAL_PERCENTS[digest[0] % len(SANDBOX_REFERRAL_PERCENTS)]
        rate = Decimal(str(_USD_RATES.get(price.currency, 1)))
        # A pick-and-pack fee of 2.50 to 6.49 USD, by the ASIN, in the marketplace's currency.
        fulfilment_usd = Decimal(250 + int.from_bytes(digest[1:3], "big") % 400) / 100
        referral = _round(price.amount * percent / 100, price.currency)
        fulfilment = _round(fulfilment_usd * rate, price.currency)
        closing = _round(Decimal(0), price.currency)
        return FeeEstimate(
            asin=asin,
            price=price,
            total=referral + fulfilment + closing,
            referral=referral,
            fulfilment=fulfilment,
            closing=closing,
            other=_round(Decimal(0), price.currency),
            source=self.name,
            sample=True,
            fetched_at=fetched_at,
        )


# --- The chain ------------------------------------------------------------------------------------

FEE_SOURCES: dict[str, type[FeeSource]] = {
    SandboxFees.name: SandboxFees,
    KeepaFees.name: KeepaFees,
    SpApiFees.name: SpApiFees,
}


@dataclass(frozen=True)
class FeesResult:
    """What the chain delivered: ``answers`` from ``source``, after the ``skipped`` ones failed."""

    source: str
    answers: dict[str, FeeAnswer]
    skipped: list[ProviderError] = field(default_factory=list)


def fee_sources(names: Sequence[str] | None = None) -> list[FeeSource]:
    """The fee sources to try, in the order of ``names`` or ``PRODUCT_PROVIDERS``."""
    return [FEE_SOURCES[name]() for name in (names or conf.product_providers()) if name in FEE_SOURCES]


def fees_with_fallback(
    items: Sequence[tuple[str, Money]], marketplace: Marketplace, *, sources: Sequence[str] | None = None
) -> FeesResult:
    """Fee answers for normalised (ASIN, price) pairs from the first source of the chain that answers.

    A per-item failure is an answer (as "not found" is for products). When no source can answer,
    raises as ``fetch_with_fallback`` does (``UpstreamUnavailable``, ``UpstreamBadResponse``,
    ``MarketplaceNotSupported``, ``ProviderNotConfigured``)."""
    chain = fee_sources(sources)
    skipped: list[ProviderError] = []
    for source in chain:
        try:
            answers = source.estimate_many(items, marketplace)
        except FALLBACK_ERRORS as exc:
            logger.warning("fee source %s skipped: %s (%s)", source.name, exc.code, exc.message)
            skipped.append(exc)
            continue
        return FeesResult(source=source.name, answers=answers, skipped=skipped)
    raise _chain_failed(skipped, marketplace, [s.name for s in chain])
