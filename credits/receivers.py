"""What credits does when accounts tells it something (accounts imports no app above it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import User
from credits.services import credits_account_open


def open_credit_account(sender: Any, *, user: User, **kwargs: Any) -> None:
    """``accounts.signals.user_created``: the new user's credit account, with the signup bonus."""
    credits_account_open(user=user)


def dashboard_credit_account(request: HttpRequest) -> dict[str, Any]:
    """The dashboard's balance card (``accounts.dashboard``)."""
    return {"credit_account": credits_account_open(user=request.user)}  # type: ignore[arg-type]
