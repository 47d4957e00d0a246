"""What jobs adds to the landing page: the price of one item of a bulk ASIN job."""

from __future__ import annotations

from accounts.landing import ActionPrice, register_action_price
from credits.models import Operation
from credits.selectors import price_get


def _bulk_item_price() -> int:
    return price_get(operation=Operation.BULK_ITEM)


def register() -> None:
    register_action_price(
        ActionPrice(
            key="bulk_item",
            label="Bulk item",
            detail="One ASIN of a CSV upload or an API bulk job.",
            credits=_bulk_item_price,
            order=40,
        )
    )
