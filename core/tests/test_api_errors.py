"""The API layer's table from kinds of domain error to HTTP statuses and headers."""

from __future__ import annotations

import pytest

from core import errors
from core.api_errors import ERROR_STATUS, error_headers, http_status
from core.errors import DomainError, NotFoundError, UnavailableError


def test_every_kind_in_core_errors_has_a_status():
    kinds = {
        value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, DomainError)
    }
    assert kinds == set(ERROR_STATUS)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DomainError("x"), 400),
        (NotFoundError(), 404),
        (errors.ConflictError(), 409),
        (errors.PaymentRequiredError(), 402),
        (errors.UpstreamError(), 502),
    ],
)
def test_status_of_each_kind(error, status):
    assert http_status(error) == status


def test_a_subclass_answers_as_its_nearest_kind():
    class Mixed(DomainError):
        pass

    class Down(Mixed, UnavailableError):
        code = "down"

    assert http_status(Mixed()) == 400
    assert http_status(Down()) == 503


def test_headers_come_from_the_facts_an_error_carries():
    assert error_headers(DomainError()) == {}
    error = NotFoundError(retry_after=0.2, credits_remaining=7, replayed=True)
    assert error_headers(error) == {
        "Retry-After": "1",
        "X-Credits-Remaining": "7",
        "Idempotent-Replayed": "true",
    }
    assert error_headers(DomainError(retry_after=29.1)) == {"Retry-After": "30"}
