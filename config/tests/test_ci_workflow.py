""".github/workflows/ci.yml does what .ci/run does: the same services, tools, environment and target."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from conftest import SCREENSHOT_DIR

BASE_DIR = Path(__file__).resolve().parents[2]
CI_RUN = (BASE_DIR / ".ci" / "run").read_text()


@cache
def workflow() -> dict[Any, Any]:
    return yaml.safe_load((BASE_DIR / ".github" / "workflows" / "ci.yml").read_text())


def job() -> dict[str, Any]:
    (test_job,) = workflow()["jobs"].values()
    return test_job


def run_lines() -> str:
    return "\n".join(step.get("run", "") for step in job()["steps"])


def ci_run_env() -> dict[str, str]:
    """The variables .ci/run exports: plain values and ${VAR:-default} defaults."""
    env = dict(re.findall(r"^export (\w+)=(\w+)$", CI_RUN, re.M))
    env.update(re.findall(r'^export (\w+)="\$\{\w+:-([^}]*)\}"$', CI_RUN, re.M))
    return env


def test_runs_on_pushes_and_pull_requests():
    # YAML 1.1 reads the key `on` as True.
    triggers = workflow().get("on", workflow().get(True))
    assert {"push", "pull_request"} <= set(triggers)


def test_runs_the_same_make_target_as_ci_run():
    targets = re.findall(r"^make (\w+)$", CI_RUN, re.M)
    assert targets == ["test"]

    assert re.findall(r"^make (\w+)$", run_lines(), re.M) == targets


def test_sets_the_same_environment_with_the_services_as_hosts():
    expected = ci_run_env()
    env = job()["env"]
    assert {"REQUIRE_SERVICES", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"} <= set(expected)
    assert set(expected) <= set(env)

    assert expected["REQUIRE_SERVICES"] == "1"
    for name, value in expected.items():
        if not name.endswith("_URL"):
            assert str(env[name]) == value, name
    services = job()["services"]
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        ours, theirs = urlsplit(env[name]), urlsplit(expected[name])
        # Same scheme, user, port, database name or Redis db; the host is the service's name.
        assert (ours.scheme, ours.username, ours.port, ours.path) == (
            theirs.scheme,
            theirs.username,
            theirs.port,
            theirs.path,
        ), name
        assert ours.hostname in services, f"{name} points at {ours.hostname}, which is not a service"


def test_services_are_postgresql_15_and_redis_7_and_healthy_before_the_steps():
    services = job()["services"]

    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for service in services.values():
        assert "--health-cmd" in service["options"]
    # The user of DATABASE_URL exists and needs no password, as on the development machines.
    user = urlsplit(job()["env"]["DATABASE_URL"]).username
    assert services["postgres"]["env"]["POSTGRES_USER"] == user
    assert services["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"


def test_postgresql_accepts_as_many_connections_as_ci_run_sets():
    (wanted,) = re.findall(r"ALTER SYSTEM SET max_connections = (\d+)", CI_RUN)

    assert f"ALTER SYSTEM SET max_connections = {wanted}" in run_lines()
    assert f"-ge {wanted}" in run_lines()
    assert "job.services.postgres.id" in run_lines()


def test_python_311_node_20_and_the_debian_packages_ci_run_installs():
    assert re.fullmatch(r"python:3\.11(-\w+)?", job()["container"]["image"])
    (node,) = [s for s in job()["steps"] if s.get("uses", "").startswith("actions/setup-node@")]
    assert str(node["with"]["node-version"]) == "20"

    installed = set(re.findall(r"apt-get install[^\n]*", run_lines())[0].split())
    # What .ci/run installs when missing, less what the services provide.
    for package in set(re.findall(r"need_pkg (\S+)", CI_RUN)) - {"postgresql", "redis-server", "npm"}:
        assert package in installed, package
    assert {"chromium", "prometheus"} <= installed


def test_uploads_the_browser_tests_screenshots():
    (upload,) = [s for s in job()["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]

    assert upload["if"] == "always()"
    assert upload["with"]["path"] == str(SCREENSHOT_DIR.relative_to(BASE_DIR))


def test_fits_in_ci_time():
    assert job()["timeout-minutes"] <= 90
