"""Every URL that names an object answers 404 to anyone but its owner, generated from the URL conf.

The walk finds every route with a parameter that identifies an object. Each
must have a factory in ``OWNED`` (which creates the object for user A and
returns the route's parameters) or a reason in ``EXEMPT``; a new route with
neither fails ``test_every_object_route_is_covered`` with its name, so a new
endpoint cannot be forgotten. User B then calls it with every method the view
allows (an API key for the API, a session for pages) and must get 404, and
user A must not, so a factory that creates the wrong thing cannot pass.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKeyScope, User
from accounts.tests.factories import PASSWORD, UserFactory, api_key_for
from billing.models import Payment
from billing.tests.factories import PaymentFactory, paid_payment
from conversion.models import Conversion
from conversion.tests.factories import ConversionFactory
from jobs.tests.bulk_helpers import asins, create_job

# Route parameters that select a representation, not an object.
NON_IDENTIFYING = frozenset({"fmt"})
METHODS = ("get", "post", "put", "patch", "delete")
# A factory may also return the body to send (under this key) besides the route's parameters.
BODY = "_body"


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    parameters: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")


def _parameters(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return list(converters)
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def _walk(
    patterns: list[Any], prefix: str = "", namespace: str = "", params: tuple[str, ...] = ()
) -> Iterator[Route]:
    for entry in patterns:
        entry_params = (*params, *_parameters(entry.pattern))
        if isinstance(entry, URLResolver):
            inner = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else (entry.namespace or namespace)
            )
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner or "", entry_params)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace else (entry.name or "")
            yield Route(
                name=name or prefix + str(entry.pattern),
                route=prefix + str(entry.pattern),
                parameters=entry_params,
            )


def object_routes() -> list[Route]:
    routes = {}
    for route in _walk(get_resolver().url_patterns):
        if set(route.parameters) - NON_IDENTIFYING:
            routes.setdefault(route.name, route)
    return sorted(routes.values(), key=lambda r: r.name)


_names = itertools.count(1)


# --- What user A owns, per route: a factory returning the route's parameters ------------------


def _bulk_job(user: User) -> dict[str, Any]:
    return {"job_id": create_job(user, asins(2)).pk}


def _bulk_job_results(user: User) -> dict[str, Any]:
    return {**_bulk_job(user), "fmt": "csv"}


def _api_key(user: User) -> dict[str, Any]:
    key, _ = api_key_for(user, name="A's key")
    return {"key_id": key.pk}


def _conversion(user: User) -> dict[str, Any]:
    conversion = ConversionFactory(
        user=user,
        fnsku="X001ABCDEF",
        status=Conversion.Status.RESOLVED,
        asin="B08N5WRWNW",
        confidence=0.99,
    )
    # A valid body: refusing someone else's conversion must not depend on invalid input.
    return {"conversion_id": conversion.pk, BODY: {"asin": "B08N5WRWNW"}}


def _stripe_payment(user: User) -> dict[str, Any]:
    return {"session_id": PaymentFactory(user=user).checkout_session_id}


def _sandbox_payment(user: User) -> dict[str, Any]:
    payment = PaymentFactory(
        user=user,
        provider=Payment.Provider.SANDBOX,
        checkout_session_id=f"cs_sandbox_owned_by_a_{next(_names)}",
    )
    return {"session_id": payment.checkout_session_id}


def _paid_payment(user: User) -> dict[str, Any]:
    return {"reference": paid_payment(user=user).reference}


def _collection(user: User) -> dict[str, Any]:
    from jobs.tests.factories import CollectionFactory

    collection = CollectionFactory(user=user, name=f"A's list {next(_names)}", items=asins(2))
    return {"collection_id": collection.pk}


def _collection_run_results(user: User) -> dict[str, Any]:
    from jobs.models import Collection, CollectionRun
    from jobs.tests.factories import CollectionRunFactory

    params = _collection(user)
    run = CollectionRunFactory(
        collection=Collection.objects.get(pk=params["collection_id"]),
        slot=timezone.now() - dt.timedelta(hours=1),
        status=CollectionRun.Status.STARTED,
        items=2,
        cost=2,
        job=create_job(user, asins(2)),
    )
    return {**params, "run_id": run.pk, "fmt": "csv"}


def _watchlist(user: User) -> dict[str, Any]:
    from watchlists import services

    return {"watchlist_id": services.watchlist_create(user=user, name=f"A's deals {next(_names)}").pk}


def _watch_item(user: User) -> dict[str, Any]:
    from watchlists import services
    from watchlists.models import Watchlist

    params = _watchlist(user)
    watchlist = Watchlist.objects.get(pk=params["watchlist_id"])
    item = services.watch_item_add(watchlist=watchlist, asin="B08N5WRWNW", marketplace="US")
    return {**params, "item_id": item.pk}


def _webhook_endpoint(user: User) -> dict[str, Any]:
    from webhooks.tests.factories import WebhookEndpointFactory

    endpoint = WebhookEndpointFactory(
        user=user, url="https://hooks.example.com/a", events=["bulk_job.finished"]
    )
    return {"endpoint_id": endpoint.pk}


def _webhook_delivery(user: User) -> dict[str, Any]:
    from webhooks import services

    endpoint_id = _webhook_endpoint(user)["endpoint_id"]
    return {"delivery_id": services.webhook_endpoint_ping(user=user, endpoint_id=endpoint_id).pk}


def _manifest(user: User) -> dict[str, Any]:
    from resale.manifests import manifest_create

    data = b"ASIN,Quantity\nB08N5WRWNW,2\n"
    manifest = manifest_create(
        user=user, file=io.BytesIO(data), size=len(data), filename="a.csv", lot_price="10.00"
    )
    return {"manifest_id": manifest.pk, "fmt": "csv"}


OWNED: dict[str, Callable[[User], dict[str, Any]]] = {
    # Bulk jobs
    "api:bulk-job": _bulk_job,
    "api:bulk-job-cancel": _bulk_job,
    "api:bulk-job-retry": _bulk_job,
    "api:bulk-job-results": _bulk_job,
    "bulk-job-page": _bulk_job,
    "bulk-job-progress": _bulk_job,
    "bulk-job-items": _bulk_job,
    "bulk-job-cancel-page": _bulk_job,
    "bulk-job-retry-page": _bulk_job,
    "bulk-job-results-page": _bulk_job_results,
    # API keys
    "api:key-detail": _api_key,
    "api-key-revoke": _api_key,
    # Conversions
    "api:conversion-detail": _conversion,
    "api:conversion-feedback": _conversion,
    "convert-feedback": _conversion,
    # Payments
    "api:payments-checkout-detail": _stripe_payment,
    "billing-sandbox": _sandbox_payment,
    "billing-sandbox-cancel": _sandbox_payment,
    "billing-receipt": _paid_payment,
    # Scheduled collections
    "api:collection": _collection,
    "api:collection-run": _collection,
    "api:collection-runs": _collection,
    "api:collection-run-results": _collection_run_results,
    "collection-page": _collection,
    "collection-edit-page": _collection,
    "collection-delete-page": _collection,
    "collection-run-page": _collection,
    "collection-run-results-page": _collection_run_results,
    # Watchlists
    "api:watchlist": _watchlist,
    "api:watchlist-import": _watchlist,
    "api:watchlist-items": _watchlist,
    "api:watchlist-item": _watch_item,
    "api:watchlist-item-snapshots": _watch_item,
    "watchlist-page": _watchlist,
    "watchlist-edit-page": _watchlist,
    "watchlist-delete-page": _watchlist,
    "watchlist-import-page": _watchlist,
    "watch-item-add-page": _watchlist,
    "watch-item-page": _watch_item,
    "watch-item-delete-page": _watch_item,
    # Webhooks
    "api:webhook-detail": _webhook_endpoint,
    "api:webhook-ping": _webhook_endpoint,
    "api:webhook-rotate": _webhook_endpoint,
    "api:webhook-delivery-detail": _webhook_delivery,
    "api:webhook-delivery-replay": _webhook_delivery,
    "webhook-endpoint": _webhook_endpoint,
    "webhook-endpoint-delete": _webhook_endpoint,
    "webhook-endpoint-ping": _webhook_endpoint,
    "webhook-endpoint-rotate": _webhook_endpoint,
    "webhook-delivery": _webhook_delivery,
    "webhook-delivery-replay": _webhook_delivery,
    # Manifests
    "api:manifest": _manifest,
    "api:manifest-start": _manifest,
    "api:manifest-lines": _manifest,
    "api:manifest-export": _manifest,
    "manifest-page": _manifest,
    "manifest-summary": _manifest,
    "manifest-start-page": _manifest,
    "manifest-delete-page": _manifest,
    "manifest-export-page": _manifest,
}

EXEMPT: dict[str, str] = {
    "billing-buy": "credit packs are the public price list, not owned by anyone",
    "account_confirm_email": "allauth: the key in the emailed link is the credential",
    "account_reset_password_from_key": "allauth: the key in the emailed link is the credential",
    "webhook-trial-receive": "development only; the signed token in the URL is the credential, and "
    "each user's page shows only the deliveries posted to their own token",
}
# The admin is for operators, who see every user's data by design.
EXEMPT_PREFIXES = ("admin/",)


def _is_exempt(route: Route) -> bool:
    return route.name in EXEMPT or route.route.startswith(EXEMPT_PREFIXES)


def test_every_object_route_is_covered():
    missing = [f"{r.name} ({r.route})" for r in object_routes() if r.name not in OWNED and not _is_exempt(r)]
    assert not missing, (
        "Routes naming an object with no ownership factory in config/tests/test_ownership.py OWNED "
        f"(or a reason in EXEMPT): {missing}"
    )


def test_the_registry_names_only_real_routes():
    names = {r.name for r in object_routes()}
    assert not set(OWNED) - names
    assert not set(EXEMPT) - names


def _client_for(user: User, *, api: bool) -> Client:
    if api:
        client = APIClient()
        # Every scope, so that only ownership decides (a key without keys:manage is refused
        # the key routes with 403 before any lookup).
        _, raw = api_key_for(user, name="ownership test", scopes=ApiKeyScope.values)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def _call(client: Client, method: str, path: str, body: dict[str, Any], *, api: bool) -> Any:
    if method in ("get", "delete"):
        return getattr(client, method)(path)
    if api or method != "post":
        return getattr(client, method)(path, data=body, content_type="application/json")
    return client.post(path, data=body)  # a form


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in object_routes() if r.name in OWNED], ids=lambda r: r.name)
def test_someone_elses_object_is_not_found(route: Route, settings):
    settings.API_RATE_FREE = settings.API_RATE_METERED = "1000/min"
    settings.API_RATE_USER_FREE = settings.API_RATE_USER_METERED = "1000/min"
    owner, stranger = UserFactory(), UserFactory()
    params = OWNED[route.name](owner)
    body = params.pop(BODY, {})
    path = reverse(route.name, kwargs={k: v for k, v in params.items() if k in route.parameters})

    stranger_client = _client_for(stranger, api=route.is_api)
    answered = {}
    for method in METHODS:
        response = _call(stranger_client, method, path, body, api=route.is_api)
        if response.status_code != 405:
            answered[method] = response.status_code
    assert answered, f"{route.name}: no method allowed"
    assert set(answered.values()) == {404}, f"{route.name} as another user: {answered}"

    # The owner is answered (by the first method the view allows), so the object was the right one.
    owner_client = _client_for(owner, api=route.is_api)
    first_method = next(m for m in METHODS if m in answered)
    owner_status = _call(owner_client, first_method, path, body, api=route.is_api).status_code
    assert owner_status != 404, f"{route.name}: the owner's {first_method.upper()} is 404 too"


def test_the_walk_sees_parameters_of_regex_and_nested_routes():
    names = {r.name: r for r in object_routes()}
    assert names["api:bulk-job"].parameters == ("job_id",)
    assert set(names["account_reset_password_from_key"].parameters) == {"uidb36", "key"}
    assert re.search(r"<int:job_id>", names["bulk-job-page"].route)
