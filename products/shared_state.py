"""Moved to core/shared_state.py. Kept only for products/services.py, which a refactor of the
metered flow is rewriting; its next version imports core.shared_state and this module goes."""

from core.shared_state import LuaScript, redis_client, send_without_reply, shared_key

__all__ = ["LuaScript", "redis_client", "send_without_reply", "shared_key"]
