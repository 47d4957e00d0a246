from collections.abc import Iterator
from typing import Any

import pytest

from webhooks.tests.receiver import Receiver


@pytest.fixture(autouse=True)
def _local_receivers(settings: Any) -> None:
    # Tests run with DEBUG off: allow the local test receiver explicitly.
    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = True
    settings.WEBHOOKS_RETRY_SCHEDULE = [60, 300, 1800, 7200, 21600, 43200]
    settings.WEBHOOKS_SECRET_GRACE_SECONDS = 86400


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Ids of the deliveries whose task was queued (instead of sending messages to the broker)."""
    from webhooks import tasks

    ids: list[int] = []
    monkeypatch.setattr(tasks.webhook_delivery_send, "delay", ids.append)
    return ids
