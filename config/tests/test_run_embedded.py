"""`make run` end to end: the embedded platform starts, serves, works and stops."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

BASE_DIR = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.celery_worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_run_starts_web_worker_and_beat_and_stops_them_together(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_KEY_PREFIX", "DEBUG"}
    }
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.run_embedded"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while "Press Ctrl-C" not in log_path.read_text():
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.5)
            output = log_path.read_text()
            raw_key = re.search(r"API key:\s+(\S+)", output).group(1)
            assert "demo@example.com" in output

            base = f"http://127.0.0.1:{port}"
            keys = requests.get(
                f"{base}/api/v1/keys", headers={"Authorization": f"Bearer {raw_key}"}, timeout=10
            )
            assert keys.status_code == 200, keys.text
            ready = requests.get(f"{base}/health/ready", timeout=10)
            assert ready.status_code == 200, ready.text

            # The worker consumes from the embedded (filesystem) broker.
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "-v",
                    "0",
                    "-c",
                    "from config.celery import ping; print(ping.delay().id)",
                ],
                cwd=BASE_DIR,
                env=env,
                check=True,
                capture_output=True,
                timeout=60,
            )
            deadline = time.monotonic() + 30
            while "succeeded" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.3)
            # Beat sent its periodic tasks meanwhile (the first at once), without a line each.
            assert "Sending due task" not in log_path.read_text()
            assert "flush_lookup_log[" not in log_path.read_text()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise

    assert "Stopped." in log_path.read_text()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists() or not _redis_answers(tmp_path)


def _redis_answers(tmp_path: Path) -> bool:
    import redis

    try:
        return bool(
            redis.Redis(unix_socket_path=str(tmp_path / "var/redis/redis.sock"), socket_timeout=1).ping()
        )
    except redis.RedisError:
        return False


def test_the_embedded_run_serves_on_port_and_links_in_emails_point_there():
    from config.run_embedded import address

    environ = {"PORT": "8123"}
    assert address(environ) == ("127.0.0.1", "8123", "http://127.0.0.1:8123")
    assert environ["SITE_URL"] == "http://127.0.0.1:8123"

    chosen = {"PORT": "8123", "SITE_URL": "https://platform.example"}
    address(chosen)
    assert chosen["SITE_URL"] == "https://platform.example"
