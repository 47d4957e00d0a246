"""A manifest line's money: the resale helpers (resale/fees.py, resale/profit.py) applied to a line.

Fees for a chunk's products are asked for in one call (``fees_get_many``: cached quotes, then the
fee chain in the upstream's batch sizes), at each product's sale price (the landed buy box, else
its landed price: ``sale_price_of``). The profit of a line is ``profit_calculate`` for its units at
the line's share of the lot price per unit (its allocated cost / its quantity; rounded to the cent
per unit by profit_calculate, so a line's profit may differ from "net - allocated cost" by at most
half a cent per unit), with the user's saved defaults (inbound shipping, prep, VAT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from products.marketplaces import Marketplace
from products.providers.base import ProductRecord
from resale.fees import FeeQuote, fees_get_many
from resale.profit import ProfitResult, profit_calculate, sale_price_of
from resale.selectors import resale_defaults_of

if TYPE_CHECKING:
    from resale.models import ManifestLine


@dataclass(frozen=True, slots=True)
class LineEconomics:
    status: str  # priced, no_price or fees_unavailable (ManifestLine.Status)
    currency: str
    sale_price: Decimal | None = None
    fees_unit: Decimal | None = None
    net_unit: Decimal | None = None
    resale_value: Decimal | None = None
    fees_total: Decimal | None = None
    net_total: Decimal | None = None
    profit: Decimal | None = None
    roi: Decimal | None = None  # percent
    fees_source: str = ""
    sample: bool = False
    reason: str = ""
    # Fees not asked now (``FeeQuote.retry_after``): ask again after this many seconds.
    retry_after: float | None = None

    @property
    def fees_unavailable(self) -> bool:
        return self.status == "fees_unavailable"


def line_economics_many(
    *, user_id: int, marketplace: Marketplace, lines: Sequence[tuple[ManifestLine, Mapping[str, Any]]]
) -> dict[int, LineEconomics]:
    """Each line's figures, by its line number, from its product's record (as stored JSON)."""
    # The price and fee histories play no part in a line's money, and reading them back was a third
    # of a chunk's own time (bench/manifest.py).
    records = [(line, ProductRecord.from_dict({**data, "history": ()})) for line, data in lines]
    wanted = [(record.asin, sale_price_of(record)[0]) for _, record in records]
    quotes: dict[str, FeeQuote] = fees_get_many(marketplace=marketplace, items=wanted) if wanted else {}
    costs = resale_defaults_of(user_id=user_id)
    figures: dict[int, LineEconomics] = {}
    for line, record in records:
        quote = quotes.get(record.asin)
        result = profit_calculate(
            marketplace=marketplace,
            record=record,
            fees=quote,
            cost=line.allocated_cost / line.quantity,
            quantity=line.quantity,
            costs=costs,
        )
        figures[line.line] = _figures(result, quote, line.quantity, marketplace.currency)
    return figures


def _figures(result: ProfitResult, quote: FeeQuote | None, quantity: int, currency: str) -> LineEconomics:
    sample = bool(quote.sample) if quote is not None else False
    if result.status == "no_price":
        return LineEconomics(
            status="no_price", currency=currency, sample=sample, reason="no buy box or offer price"
        )
    if result.status == "fees_unavailable" or quote is None or not quote.available:
        reason = quote.reason if quote is not None else "no fee estimate"
        return LineEconomics(
            status="fees_unavailable",
            currency=currency,
            sale_price=result.sale_price,
            sample=sample,
            reason=reason,
            retry_after=quote.retry_after if quote is not None else None,
        )
    sale = result.sale_price
    return LineEconomics(
        status="priced",
        currency=currency,
        sale_price=sale,
        fees_unit=result.fees_total,
        net_unit=result.net_proceeds,
        resale_value=sale * quantity if sale is not None else None,
        fees_total=result.fees_total * quantity if result.fees_total is not None else None,
        net_total=result.net_proceeds_total,
        profit=result.profit_total,
        roi=result.roi_percent,
        fees_source=quote.source,
        sample=sample,
    )
