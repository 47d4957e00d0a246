"""A seller's FBA inventory through SP-API FBA Inventory v1 ``getInventorySummaries``.

An upstream wire format like the product providers' (it lives with them, so nothing
outside ``products/providers/`` decodes an SP-API answer); the FNSKU conversion's
FBA sync (conversion/sources.py) reads a seller's summaries through ``inventory_pages``.

The wire format is in ../shared/reference/sp-api/fbaInventory.json: GET
/fba/inventory/v1/summaries with ``granularityType=Marketplace``,
``granularityId`` and ``marketplaceIds`` (the marketplace id), optionally
``startDateTime`` (only summaries changed since) and ``nextToken`` (the next
page; it expires 30 seconds after it was issued, so a sync reads its pages in
one go). Each ``payload.inventorySummaries[]`` item has ``fnSku``, ``asin``,
``sellerSku``, ``productName`` and ``lastUpdatedTime``; ``pagination.nextToken``
is absent on the last page.

Usage plan: 2 requests/s, burst 2, per selling partner, so each seller has a
rate-limit bucket of their own (``spapi.fba_inventory.<seller id>``), shared by
every process. Login with Amazon, the pooled HTTP session, retries and backoff
are the product provider's (products/providers/spapi.py, http.py): the seller's
refresh token with the platform application's client id and secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from core.ratelimit import TokenBucket
from products import conf as products_conf
from products.conf import FBA_INVENTORY_RATE, SpApiSettings
from products.marketplaces import Marketplace
from products.providers import ProviderNotConfigured, UpstreamBadResponse
from products.providers.base import decoding
from products.providers.http import UpstreamClient, json_body, rate_limit_refusals
from products.providers.spapi import lwa_access_token

logger = logging.getLogger(__name__)

SUMMARIES_PATH = "/fba/inventory/v1/summaries"
PROVIDER = "spapi"
LABEL = "Amazon SP-API FBA Inventory"


@dataclass(frozen=True, slots=True)
class InventoryItem:
    fnsku: str
    asin: str
    seller_sku: str
    product_name: str
    last_updated: datetime | None


@dataclass(frozen=True, slots=True)
class InventoryPage:
    items: list[InventoryItem]
    has_more: bool


class _SellerClient(UpstreamClient):
    """The provider's HTTP client, with the rate limit of one seller's usage plan."""

    def __init__(self, selling_partner_id: str) -> None:
        super().__init__(PROVIDER, LABEL)
        self.bucket = f"spapi.fba_inventory.{selling_partner_id}"

    def _take_rate_limit(self, bucket: str, tokens: float, operation: str) -> None:
        with rate_limit_refusals(provider=PROVIDER, label=LABEL, bucket=self.bucket, operation=operation):
            TokenBucket(self.bucket, FBA_INVENTORY_RATE).acquire(
                tokens, max_wait=products_conf.rate_limit_max_wait()
            )


def app_configured() -> bool:
    """Whether the platform's SP-API application (client id and secret) is configured."""
    app = products_conf.spapi_settings()
    return bool(app.client_id and app.client_secret)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def decode_page(body: dict[str, Any]) -> InventoryPage:
    """A getInventorySummaries answer: the summaries that name both an FNSKU and an ASIN."""
    payload = body.get("payload") or {}
    items = []
    for summary in payload.get("inventorySummaries") or ():
        fnsku = str(summary.get("fnSku") or "").strip().upper()
        asin = str(summary.get("asin") or "").strip().upper()
        if not fnsku or not asin:
            continue
        items.append(
            InventoryItem(
                fnsku=fnsku,
                asin=asin,
                seller_sku=str(summary.get("sellerSku") or "")[:200],
                product_name=str(summary.get("productName") or "")[:500],
                last_updated=_parse_time(summary.get("lastUpdatedTime")),
            )
        )
    next_token = (body.get("pagination") or {}).get("nextToken")
    return InventoryPage(items=items, has_more=bool(next_token))


def inventory_pages(
    *,
    refresh_token: str,
    selling_partner_id: str,
    marketplace: Marketplace,
    changed_since: datetime | None = None,
    max_pages: int | None = None,
) -> Iterator[InventoryPage]:
    """The seller's inventory summaries in ``marketplace``, a page at a time.

    Raises ``ProviderNotConfigured`` without the platform's SP-API application,
    ``UpstreamBadResponse`` when Amazon refuses (a revoked authorisation, for
    one), ``UpstreamUnavailable`` or ``RateLimited`` when it cannot answer now."""
    app = products_conf.spapi_settings()
    if not app_configured():
        raise ProviderNotConfigured(
            "The platform's SP-API application is not configured (SPAPI_CLIENT_ID, SPAPI_CLIENT_SECRET).",
            provider=PROVIDER,
        )
    seller = SpApiSettings(
        client_id=app.client_id,
        client_secret=app.client_secret,
        refresh_token=refresh_token,
        lwa_token_url=app.lwa_token_url,
        endpoint=app.endpoint,
    )
    client = _SellerClient(selling_partner_id)
    url = (seller.endpoint or marketplace.spapi_endpoint) + SUMMARIES_PATH
    params = {
        "granularityType": "Marketplace",
        "granularityId": marketplace.marketplace_id,
        "marketplaceIds": marketplace.marketplace_id,
    }
    if changed_since is not None:
        params["startDateTime"] = changed_since.isoformat().replace("+00:00", "Z")
    pages = 0
    while True:
        body = _get(client, seller, url, params)
        with decoding(PROVIDER, "inventory summaries"):
            page = decode_page(body)
        pages += 1
        yield page
        next_token = (body.get("pagination") or {}).get("nextToken")
        if not next_token or (max_pages is not None and pages >= max_pages):
            return
        params = {**params, "nextToken": str(next_token)}


def _get(client: _SellerClient, seller: SpApiSettings, url: str, params: dict[str, str]) -> dict[str, Any]:
    response: requests.Response | None = None
    for refresh in (False, True):
        token = lwa_access_token(seller, client, refresh=refresh)
        response = client.request(
            "GET",
            url,
            operation="fba_inventory",
            rate_bucket=client.bucket,
            params=params,
            headers={"x-amz-access-token": token, "Accept": "application/json"},
        )
        # A cached access token can be revoked or expire early: renew it once.
        if response.status_code != 403:
            break
    assert response is not None
    body = json_body(response, provider=PROVIDER, what="inventory summaries")
    if response.status_code != 200 or not isinstance(body, dict):
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        raise UpstreamBadResponse(
            f"Amazon SP-API refused the inventory request (HTTP {response.status_code}"
            + (f", {first.get('code')}" if first.get("code") else "")
            + ").",
            provider=PROVIDER,
            extra={
                "status": response.status_code,
                "operation": "fba_inventory",
                "upstream_code": first.get("code"),
                "upstream_message": first.get("message"),
            },
        )
    return body
