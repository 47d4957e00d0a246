"""What a metered endpoint needs from the credits app besides the charge itself.

A metered view charges with ``credits.services.credits_charge`` (which raises
``InsufficientCredits``, answered as 402 by the API exception handler, having
charged nothing), does its work, refunds with ``credits_refund`` if it
delivered nothing, and marks its response with the balance left::

    @extend_schema(responses={200: ProductSerializer, 402: INSUFFICIENT_CREDITS_RESPONSE})
    def get(self, request, asin):
        entry = credits_charge(user=request.user, operation=Operation.ASIN_LOOKUP,
                               idempotency_key=key, reference=asin)
        ...
        return credits_remaining_header(Response(data), balance=entry.balance_after)

Charge outside any ``transaction.atomic()`` block: on PostgreSQL the charge is
then one statement, one round trip.
"""

from __future__ import annotations

from typing import TypeVar

from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiResponse

from config.exception_handlers import ErrorSerializer

REMAINING_HEADER = "X-Credits-Remaining"

ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)

INSUFFICIENT_CREDITS_RESPONSE = OpenApiResponse(
    ErrorSerializer,
    description=(
        "Insufficient credits; nothing was charged. `error.code` is `insufficient_credits` and "
        "`error.detail` has the `balance`, the `price` and the `operation`."
    ),
)


def credits_remaining_header(response: ResponseT, *, balance: int) -> ResponseT:
    """Set ``X-Credits-Remaining`` on a served metered response."""
    response[REMAINING_HEADER] = str(balance)
    return response
