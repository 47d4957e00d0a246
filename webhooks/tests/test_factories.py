"""The webhooks factory stores the secret encrypted, as the service does."""

import pytest

from webhooks import crypto
from webhooks.tests.factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def test_the_secret_is_stored_encrypted():
    endpoint = WebhookEndpointFactory(secret="whsec_chosen")
    other = WebhookEndpointFactory()

    assert "whsec_chosen" not in endpoint.secret_encrypted
    assert crypto.secret_decrypt(endpoint.secret_encrypted) == "whsec_chosen"
    assert crypto.secret_decrypt(other.secret_encrypted) != "whsec_chosen"
