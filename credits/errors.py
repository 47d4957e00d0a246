"""Domain errors of the credits app, in the platform's one error shape (core/errors.py)."""

from __future__ import annotations

from core.errors import ConflictError, PaymentRequiredError, UnavailableError


class InsufficientCredits(PaymentRequiredError):
    """The balance does not pay for the operation; nothing was charged.

    The API answers 402 with ``{"error": {"code": "insufficient_credits",
    "message": ..., "detail": {"balance": ..., "price": ..., "operation": ...}}}``.
    """

    code = "insufficient_credits"
    default_message = "Insufficient credits."

    def __init__(self, *, balance: int, price: int, operation: str = "") -> None:
        super().__init__(
            f"Insufficient credits: this costs {price} and your balance is {balance}.",
            extra={"balance": balance, "price": price, "operation": operation},
        )
        self.balance = balance
        self.price = price
        self.operation = operation


class UnknownOperation(UnavailableError):
    code = "operation_not_priced"
    default_message = "This operation has no price; it is not available."


class IdempotencyKeyReused(ConflictError):
    code = "idempotency_key_reused"
    default_message = "This idempotency key was already used for a different request."
