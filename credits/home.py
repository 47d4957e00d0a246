"""What credits adds to the landing page (the signup bonus) and the dashboard's checklist."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.dashboard import register_checklist_step
from accounts.landing import register_landing_context
from accounts.models import User
from credits import selectors


def landing_free_credits(request: HttpRequest) -> dict[str, Any]:
    return {"signup_free_credits": settings.SIGNUP_FREE_CREDITS}


def _credits_text() -> str:
    free = settings.SIGNUP_FREE_CREDITS
    if free:
        return f"Your account came with {free:,} free credits: use them, or buy a pack when you need more."
    return "Buy a pack of credits to pay for lookups."


def _credits_put_to_use(user: User) -> bool:
    return selectors.credits_put_to_use(user=user)


def register() -> None:
    register_landing_context(landing_free_credits)
    register_checklist_step(
        key="credits",
        title="Use your free credits or buy more",
        text=_credits_text,
        url_name="credits",
        order=40,
        done=_credits_put_to_use,
    )
