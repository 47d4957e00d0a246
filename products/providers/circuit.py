"""A circuit breaker per provider, shared by every process through Redis.

- **closed**: calls go through; failed calls in a row are counted (the count
  lapses when no failure follows within ``CIRCUIT_FAILURE_WINDOW``, and any
  success resets it).
- **open**: after ``CIRCUIT_FAILURE_THRESHOLD`` failures no call goes through
  for ``CIRCUIT_OPEN_SECONDS``: callers fail fast and the fallback chain moves
  on, instead of every process waiting on timeouts of a provider that is down.
- **half-open**: once that time is over, exactly one caller (across all
  processes) may probe. Its success closes the circuit; its failure opens it
  again for another period. Should the probe's process die, its claim expires
  and the next caller probes.

Each transition is one Lua script on Redis's clock, so concurrent processes
never disagree. If Redis itself fails, calls are let through: the breaker only
saves time, and the rate limiter, which guards the upstream's limits, fails
closed on its own.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from redis import RedisError

from core.shared_state import LuaScript, redis_client, shared_key
from products import conf

logger = logging.getLogger(__name__)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_NOW_MS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# KEYS: state hash, probe claim. ARGV: probe claim lifetime (ms).
# Returns {allowed, retry_after_ms}.
_ALLOW = LuaScript(
    _NOW_MS
    + """
local opened_until = tonumber(redis.call('HGET', KEYS[1], 'opened_until'))
if opened_until == nil then
  return {1, 0}
end
if now < opened_until then
  return {0, opened_until - now}
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return {1, 0}
end
return {0, math.max(redis.call('PTTL', KEYS[2]), 0)}
"""
)

# KEYS: state hash, probe claim. ARGV: threshold, open (ms), failure window (ms).
# Returns 1 when this failure opened (or re-opened) the circuit.
_FAILURE = LuaScript(
    _NOW_MS
    + """
local threshold = tonumber(ARGV[1])
local open_ms = tonumber(ARGV[2])
local window_ms = tonumber(ARGV[3])
local opened_until = tonumber(redis.call('HGET', KEYS[1], 'opened_until'))
if opened_until ~= nil and now < opened_until then
  -- a call that started before the circuit opened: it is open already
  return 0
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if opened_until ~= nil or failures >= threshold then
  redis.call('HSET', KEYS[1], 'opened_until', now + open_ms)
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], open_ms + window_ms)
  return 1
end
redis.call('PEXPIRE', KEYS[1], window_ms)
return 0
"""
)

# KEYS: state hash, probe claim. ARGV: none. Returns 1 when this success closed an open circuit.
_SUCCESS = LuaScript(
    """
local was_open = redis.call('HEXISTS', KEYS[1], 'opened_until')
redis.call('DEL', KEYS[1], KEYS[2])
return was_open
"""
)


class CircuitBreaker:
    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._state_key = shared_key("circuit", provider)
        self._probe_key = shared_key("circuit", provider, "probe")

    def allow(self, *, probe_seconds: float) -> float | None:
        """``None`` if a call may go ahead now, else the seconds until one may.

        ``probe_seconds``: how long a half-open probe may take before another
        caller is allowed to probe instead.
        """
        try:
            allowed, retry_after_ms = _ALLOW(
                keys=[self._state_key, self._probe_key], args=[max(1, int(probe_seconds * 1000))]
            )
        except RedisError:
            logger.warning("circuit breaker for %s unavailable; letting the call through", self.provider)
            return None
        return None if int(allowed) else int(retry_after_ms) / 1000

    def record_failure(self) -> None:
        settings = conf.circuit_settings()
        try:
            opened = _FAILURE(
                keys=[self._state_key, self._probe_key],
                args=[
                    settings.failure_threshold,
                    int(settings.open_seconds * 1000),
                    int(settings.failure_window * 1000),
                ],
            )
        except RedisError:
            logger.warning("circuit breaker for %s unavailable; failure not recorded", self.provider)
            return
        if opened:
            logger.warning("circuit for provider %s opened for %.0fs", self.provider, settings.open_seconds)

    def record_success(self) -> None:
        try:
            closed = _SUCCESS(keys=[self._state_key, self._probe_key], args=[])
        except RedisError:
            return
        if closed:
            logger.info("circuit for provider %s closed", self.provider)

    def state(self) -> CircuitState:
        client = redis_client()
        opened_until = client.hget(self._state_key, "opened_until")
        if opened_until is None:
            return CircuitState.CLOSED
        seconds, microseconds = client.time()
        now_ms = seconds * 1000 + microseconds // 1000
        return CircuitState.OPEN if now_ms < int(opened_until) else CircuitState.HALF_OPEN


def circuit_state(provider: str) -> CircuitState:
    """The breaker's state for ``provider``, as every process sees it (for readiness checks)."""
    return CircuitBreaker(provider).state()
