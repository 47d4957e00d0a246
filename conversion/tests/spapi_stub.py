"""A local HTTP server standing in for Login with Amazon and SP-API FBA Inventory, in their formats.

Real sockets, so the platform's whole HTTP path (pooled session, timeouts,
retries, the per-seller rate limit) is exercised.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCESS_TOKEN = "Atza|stub-access-token"
TOKEN_PATH = "/auth/o2/token"
SUMMARIES_PATH = "/fba/inventory/v1/summaries"


def summary(fnsku: str, asin: str, sku: str, name: str = "") -> dict[str, Any]:
    """One ``InventorySummary`` as fbaInventory.json defines it."""
    return {
        "asin": asin,
        "fnSku": fnsku,
        "sellerSku": sku,
        "condition": "NewItem",
        "lastUpdatedTime": "2026-05-30T10:00:00Z",
        "productName": name,
        "totalQuantity": 3,
    }


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


class SpApiStub:
    """``pages``: the summaries of each page, in order; page n+1 is asked for with nextToken "page-n+1"."""

    def __init__(self, *, refresh_token: str, pages: list[list[dict[str, Any]]], marketplace_id: str) -> None:
        self.refresh_token = refresh_token
        self.pages = pages
        self.marketplace_id = marketplace_id
        self.seen: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                stub.seen.append(Seen("POST", url.path, {}, dict(self.headers), form))
                if url.path != TOKEN_PATH:
                    return self._send(404, {"error": "not_found"})
                if (
                    form.get("grant_type") != "refresh_token"
                    or form.get("refresh_token") != stub.refresh_token
                ):
                    return self._send(
                        400, {"error": "invalid_grant", "error_description": "bad refresh token"}
                    )
                return self._send(
                    200, {"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600}
                )

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                stub.seen.append(Seen("GET", url.path, query, dict(self.headers)))
                if url.path != SUMMARIES_PATH:
                    return self._send(404, {"errors": [{"code": "NotFound", "message": "no such path"}]})
                if self.headers.get("x-amz-access-token") != ACCESS_TOKEN:
                    return self._send(403, {"errors": [{"code": "Unauthorized", "message": "Access denied"}]})
                required = ("granularityType", "granularityId", "marketplaceIds")
                if any(name not in query for name in required) or query["granularityType"] != "Marketplace":
                    return self._send(
                        400, {"errors": [{"code": "InvalidInput", "message": "missing parameter"}]}
                    )
                if query["marketplaceIds"] != stub.marketplace_id:
                    return self._send(400, {"errors": [{"code": "InvalidInput", "message": "marketplace"}]})
                token = query.get("nextToken")
                index = int(token.removeprefix("page-")) - 1 if token else 0
                body: dict[str, Any] = {
                    "payload": {
                        "granularity": {
                            "granularityType": "Marketplace",
                            "granularityId": query["granularityId"],
                        },
                        "inventorySummaries": stub.pages[index],
                    }
                }
                if index + 1 < len(stub.pages):
                    body["pagination"] = {"nextToken": f"page-{index + 2}"}
                return self._send(200, body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def __enter__(self) -> SpApiStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
