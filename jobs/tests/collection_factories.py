"""Helpers of the scheduled collections tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobs.collections import services
from jobs.models import Collection
from jobs.tests.bulk_helpers import asins


def make_collection(user: Any, count: int = 3, *, now: datetime | None = None, **kwargs: Any) -> Collection:
    """A collection of ``count`` ASINs the sandbox knows (daily, US, unless told)."""
    fields: dict[str, Any] = {"name": "Watch", "items": asins(count), **kwargs}
    return services.collection_create(user=user, now=now, **fields)
