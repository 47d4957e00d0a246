"""What products adds to the landing page (its lookups' prices) and the dashboard's checklist."""

from __future__ import annotations

from accounts.dashboard import register_checklist_step
from accounts.landing import ActionPrice, register_action_price
from accounts.models import User
from credits.models import Operation
from credits.selectors import price_get
from products import selectors


def _asin_lookup_price() -> int:
    return price_get(operation=Operation.ASIN_LOOKUP)


def _code_lookup_price() -> int:
    return price_get(operation=Operation.CODE_LOOKUP)


def _has_looked_up(user: User) -> bool:
    return selectors.has_looked_up(user=user)


def register() -> None:
    register_action_price(
        ActionPrice(
            key="asin_lookup",
            label="ASIN lookup",
            detail="Title, brand, price and buy box, sales rank, reviews and dimensions of one product.",
            credits=_asin_lookup_price,
            order=10,
        )
    )
    register_action_price(
        ActionPrice(
            key="code_lookup",
            label="Barcode lookup",
            detail="The products behind one EAN, UPC or ISBN, scanned with your phone's camera.",
            credits=_code_lookup_price,
            order=20,
        )
    )
    register_checklist_step(
        key="first_lookup",
        title="Make your first lookup",
        text="Look up an ASIN or a barcode, or convert an FNSKU label.",
        url_name="product-lookup-page",
        order=20,
        done=_has_looked_up,
    )
