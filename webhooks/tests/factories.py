"""Factories of the webhooks app's rows."""

import factory

from accounts.tests.factories import UserFactory
from webhooks import crypto
from webhooks.models import WebhookEndpoint


class WebhookEndpointFactory(factory.django.DjangoModelFactory[WebhookEndpoint]):
    """An active endpoint of the user's for ``bulk_job.finished``.

    Its secret is encrypted as ``webhook_endpoint_create`` does it; pass ``secret="..."`` to
    choose it (a fresh one otherwise). The endpoint limit and the URL check are the service's:
    use ``services.webhook_endpoint_create`` where a test needs them."""

    class Meta:
        model = WebhookEndpoint

    class Params:
        secret = factory.LazyFunction(crypto.secret_generate)

    user = factory.SubFactory(UserFactory)
    url = factory.Sequence(lambda n: f"https://hooks.example.com/{n}")
    events = factory.LazyFunction(lambda: ["bulk_job.finished"])
    secret_encrypted = factory.LazyAttribute(lambda e: crypto.secret_encrypt(e.secret))
