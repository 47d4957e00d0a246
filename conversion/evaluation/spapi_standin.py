"""A local stand-in for SP-API Catalog Items 2022-04-01 ``searchCatalogItems`` (and Login with Amazon).

It answers over real HTTP, in the shape of ../shared/reference/sp-api/catalogItems_2022-04-01.json
(``ItemSearchResults``: ``numberOfResults``, ``pagination``, ``refinements``, ``items`` with
``summaries`` and ``images`` per marketplace), so the evaluation reaches the catalogue through
the platform's own SP-API adapter (products/providers/spapi.py), not around it.

The ranking is Okapi BM25 over the listings' titles (k1 1.5, b 0.75): a real
keyword ranking that knows nothing of the case being asked, never an oracle.
Amazon's own ranking also weighs sales and relevance signals we do not have;
BM25 is the standard text-only stand-in for it.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCESS_TOKEN = "Atza|eval-standin"  # noqa: S105 - the stand-in's own, not a credential
TOKEN_PATH = "/auth/o2/token"  # noqa: S105 - a path
SEARCH_PATH = "/catalog/2022-04-01/items"
MAX_PAGE_SIZE = 20
_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 over ``documents`` ((key, text) pairs)."""

    def __init__(self, documents: Sequence[tuple[str, str]], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.keys = [key for key, _ in documents]
        self.k1, self.b = k1, b
        self.lengths: list[int] = []
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for index, (_, text) in enumerate(documents):
            counts = Counter(tokens(text))
            self.lengths.append(sum(counts.values()))
            for term, count in counts.items():
                self.postings.setdefault(term, []).append((index, count))
        self.average_length = sum(self.lengths) / len(self.lengths) if self.lengths else 0.0
        n = len(self.keys)
        self.idf = {
            term: math.log((n - len(posting) + 0.5) / (len(posting) + 0.5) + 1)
            for term, posting in self.postings.items()
        }

    def search(self, query: str, limit: int) -> tuple[int, list[str]]:
        """How many documents match any query word, and the keys of the best ``limit``, best first."""
        scores: dict[int, float] = {}
        for term in set(tokens(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for index, count in self.postings[term]:
                norm = self.k1 * (1 - self.b + self.b * self.lengths[index] / self.average_length)
                scores[index] = scores.get(index, 0.0) + idf * count * (self.k1 + 1) / (count + norm)
        ranked = sorted(scores, key=lambda i: (-scores[i], self.keys[i]))
        return len(scores), [self.keys[i] for i in ranked[:limit]]


def _item(asin: str, title: str, marketplace_id: str) -> dict[str, Any]:
    return {
        "asin": asin,
        "summaries": [
            {
                "marketplaceId": marketplace_id,
                "itemName": title,
                "brand": title.split()[0] if title.split() else "",
            }
        ],
        "images": [{"marketplaceId": marketplace_id, "images": []}],
    }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


class CatalogStandIn:
    """``listings``: (asin, title) pairs of the catalogue. ``start()`` serves it on 127.0.0.1."""

    def __init__(self, listings: Sequence[tuple[str, str]]) -> None:
        self.titles = dict(listings)
        self.index = BM25(list(listings))
        self.requests = 0

    def answer(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """searchCatalogItems for the query ``params``: (HTTP status, body)."""
        marketplace = params.get("marketplaceIds", "")
        if not marketplace:
            return 400, _error("InvalidInput", "Missing required 'marketplaceIds'.")
        keywords = params.get("keywords", "")
        if not keywords:
            return 400, _error("InvalidInput", "Either 'keywords' or 'identifiers' is required.")
        try:
            page_size = int(params.get("pageSize") or 10)
        except ValueError:
            return 400, _error("InvalidInput", "'pageSize' must be a number.")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            return 400, _error("InvalidInput", f"'pageSize' must be between 1 and {MAX_PAGE_SIZE}.")
        total, asins = self.index.search(keywords.replace(",", " "), page_size)
        return 200, {
            "numberOfResults": total,
            "pagination": {},
            "refinements": {"brands": [], "classifications": []},
            "items": [_item(asin, self.titles[asin], marketplace.split(",")[0]) for asin in asins],
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if urlsplit(self.path).path != TOKEN_PATH:
                    return self._send(404, _error("NotFound", "No such operation."))
                return self._send(
                    200, {"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600}
                )

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != SEARCH_PATH:
                    return self._send(404, _error("NotFound", "No such operation."))
                if self.headers.get("x-amz-access-token") != ACCESS_TOKEN:
                    return self._send(403, _error("Unauthorized", "Access to requested resource is denied."))
                standin.requests += 1
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                return self._send(*standin.answer(params))

        return Handler

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve on a free local port for the duration; yields the base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
