"""The resale app's writes and its one metered operation.

- ``resale_defaults_update``: a user's saved defaults (inbound shipping, prep, VAT, target ROI).
- ``product_profit``: profit of one ASIN at a cost (``POST /api/v1/products/profit``, the profit
  panels). Priced as one product lookup (``asin_lookup``: it fetches the product and its fees)
  through ``credits.metering.metered``; not charged again for the same user, ASIN and
  marketplace while the product data is fresh (``PRODUCT_CACHE_SECONDS`` after the paid
  calculation: ``FreshProductClaim``), so trying other costs, quantities or overrides is free;
  refunded when it delivers nothing (the product not found or not fetchable: 404/503, or its
  fees unavailable: a 200 with status ``fees_unavailable`` and 0 credits charged).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from redis import Redis

from core.errors import DomainError
from core.shared_state import redis_client, shared_key
from credits.metering import Claim, metered
from credits.selectors import balance_get
from products import conf as products_conf
from products.marketplaces import Marketplace, marketplace_get
from products.providers import ProviderError
from products.providers.base import ProductRecord
from products.services import LOOKUP_OPERATION
from products.store import product_record_bytes
from products.validation import normalize_asin
from resale.fees import fees_get
from resale.models import ResaleDefaults
from resale.profit import FEES_UNAVAILABLE, ProfitResult, ResaleCosts, profit_calculate, sale_price_of
from resale.selectors import resale_defaults_get

if TYPE_CHECKING:
    from accounts.models import User
    from credits.models import LedgerEntry

PROFIT_OPERATION = LOOKUP_OPERATION
DEFAULT_FIELDS = (
    "inbound_per_unit",
    "inbound_per_kg",
    "prep_per_unit",
    "vat_registered",
    "target_roi_percent",
)
_MAX_AMOUNT = Decimal("9999999999.99")


def _amount(name: str, raw: object, *, allow_none: bool = False) -> Decimal | None:
    if raw is None or raw == "":
        if allow_none:
            return None
        raise DomainError(f"{name} is required.", code=f"invalid_{name}", extra={name: None})
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value > _MAX_AMOUNT:
        raise DomainError(
            f"{name} must be a number from 0 to {_MAX_AMOUNT}.",
            code=f"invalid_{name}",
            extra={name: str(raw)},
        )
    return value.quantize(Decimal("0.01"))


def resale_costs_with(costs: ResaleCosts, overrides: Mapping[str, Any] | None) -> ResaleCosts:
    """``costs`` with the given fields replaced (validated; unknown fields are an error)."""
    if not overrides:
        return costs
    unknown = sorted(set(overrides) - set(DEFAULT_FIELDS))
    if unknown:
        raise DomainError(
            f"Unknown field(s): {', '.join(unknown)}. Use: {', '.join(DEFAULT_FIELDS)}.",
            code="invalid_overrides",
            extra={"unknown": unknown},
        )
    changes: dict[str, Any] = {}
    for name, raw in overrides.items():
        if name == "vat_registered":
            if not isinstance(raw, bool):
                raise DomainError("vat_registered must be true or false.", code="invalid_vat_registered")
            changes[name] = raw
        else:
            changes[name] = _amount(name, raw, allow_none=name == "target_roi_percent")
    return replace(costs, **changes)


def resale_defaults_update(*, user: User, **fields: Any) -> ResaleCosts:
    """Save the given defaults of ``user`` (the others keep their values); returns them all."""
    costs = resale_costs_with(resale_defaults_get(user=user), fields)
    ResaleDefaults.objects.update_or_create(
        user=user,
        defaults={
            "inbound_per_unit": costs.inbound_per_unit,
            "inbound_per_kg": costs.inbound_per_kg,
            "prep_per_unit": costs.prep_per_unit,
            "vat_registered": costs.vat_registered,
            "target_roi_percent": costs.target_roi_percent,
        },
    )
    return costs


# --- Profit of one product: the metered operation ---------------------------------------------------


@dataclass(frozen=True)
class ProfitAnswer:
    """A profit calculation, what it cost (0: covered by an earlier charge, or refunded) and the
    balance after it; ``title`` and ``record`` of the product (None when not found)."""

    result: ProfitResult
    title: str | None
    credits_charged: int
    credits_remaining: int | None
    covered: bool


class _FeesUnavailable(DomainError):
    """Nothing useful delivered: refund the charge, answer the result with status fees_unavailable."""

    code = "fees_unavailable"

    def __init__(self, answer: ProfitAnswer) -> None:
        super().__init__("Fees unavailable: the charge was refunded.")
        self.answer = answer


class FreshProductClaim(Claim[ProfitAnswer]):
    """At most one charge per user, ASIN and marketplace while the product data is fresh.

    The first calculation sets a marker (``SET NX``, for ``fresh_seconds``) and pays under a ledger
    key of its own; a calculation finding the marker is answered by ``serve_free`` at no charge. A
    refused (402) or refunded calculation removes the marker, so the next one pays."""

    def __init__(
        self,
        *,
        client: Redis,
        user_id: int,
        market: Marketplace,
        asin: str,
        fresh_seconds: int,
        serve_free: Callable[[], ProfitAnswer],
    ) -> None:
        self.client = client
        self.marker = shared_key("resale-profit-paid", str(user_id), market.code, asin)
        self.ledger_key = f"profit:{user_id}:{market.code}:{asin}:{uuid.uuid4().hex[:16]}"
        self.fresh_seconds = max(1, fresh_seconds)
        self.serve_free = serve_free

    def take(self) -> ProfitAnswer | None:
        if self.client.set(self.marker, self.ledger_key, nx=True, ex=self.fresh_seconds):
            return None
        return self.serve_free()

    def ledger_keys(self) -> Iterator[str]:
        yield self.ledger_key

    def given_up(self) -> None:
        self.client.delete(self.marker)

    def undelivered(self, error: Exception, refund: LedgerEntry) -> None:
        self.client.delete(self.marker)


def product_profit(
    *,
    user: User,
    asin: str,
    marketplace: str = "US",
    cost: object,
    quantity: object = 1,
    overrides: Mapping[str, Any] | None = None,
) -> ProfitAnswer:
    """Profit of buying ``quantity`` units of ``asin`` at ``cost`` each and selling them at the buy
    box in ``marketplace``, with the user's saved defaults (``overrides`` replace some of them).

    Bad input raises before anything is charged (400). Raises ``InsufficientCredits`` (402),
    ``ProductNotFound`` (404) and other ``ProviderError`` (503) after refunding."""
    asin = normalize_asin(asin)
    market = marketplace_get(marketplace)
    costs = resale_costs_with(resale_defaults_get(user=user), overrides)
    buy_cost = _amount("cost", cost) or Decimal(0)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise DomainError(
            "quantity must be a whole number.", code="invalid_quantity", extra={"quantity": quantity}
        )
    # Validates quantity and costs the same way the real calculation will, before any charge.
    profit_calculate(
        marketplace=market, record=None, fees=None, cost=buy_cost, quantity=quantity, costs=costs
    )

    def calculate(credits_charged: int, credits_remaining: int | None, covered: bool) -> ProfitAnswer:
        fetched = product_record_bytes(asin=asin, marketplace=market)
        record = ProductRecord.from_dict(json.loads(fetched.body))
        sale_price, _source = sale_price_of(record)
        fees = fees_get(asin=asin, marketplace=market, price=sale_price) if sale_price is not None else None
        result = profit_calculate(
            marketplace=market, record=record, fees=fees, cost=buy_cost, quantity=quantity, costs=costs
        )
        return ProfitAnswer(result, record.title, credits_charged, credits_remaining, covered)

    def serve(charge: LedgerEntry) -> ProfitAnswer:
        answer = calculate(-charge.amount, charge.balance_after, False)
        if answer.result.status == FEES_UNAVAILABLE:
            raise _FeesUnavailable(answer)
        return answer

    def serve_free() -> ProfitAnswer:
        return calculate(0, balance_get(user=user), True)

    claim = FreshProductClaim(
        client=redis_client(),
        user_id=user.pk,
        market=market,
        asin=asin,
        fresh_seconds=products_conf.lookup_settings().cache_seconds,
        serve_free=serve_free,
    )
    try:
        return metered(
            user=user,
            operation=PROFIT_OPERATION,
            reference=f"profit:{market.code}:{asin}",
            claim=claim,
            serve=serve,
            refund_on=(ProviderError, _FeesUnavailable),
        )
    except _FeesUnavailable as refunded:
        return replace(refunded.answer, credits_charged=0, credits_remaining=refunded.credits_remaining)
