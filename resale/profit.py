"""Profit, margin and ROI of buying a product at a cost and selling it on Amazon: ``profit_calculate``.

Pure Decimal arithmetic, no I/O: the product record (its landed buy box and its weight) and the
fee quote come in, a ``ProfitResult`` goes out. docs/resale.md states the rule; in short, per unit:

- sale price: the landed buy box (item + shipping) of the record, else its current price
  (``price``: Amazon's offer or the lowest new offer, landed); none: status ``no_price``.
- fees: the ``FeeQuote``'s total; unavailable: status ``fees_unavailable``. Never a made-up 0.
- inbound shipping: per unit, plus per kg times the record's package weight (item weight when
  the package has none; no weight: the per-kg part is left out and a note says so).
- VAT, for a VAT-registered seller on a marketplace with VAT (``VAT_RATES``): the sale price is
  VAT-inclusive, so its output VAT (price x rate / (100 + rate)) is owed; the buy cost, inbound
  shipping, prep and Amazon's fees are taken as VAT-inclusive too and their input VAT is
  reclaimed, so they count net. Not registered (or no VAT): every amount counts as entered.
- net proceeds = sale price - output VAT - (fees - their VAT); landed cost = buy cost + inbound +
  prep (each net of reclaimed VAT); profit = net proceeds - landed cost; margin = profit / (sale
  price - output VAT); ROI = profit / landed cost.
- break-even buy cost: the buy cost (as entered, VAT-inclusive when registered) at which profit
  is 0; the most one may pay for the target ROI: the buy cost at which ROI equals the target.

Rounding: every amount is rounded half up to the currency's minor unit (``core.money.round_money``)
per unit, the totals are the rounded unit amounts times the quantity, and the parts add up
exactly. The two "most you may pay" figures are rounded down instead, so paying them never falls
short of break-even or the target. Percentages are rounded half up to 0.01.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import DomainError
from core.money import currency_exponent, round_money
from products.marketplaces import Marketplace, marketplace_get
from products.providers.base import Measurement, ProductRecord
from resale.fees import FeeQuote

# Standard VAT rates (percent) of the marketplaces with VAT, for a VAT-registered seller.
# EU member states' standard rates (European Commission, "VAT rates applied in the Member
# States", 2025) and the United Kingdom's 20%.
VAT_RATES: dict[str, Decimal] = {
    "DE": Decimal(19),
    "FR": Decimal(20),
    "IT": Decimal(22),
    "ES": Decimal(21),
    "NL": Decimal(21),
    "BE": Decimal(21),
    "IE": Decimal(23),
    "SE": Decimal(25),
    "PL": Decimal(23),
    "UK": Decimal(20),
}

OK = "ok"
NO_PRICE = "no_price"
FEES_UNAVAILABLE = "fees_unavailable"
STATUSES = (OK, NO_PRICE, FEES_UNAVAILABLE)

MAX_QUANTITY = 1_000_000
_PERCENT = Decimal("0.01")
# The fields computed only when the status is ok.
_COMPUTED = (
    "fees_total",
    "output_vat",
    "fees_vat_reclaimed",
    "net_proceeds",
    "inbound",
    "prep",
    "input_vat_reclaimed",
    "landed_cost",
    "profit",
    "margin_percent",
    "roi_percent",
    "break_even_cost",
    "max_cost_for_target_roi",
    "net_proceeds_total",
    "landed_cost_total",
    "profit_total",
)
_GRAMS = {"g": Decimal(1), "kg": Decimal(1000), "lb": Decimal("453.59237"), "oz": Decimal("28.349523125")}


@dataclass(frozen=True, slots=True)
class ResaleCosts:
    """A seller's costs besides the buy price (their saved defaults, or overrides), per unit."""

    inbound_per_unit: Decimal = Decimal(0)
    inbound_per_kg: Decimal = Decimal(0)
    prep_per_unit: Decimal = Decimal(0)
    vat_registered: bool = False
    target_roi_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProfitResult:
    """What is left of selling ``quantity`` units bought at ``buy_cost`` each (see the module).

    Every amount is per unit in ``currency`` except the ``*_total`` ones; all None unless
    ``status`` is ``ok``."""

    status: str
    asin: str
    marketplace: str
    currency: str
    quantity: int
    buy_cost: Decimal
    sale_price: Decimal | None
    sale_price_source: str
    fees: FeeQuote | None
    fees_total: Decimal | None
    vat_rate: Decimal | None
    output_vat: Decimal | None
    fees_vat_reclaimed: Decimal | None
    net_proceeds: Decimal | None
    inbound: Decimal | None
    prep: Decimal | None
    input_vat_reclaimed: Decimal | None
    landed_cost: Decimal | None
    profit: Decimal | None
    margin_percent: Decimal | None
    roi_percent: Decimal | None
    break_even_cost: Decimal | None
    target_roi_percent: Decimal | None
    max_cost_for_target_roi: Decimal | None
    net_proceeds_total: Decimal | None
    landed_cost_total: Decimal | None
    profit_total: Decimal | None
    sample: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status == OK


