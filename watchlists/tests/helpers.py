"""A local Keepa stand-in whose product the test moves: price, buy box seller, rank, stock."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from products.tests.conftest import FIXTURES, KEEPA_KEY
from products.tests.stub_server import StubServer

ASIN = "B0TESTKEEP"
_ANSWER = json.loads((FIXTURES / "keepa" / "product-response.json").read_text())
AMAZON, NEW, SALES, BUY_BOX = 0, 1, 3, 18


@dataclass
class Market:
    """What the stub answers now; cents (USD minor units), None price = out of stock."""

    price: int | None = 2500
    seller: str = "ATVPDKIKX0DER"
    rank: int | None = 1432
    status: int = 200

    def product(self, asin: str) -> dict[str, Any]:
        product = copy.deepcopy(_ANSWER["products"][0])
        product["asin"] = asin
        stats = product["stats"]
        current = stats["current"]
        price = -1 if self.price is None else self.price
        current[AMAZON] = current[NEW] = current[BUY_BOX] = price
        stats["buyBoxPrice"] = price
        stats["buyBoxSellerId"] = self.seller if self.price is not None else None
        product["csv"][BUY_BOX] = None
        rank = -1 if self.rank is None else self.rank
        current[SALES] = rank
        reference = str(product["salesRankReference"])
        product["salesRanks"] = {reference: [8327040, rank]}
        return product


class KeepaStub:
    def __init__(self) -> None:
        self.market = Market()
        self.lock = threading.Lock()
        self.requests = 0

    def handle(self, path: str) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.requests += 1
            market = copy.copy(self.market)
        if market.status != 200:
            return market.status, {"Content-Type": "application/json"}, b'{"error": {"message": "down"}}'
        query = dict(part.split("=", 1) for part in path.split("?", 1)[1].split("&"))
        body = {k: v for k, v in _ANSWER.items() if k != "products"}
        body["products"] = [market.product(asin) for asin in query["asin"].split("%2C")]
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@contextmanager
def keepa_stub(settings: Any) -> Iterator[KeepaStub]:
    """Keepa as the only provider, answered by a local HTTP server."""
    stub = KeepaStub()
    settings.PRODUCT_PROVIDERS = ["keepa"]
    settings.KEEPA_API_KEY = KEEPA_KEY
    settings.UPSTREAM_RETRY_ATTEMPTS = 1
    with StubServer(stub.handle) as server:
        settings.KEEPA_API_BASE = server.url
        yield stub
