"""Domain errors of the credits app, in the platform's one error shape (config/errors.py)."""

from __future__ import annotations

from config.errors import DomainError


class InsufficientCredits(DomainError):
    """The balance does not pay for the operation; nothing was charged.

    The API answers 402 with ``{"error": {"code": "insufficient_credits",
    "message": ..., "detail": {"balance": ..., "price": ..., "operation": ...}}}``.
    """

    status_code = 402
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


class UnknownOperation(DomainError):
    status_code = 503
    code = "operation_not_priced"
    default_message = "This operation has no price; it is not available."


class IdempotencyKeyReused(DomainError):
    status_code = 409
    code = "idempotency_key_reused"
    default_message = "This idempotency key was already used for a different request."
