import uuid

import pytest

from config.celery import app, ping


def test_queue_is_configured_to_survive_a_killed_worker():
    conf = app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_time_limit > conf.task_soft_time_limit > 0


def test_visibility_timeout_is_above_the_longest_task(settings):
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the filesystem broker has no visibility timeout")
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_real_worker_executes_a_task(celery_worker_process):
    task_id = str(uuid.uuid4())

    ping.apply_async(task_id=task_id)

    import time

    deadline = time.monotonic() + 20
    log = ""
    while time.monotonic() < deadline:
        log = celery_worker_process.log_path.read_text()
        if f"Task config.ping[{task_id}] succeeded" in log:
            break
        time.sleep(0.2)
    assert f"Task config.ping[{task_id}] succeeded" in log, log
    assert "'pong'" in log
