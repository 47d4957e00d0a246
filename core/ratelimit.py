"""A rate limiter shared by every web and worker process: a token bucket in Redis.

The bucket lives in one Redis hash and is changed only by a Lua script, so any
number of processes together stay within ``burst + rate * t`` calls in any
``t`` seconds. The clock is Redis's own (``TIME``), so hosts with skewed
clocks share one view of the bucket.

A caller reserves its tokens and is told how long to wait for them: a bucket
may go into debt, and each later caller waits behind the ones already queued,
so waiting callers are served first come, first served, without polling.
A reservation that would wait longer than ``max_wait`` is not made at all.

Users: the upstream providers' buckets (products/ratelimit.py), the API's
per-key throttling (core/throttling.py), a seller's SP-API usage plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.shared_state import LuaScript, shared_key


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    rate: float
    burst: float


# KEYS: a veto key (or none), then the buckets; ARGV: tokens, max_wait, whether
# KEYS[1] is a veto key (1 or 0), then rate and burst of each bucket.
# All or nothing: the tokens are taken from every bucket, or from none when any
# of them would make the caller wait longer than max_wait, or when the veto key
# exists (so a caller can ask "unless this was revoked" in the same round trip).
_TOKEN_BUCKETS = LuaScript(
    """
local requested = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local first = 1
if ARGV[3] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return {-1, '0', 0}
  end
  first = 2
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000

local tokens, stamps = {}, {}
local wait, slowest = 0, 0
for i = 1, #KEYS - first + 1 do
  local key = KEYS[first + i - 1]
  local rate = tonumber(ARGV[2 + 2 * i])
  local burst = tonumber(ARGV[3 + 2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local available = tonumber(state[1])
  local ts = tonumber(state[2])
  if available == nil or ts == nil then
    available = burst
    ts = now
  end
  if now > ts then
    available = math.min(burst, available + (now - ts) * rate)
    ts = now
  end
  if available < requested and (requested - available) / rate > wait then
    wait = (requested - available) / rate
    slowest = i
  end
  tokens[i] = available
  stamps[i] = ts
end
if wait > max_wait then
  return {0, string.format('%.6f', wait), slowest}
end

for i = 1, #KEYS - first + 1 do
  local key = KEYS[first + i - 1]
  local rate = tonumber(ARGV[2 + 2 * i])
  local burst = tonumber(ARGV[3 + 2 * i])
  local left = tokens[i] - requested
  redis.call('HSET', key, 'tokens', string.format('%.9f', left), 'ts', string.format('%.6f', stamps[i]))
  -- A full bucket and a missing one are the same, so the key can go once refilled.
  redis.call('PEXPIRE', key, math.ceil((burst - left) / rate * 1000) + 1000)
end
return {1, string.format('%.6f', wait), slowest}
"""
)


class ReservationVetoed(Exception):
    """The veto key of ``reserve_all`` exists; nothing was reserved."""


class RateLimitExceeded(Exception):
    """The tokens would not be available within the allowed wait; nothing was reserved."""

    def __init__(self, bucket: str, wait: float) -> None:
        self.bucket = bucket
        self.wait = wait
        super().__init__(f"rate limit {bucket!r}: next tokens in {wait:.2f}s")


class TokenBucket:
    def __init__(self, name: str, limit: RateLimit) -> None:
        self.name = name
        self.limit = limit
        self.key = shared_key("ratelimit", name)

    def reserve(self, tokens: float = 1, *, max_wait: float) -> float:
        """Reserve ``tokens``; return the seconds to wait before using them."""
        return reserve_all([self], tokens, max_wait=max_wait)

    def acquire(self, tokens: float = 1, *, max_wait: float) -> float:
        """Block until ``tokens`` may be used; return the seconds waited."""
        wait = self.reserve(tokens, max_wait=max_wait)
        if wait > 0:
            time.sleep(wait)
        return wait


def reserve_all(
    buckets: list[TokenBucket], tokens: float = 1, *, max_wait: float, veto_key: str | None = None
) -> float:
    """Reserve ``tokens`` from every bucket at once (one round trip), or from none.

    Returns the seconds to wait before using them (the longest of the buckets'
    waits); raises ``RateLimitExceeded``, naming the bucket that refused, when
    that would be longer than ``max_wait``, and ``ReservationVetoed`` when the
    Redis key ``veto_key`` exists. The keys must live on one Redis server (one
    hash slot on a cluster)."""
    for bucket in buckets:
        if tokens > bucket.limit.burst:
            raise ValueError(
                f"{tokens} tokens can never be granted by bucket {bucket.name!r} (burst {bucket.limit.burst})"
            )
    limits = [value for bucket in buckets for value in (bucket.limit.rate, bucket.limit.burst)]
    keys = [bucket.key for bucket in buckets]
    granted, wait, slowest = _TOKEN_BUCKETS(
        keys=keys if veto_key is None else [veto_key, *keys],
        args=[tokens, max(0.0, max_wait), 0 if veto_key is None else 1, *limits],
    )
    if int(granted) < 0:
        raise ReservationVetoed(veto_key)
    if not int(granted):
        raise RateLimitExceeded(buckets[int(slowest) - 1].name, float(wait))
    return float(wait)
