"""What watchlists adds to the landing page (a refresh's price) and the dashboard's checklist."""

from __future__ import annotations

from accounts.dashboard import register_checklist_step
from accounts.landing import ActionPrice, register_action_price
from accounts.models import User
from credits.selectors import price_get
from watchlists import selectors


def _refresh_price() -> int:
    return price_get(operation=selectors.REFRESH_OPERATION)


def _has_watchlist(user: User) -> bool:
    return selectors.has_watchlist(user=user)


def register() -> None:
    register_action_price(
        ActionPrice(
            key="watchlist_refresh",
            label="Watchlist refresh",
            detail="One watched product checked for price, buy box, rank and stock changes "
            "(hourly to weekly).",
            credits=_refresh_price,
            order=50,
        )
    )
    register_checklist_step(
        key="watchlist",
        title="Set up a watchlist",
        text="Get an alert when a product's price, buy box, rank or stock changes.",
        url_name="watchlists-page",
        order=50,
        done=_has_watchlist,
    )
