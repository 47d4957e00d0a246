"""What accounts adds to the dashboard's first-run checklist (steps other apps add are theirs)."""

from __future__ import annotations

from accounts import selectors
from accounts.dashboard import register_checklist_step
from accounts.models import User


def _email_verified(user: User) -> bool:
    return selectors.email_verified(user=user)


def _api_key_created(user: User) -> bool:
    return selectors.api_key_created(user=user)


def register_checklist_steps() -> None:
    register_checklist_step(
        key="verify_email",
        title="Verify your email address",
        text="Confirm the link we emailed you, so receipts and alerts reach you.",
        url_name="account_email",
        order=10,
        done=_email_verified,
    )
    register_checklist_step(
        key="api_key",
        title="Create an API key",
        text="For scripts, spreadsheets and your own tools.",
        url_name="api-keys",
        order=30,
        done=_api_key_created,
    )