def _decimal(raw: object, name: str, *, allow_none: bool = False) -> Decimal | None:
    if raw is None and allow_none:
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise DomainError(
            f"{name} {raw!r} is not a number.", code=f"invalid_{name}", extra={name: str(raw)}
        ) from None
    if not value.is_finite() or value < 0:
        raise DomainError(f"{name} must be 0 or more.", code=f"invalid_{name}", extra={name: str(raw)})
    return value


def weight_kg(record: ProductRecord | None) -> Decimal | None:
    """The record's package weight (else item weight) in kg; None when it has none."""
    if record is None:
        return None
    for dimensions in (record.package_dimensions, record.item_dimensions):
        weight: Measurement | None = dimensions.weight if dimensions is not None else None
        if weight is not None and weight.unit in _GRAMS and weight.value > 0:
            return weight.value * _GRAMS[weight.unit] / 1000
    return None


def sale_price_of(record: ProductRecord | None) -> tuple[Decimal | None, str]:
    """The landed buy box price, else the record's current (landed) price, and which it was. A
    price of 0 or less is no price (as a list price of 0 is): nothing can be sold at it, and fees
    cannot be estimated at it."""
    if record is None:
        return None, ""
    if record.buy_box is not None and record.buy_box.landed_price.amount > 0:
        return record.buy_box.landed_price.amount, "buy_box"
    if record.price is not None and record.price.amount > 0:
        return record.price.amount, "price"
    return None, ""


def _vat_part(gross: Decimal, rate: Decimal | None, currency: str) -> Decimal:
    """The VAT contained in a VAT-inclusive ``gross`` amount at ``rate`` percent."""
    if rate is None:
        return round_money(Decimal(0), currency)
    return round_money(gross * rate / (100 + rate), currency)


def _percent(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator <= 0:
        return None
    return (numerator * 100 / denominator).quantize(_PERCENT, rounding=ROUND_HALF_UP)


def _round_down(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)), rounding=ROUND_DOWN)


