"""The landing page (accounts.views.home for visitors) shows what other apps add to it.

Accounts sits low in the layers, so the pricing comes from the apps that own it, each
registering from its ``AppConfig.ready()``: a metered action's price in credits
(``register_action_price``, read at request time from the ledger's prices) and any other
template context (``register_landing_context``: billing's packs, credits' signup bonus).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

LandingContext = Callable[[HttpRequest], dict[str, Any]]


@dataclass(frozen=True)
class ActionPrice:
    """One line of the landing page's "what each action costs" table."""

    key: str
    label: str
    detail: str
    credits: Callable[[], int]
    order: int = 100


@dataclass(frozen=True)
class PricedAction:
    key: str
    label: str
    detail: str
    credits: int


_providers: list[LandingContext] = []
_actions: dict[str, ActionPrice] = {}


def register_landing_context(provider: LandingContext) -> LandingContext:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def register_action_price(action: ActionPrice) -> ActionPrice:
    """Add (or, under the same key, replace) a priced action."""
    _actions[action.key] = action
    return action


def action_prices() -> list[PricedAction]:
    """The registered actions with their current prices, in their order."""
    return [
        PricedAction(key=a.key, label=a.label, detail=a.detail, credits=a.credits())
        for a in sorted(_actions.values(), key=lambda a: (a.order, a.key))
    ]


def landing_context(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = {"action_prices": action_prices()}
    for provider in _providers:
        context.update(provider(request))
    return context
