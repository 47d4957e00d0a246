"""What resale adds to the landing page: the profit calculation's price (one ASIN lookup's)."""

from __future__ import annotations

from accounts.landing import ActionPrice, register_action_price
from credits.models import Operation
from credits.selectors import price_get


def _profit_price() -> int:
    return price_get(operation=Operation.ASIN_LOOKUP)


def register() -> None:
    register_action_price(
        ActionPrice(
            key="product_profit",
            label="Profit calculation",
            detail="Amazon's fees, net proceeds, profit, ROI and the most to pay for one product at your "
            "cost. Priced as an ASIN lookup; free again for that product while its data is fresh.",
            credits=_profit_price,
            order=60,
        )
    )
