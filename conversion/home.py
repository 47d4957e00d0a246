"""What conversion adds to the landing page (a conversion's price) and the dashboard's checklist
(a conversion completes the first-lookup step)."""

from __future__ import annotations

from accounts.dashboard import register_checklist_done
from accounts.landing import ActionPrice, register_action_price
from accounts.models import User
from conversion import selectors
from conversion.convert import CONVERSION_OPERATION
from credits.selectors import price_get


def _conversion_price() -> int:
    return price_get(operation=CONVERSION_OPERATION)


def _has_converted(user: User) -> bool:
    return selectors.has_converted(user=user)


def register() -> None:
    register_action_price(
        ActionPrice(
            key="fnsku_conversion",
            label="FNSKU conversion",
            detail="The ASIN behind an FNSKU label from returns or liquidation stock, with a confidence "
            "score. Each FNSKU of a bulk job costs the same.",
            credits=_conversion_price,
            order=30,
        )
    )
    register_checklist_done(key="first_lookup", done=_has_converted)