def profit_calculate(
    *,
    marketplace: str | Marketplace,
    record: ProductRecord | None,
    fees: FeeQuote | None,
    cost: Decimal | str | int,
    quantity: int = 1,
    costs: ResaleCosts | None = None,
    asin: str = "",
) -> ProfitResult:
    """Profit of buying ``quantity`` units of ``record``'s product at ``cost`` each (in the
    marketplace's currency) and selling them at its buy box, after ``fees`` and ``costs``.

    ``record`` None (product not known) or without a price: status ``no_price``; ``fees`` None
    or unavailable: ``fees_unavailable``. Raises ``DomainError`` (400) for a negative or
    non-numeric cost or cost, or a quantity outside 1..1,000,000."""
    market = marketplace if isinstance(marketplace, Marketplace) else marketplace_get(marketplace)
    currency = market.currency
    costs = costs or ResaleCosts()
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise DomainError(
            f"quantity must be a whole number from 1 to {MAX_QUANTITY:,}.",
            code="invalid_quantity",
            extra={"quantity": str(quantity)},
        )
    buy_cost = round_money(_decimal(cost, "cost") or Decimal(0), currency)
    inbound_per_unit = _decimal(costs.inbound_per_unit, "inbound_per_unit") or Decimal(0)
    inbound_per_kg = _decimal(costs.inbound_per_kg, "inbound_per_kg") or Decimal(0)
    prep_per_unit = _decimal(costs.prep_per_unit, "prep_per_unit") or Decimal(0)
    target = _decimal(costs.target_roi_percent, "target_roi_percent", allow_none=True)
    sale_price, source = sale_price_of(record)
    asin = record.asin if record is not None else asin
    vat_rate = VAT_RATES.get(market.code) if costs.vat_registered else None

    def result(status: str, **amounts: object) -> ProfitResult:
        values: dict[str, object] = dict.fromkeys(_COMPUTED)
        values.update(amounts)
        return ProfitResult(
            status=status,
            asin=asin,
            marketplace=market.code,
            currency=currency,
            quantity=quantity,
            buy_cost=buy_cost,
            sale_price=round_money(sale_price, currency) if sale_price is not None else None,
            sale_price_source=source,
            fees=fees,
            vat_rate=vat_rate,
            target_roi_percent=target,
            sample=bool(record is not None and record.sample_data) or bool(fees is not None and fees.sample),
            **values,  # type: ignore[arg-type]
        )

    if sale_price is None:
        return result(NO_PRICE, notes=("No buy box or current price: nothing to sell at.",))
    if fees is None or not fees.available or fees.total is None:
        reason = fees.reason if fees is not None else "no fee estimate"
        return result(FEES_UNAVAILABLE, notes=(f"Fees unavailable: {reason}",))

    notes: list[str] = []
    sale = round_money(sale_price, currency)
    fees_total = round_money(fees.total, currency)
    kg = weight_kg(record)
    inbound_gross = inbound_per_unit
    if inbound_per_kg:
        if kg is None:
            notes.append("No weight on the product record: inbound shipping per kg is left out.")
        else:
            inbound_gross += inbound_per_kg * kg
    inbound_gross = round_money(inbound_gross, currency)
    prep_gross = round_money(prep_per_unit, currency)

    output_vat = _vat_part(sale, vat_rate, currency)
    fees_vat = _vat_part(fees_total, vat_rate, currency)
    net_proceeds = sale - output_vat - (fees_total - fees_vat)
    cost_vat = _vat_part(buy_cost, vat_rate, currency)
    inbound_vat = _vat_part(inbound_gross, vat_rate, currency)
    prep_vat = _vat_part(prep_gross, vat_rate, currency)
    input_vat = cost_vat + inbound_vat + prep_vat
    other_net = (inbound_gross - inbound_vat) + (prep_gross - prep_vat)
    landed_cost = (buy_cost - cost_vat) + other_net
    profit = net_proceeds - landed_cost

    gross_up = (100 + vat_rate) / 100 if vat_rate is not None else Decimal(1)
    break_even = _round_down(max(Decimal(0), (net_proceeds - other_net) * gross_up), currency)
    max_for_target = None
    if target is not None:
        most = (net_proceeds / (1 + target / 100) - other_net) * gross_up
        max_for_target = _round_down(max(Decimal(0), most), currency)

    return result(
        OK,
        fees_total=fees_total,
        output_vat=output_vat,
        fees_vat_reclaimed=fees_vat,
        net_proceeds=net_proceeds,
        inbound=inbound_gross,
        prep=prep_gross,
        input_vat_reclaimed=input_vat,
        landed_cost=landed_cost,
        profit=profit,
        margin_percent=_percent(profit, sale - output_vat),
        roi_percent=_percent(profit, landed_cost),
        break_even_cost=break_even,
        max_cost_for_target_roi=max_for_target,
        net_proceeds_total=net_proceeds * quantity,
        landed_cost_total=landed_cost * quantity,
        profit_total=profit * quantity,
        notes=tuple(notes),
    )
