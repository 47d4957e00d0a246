"""schemathesis against the live API, as deployed: gunicorn, DEBUG=0, PostgreSQL, Redis.

Its examples, coverage and fuzzing phases run for a bounded time with a real funded key
and fail on any server error other than a documented 503 and on any answer the OpenAPI
schema does not describe (status, content type, headers, body). The rate limits are
raised so the calls reach the views; that every operation documents its 429 is checked
by config/tests/test_schema.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.tests.factories import api_key_for
from config.tests.gunicorn import BASE_DIR, gunicorn, production_environment
from credits.tests.factories import funded_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

BUDGET_SECONDS = int(os.environ.get("SCHEMATHESIS_SECONDS", "120"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "missing_required_header",
)
UNLIMITED = "10000000/min"


def test_the_api_answers_as_its_schema_says(tmp_path: Path) -> None:
    user = funded_user(credits=1_000_000)
    _, raw_key = api_key_for(user, name="schemathesis")
    env = production_environment(
        API_RATE_METERED=UNLIMITED,
        API_RATE_FREE=UNLIMITED,
        API_RATE_USER_METERED=UNLIMITED,
        API_RATE_USER_FREE=UNLIMITED,
        STRIPE_WEBHOOK_SECRET="whsec_schemathesis_0123456789abcdef",
        WEB_CONCURRENCY="2",
    )
    with gunicorn(env, tmp_path) as base:
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(BASE_DIR / "security" / "schemathesis.toml"),
                "run",
                f"{base}/api/schema/",
                "--header",
                f"Authorization: Bearer {raw_key}",
                "--checks",
                ",".join(CHECKS),
                "--phases",
                "examples,coverage,fuzzing",
                "--max-time",
                str(BUDGET_SECONDS),
                # One worker: schemathesis's generators are not safe across threads on Python 3.11.
                "--workers",
                "1",
                "--seed",
                "20261207",
                "--request-timeout",
                "30",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=BUDGET_SECONDS + 300,
            check=False,
        )
        server_log = (tmp_path / "server.log").read_text()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:] + "\n--- server log (tail) ---\n" + server_log[-5000:]
