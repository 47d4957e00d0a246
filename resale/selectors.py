"""Reads of the resale app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from resale.models import ResaleDefaults
from resale.profit import ResaleCosts

if TYPE_CHECKING:
    from accounts.models import User


def resale_defaults_get(*, user: User) -> ResaleCosts:
    """The user's saved defaults, or the empty ones (no costs, not VAT-registered, no target)."""
    return resale_defaults_of(user_id=user.pk)


def resale_defaults_of(*, user_id: int) -> ResaleCosts:
    """``resale_defaults_get`` by the user's id (a worker's job knows only that)."""
    row = ResaleDefaults.objects.filter(user_id=user_id).first()
    if row is None:
        return ResaleCosts()
    return ResaleCosts(
        inbound_per_unit=row.inbound_per_unit,
        inbound_per_kg=row.inbound_per_kg,
        prep_per_unit=row.prep_per_unit,
        vat_registered=row.vat_registered,
        target_roi_percent=row.target_roi_percent,
    )
