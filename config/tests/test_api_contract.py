"""The API against its own OpenAPI schema, with schemathesis.

Every operation the platform documents at ``/api/schema/`` (new ones are
picked up with no change here: one test per operation) is called in-process
through the WSGI app with a real API key of a user who has credits. Each
response must be no 5xx, have a documented status code, content type and
headers, and a body that matches the documented schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck
from schemathesis import Case

from accounts.models import ApiKeyScope
from accounts.tests.factories import api_key_for
from billing.checkout import pack_checkout_start
from billing.tests.factories import CreditPackFactory
from conversion.convert import fnsku_convert
from credits.tests.factories import funded_user
from jobs.tests.bulk_helpers import asins, create_job

pytestmark = [pytest.mark.django_db]

# Few examples per operation, the same ones every run: bounded in time and
# not flaky, yet each operation sees valid, boundary and invalid inputs.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": 3, "deterministic": True, "mode": "all"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # The contract checked is the answer's: no 5xx, documented status codes, content types,
            # headers and bodies, and no access without a key. How strict the inputs are is left to
            # each API's own tests: the schema does not spell out every domain rule (an ASIN's
            # check digits, a non-empty list) and DRF coerces some types (a number as a name).
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"enabled": False},
        },
    }
)

# Loaded while the tests are collected, from the schema endpoint itself; that
# request needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler(), config=CONFIG)


@pytest.fixture(autouse=True)
def _requests_share_the_test_connection() -> Iterator[None]:
    """The app is called in this thread, inside the test's transaction: as in
    Django's test client, a request must not close that connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _configured_integrations(settings: Any) -> None:
    # A deployment with its integrations configured: an unsigned Stripe delivery is then a
    # documented 400, and a Seller Central connection can be stored (not the 503s of a
    # deployment without them).
    settings.STRIPE_WEBHOOK_SECRET = "whsec_contract_test"
    settings.SPAPI_CLIENT_ID = "amzn1.application-oa2-client.contract"
    settings.SPAPI_CLIENT_SECRET = "contract-test-secret"


@dataclass(frozen=True)
class Caller:
    headers: dict[str, str]
    # Ids of the caller's own resources, by path parameter name: the success answers of
    # operations on one resource are checked too, not only their 404s.
    own_ids: dict[str, object]


@pytest.fixture
def caller(settings: Any) -> Caller:
    """A user with credits, a real API key, and one of each resource an operation can address."""
    # One user per operation: a slow password hash would cost more than the operation's calls.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = funded_user(credits=10_000)
    # Every scope, so the key operations answer with their success bodies too.
    _, raw_key = api_key_for(user, scopes=ApiKeyScope.values)
    other_key, _ = api_key_for(user, name="Another key")
    checkout = pack_checkout_start(
        user=user,
        pack_id=CreditPackFactory().pk,
        success_url="http://testserver/billing/success/",
        cancel_url="http://testserver/billing/",
    )
    return Caller(
        headers={"Authorization": f"Bearer {raw_key}"},
        own_ids={
            "key_id": other_key.pk,
            "job_id": create_job(user, asins(3)).pk,
            "conversion_id": fnsku_convert(user=user, fnsku="B07N4M94X4").conversion.pk,
            "session_id": checkout.session_id,
        },
    )


@schema.parametrize()
# One user and key per operation, shared by its examples: that is the point.
@hypothesis.settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_every_operation_keeps_its_contract(case: Case, caller: Caller) -> None:
    for name in case.path_parameters or {}:
        if name in caller.own_ids:
            case.path_parameters[name] = caller.own_ids[name]
    case.call_and_validate(headers=caller.headers)
