"""The floor under a metered lookup: its round trips with no framework around them.

A WSGI application for `bench/http_load.py`'s "floor" target, served by its own
gunicorn (same configuration and workers as the platform's). Each request does
what a cached lookup does on the wire, and nothing else:

- reads the JSON body and hashes the bearer key, as authentication does;
- one EVALSHA of the platform's own token-bucket script (core/ratelimit.py)
  on two buckets with a veto key, as the key check with the rate limit does;
- the platform's own charge statement (credits/services.py) in autocommit, on a
  plain psycopg connection with client-side binding, as Django's;
- one query-log line sent with ``CLIENT REPLY SKIP``;
- answers 200 with the product's stored record bytes, read once at start.

The gap between this and the real lookup, measured in the same run, is what
Django, DRF, the middleware and the platform's own Python cost per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import django

if __name__ == "__main__":  # `make bench` runs every file here
    print("bench/floor_app.py is a WSGI application: bench/http_load.py serves it for its floor target.")
    raise SystemExit(0)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

import psycopg  # noqa: E402 - after Django's settings, like every module below
from redis import Redis  # noqa: E402

from accounts.models import User  # noqa: E402
from core.ratelimit import _TOKEN_BUCKETS  # noqa: E402 - the script the rate limit runs
from credits.services import _POST_SQL_BY_USER  # noqa: E402 - the statement a charge sends
from products.marketplaces import marketplace_get  # noqa: E402
from products.store import _keys  # noqa: E402 - where the record is cached

USER_EMAIL = "bench@example.com"  # http_load.py's funded user
ASIN, MARKETPLACE = "B08N5WRWNW", "US"  # http_load.py's lookup target, cached by its first call

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Floor:
    def __init__(self) -> None:
        self.redis = Redis.from_url(os.environ["REDIS_URL"])
        self.script = self.redis.register_script(_TOKEN_BUCKETS.source)
        self.database = psycopg.connect(
            os.environ["DATABASE_URL"], autocommit=True, cursor_factory=psycopg.ClientCursor
        )
        self.user_id = User.objects.values_list("pk", flat=True).get(email=USER_EMAIL)
        record = self.redis.get(_keys(ASIN, marketplace_get(MARKETPLACE))[0])
        if record is None:
            raise RuntimeError("The benchmark's product is not cached: look it up once first.")
        self.record = record

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        key_hash = hashlib.sha256(environ["HTTP_AUTHORIZATION"].split()[1].encode()).hexdigest()
        buckets = [f"floor:user:{self.user_id}", f"floor:key:{key_hash[:16]}"]
        self.script(keys=[f"floor:revoked:{key_hash}", *buckets], args=[1, 0, 1, 1e9, 1e9, 1e9, 1e9])
        with self.database.cursor() as cursor:
            cursor.execute(
                _POST_SQL_BY_USER,
                {
                    "kind": "charge",
                    "amount": -1,
                    "operation": "asin_lookup",
                    "reference": f"{body['marketplace']}:{body['asin']}",
                    "description": "",
                    "idempotency_key": f"floor:{uuid.uuid4().hex}",
                    "actor_id": None,
                    "refund_of_id": None,
                    "hold_id": None,
                    "created_at": dt.datetime.now(dt.UTC),
                    "account_key": self.user_id,
                },
            )
            row = cursor.fetchone()
        if row is None:
            raise RuntimeError("The benchmark user ran out of credits.")
        line = json.dumps([self.user_id, body["asin"], body["marketplace"], "api", "cache", "ok", 1, 0.0])
        connection = self.redis.connection_pool.get_connection()
        try:
            connection.send_packed_command(
                connection.pack_commands([("CLIENT", "REPLY", "SKIP"), ("RPUSH", "floor:log", line)])
            )
        finally:
            self.redis.connection_pool.release(connection)
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(self.record))),
                ("X-Cache", "hit"),
                ("X-Credits-Remaining", str(row[2])),
            ],
        )
        return [self.record]


_floor: Floor | None = None


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    global _floor
    if _floor is None:  # in the worker, after the fork: its own connections
        _floor = Floor()
    return _floor(environ, start_response)
