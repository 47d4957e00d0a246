"""The lookup query log, buffered so writing it never slows a lookup down.

A lookup appends one JSON line to a Redis list: a cache hit in the same round
trip as the cache read (products/store.py), anything else with one RPUSH sent
without waiting for its answer; ``lookup_log_flush`` (a Celery beat task every
few seconds, and the readers below before they read) moves the lines into the
database with one bulk INSERT per batch and adds them to the per-marketplace
cache counters.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, cast

from core.shared_state import redis_client, send_without_reply, shared_key
from products.models import LookupLog

FLUSH_BATCH = 2000


def _buffer_key() -> str:
    return shared_key("lookuplog", "buffer")


def _stats_key() -> str:
    return shared_key("lookuplog", "stats")


@dataclass(frozen=True, slots=True)
class LookupLine:
    """One lookup, as the query log keeps it."""

    user_id: int
    asin: str
    marketplace: str
    channel: str
    source: str
    outcome: str
    credits: int
    latency_ms: float

    def encode(self) -> str:
        """The buffered form: a JSON array, with the moment it was made."""
        return json.dumps(
            [
                self.user_id,
                self.asin,
                self.marketplace,
                self.channel,
                self.source,
                self.outcome,
                self.credits,
                round(self.latency_ms, 3),
                datetime.now(UTC).timestamp(),
            ],
            separators=(",", ":"),
        )

    @staticmethod
    def decode(raw: bytes) -> LookupLog:
        *fields, at = json.loads(raw)
        return LookupLog(
            **dict(zip(LOOKUP_LINE_FIELDS, fields, strict=True)), created_at=datetime.fromtimestamp(at, UTC)
        )


LOOKUP_LINE_FIELDS = tuple(field.name for field in fields(LookupLine))


def lookup_log_buffer_key() -> str:
    """The Redis list of buffered lines, for appending ``LookupLine.encode()`` together
    with another command (products/store.py's cache read)."""
    return _buffer_key()


def lookup_log_buffer(line: LookupLine) -> None:
    # Nothing waits for Redis's answer: the lookup's caller is answered meanwhile.
    send_without_reply("RPUSH", _buffer_key(), line.encode())


def lookup_log_flush(*, max_batches: int = 50) -> int:
    """Move buffered lines into the database; returns how many were written."""
    client = redis_client()
    written = 0
    for _ in range(max_batches):
        lines = cast(list[bytes] | None, client.lpop(_buffer_key(), FLUSH_BATCH))
        if not lines:
            break
        rows = [LookupLine.decode(line) for line in lines]
        counts = Counter(f"{row.marketplace}:{row.source}" for row in rows)
        LookupLog.objects.bulk_create(rows)
        pipe = client.pipeline(transaction=False)
        for field, count in counts.items():
            pipe.hincrby(_stats_key(), field, count)
        pipe.execute()
        written += len(rows)
    return written


def lookup_cache_stats() -> dict[str, dict[str, Any]]:
    """Lookups per marketplace by where they were served from, and the cache hit ratio."""
    lookup_log_flush()
    raw = cast(dict[bytes, bytes], redis_client().hgetall(_stats_key()))
    stats: dict[str, dict[str, Any]] = {}
    for field, value in raw.items():
        marketplace, _, source = field.decode().partition(":")
        entry = stats.setdefault(marketplace, {"cache": 0, "database": 0, "upstream": 0, "none": 0})
        entry[source] = entry.get(source, 0) + int(value)
    for entry in stats.values():
        served = entry["cache"] + entry["database"] + entry["upstream"]
        entry["hits"] = entry["cache"]
        entry["misses"] = entry["database"] + entry["upstream"]
        entry["hit_ratio"] = round(entry["cache"] / served, 4) if served else None
    return dict(sorted(stats.items()))
