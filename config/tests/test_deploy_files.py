"""Docker is not available here: check the files' structure instead."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from config.envvars import settings_env_vars

BASE_DIR = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_defines_the_whole_stack():
    services = compose()["services"]

    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(services)
    assert "gunicorn" in services["web"]["command"]
    assert "config.wsgi:application" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_every_long_running_service_has_a_healthcheck():
    services = compose()["services"]

    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert "healthcheck" in services[name], name


def test_app_services_get_every_setting_production_needs():
    services = compose()["services"]
    hosts = set(services)

    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["DEBUG"] == "0"
        for variable in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
            assert env.get(variable), f"{name} lacks {variable}"
        for variable in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
            host = re.match(r"^\w+://(?:[^@/]*@)?([^:/]+)", env[variable]).group(1)
            assert host in hosts, f"{name}: {variable} points at {host}, which compose does not define"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


# Production refuses to start without these: compose stops with its message instead of
# starting a stack on a default (the console email backend would print reset links to the logs,
# /metrics would be open).
REQUIRED_FROM_THE_OPERATOR = ("SECRET_KEY", "EMAIL_URL", "METRICS_TOKEN")


def test_compose_requires_what_production_has_no_default_for():
    services = compose()["services"]

    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        for variable in REQUIRED_FROM_THE_OPERATOR:
            assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), (
                f"{name}: {variable} is {env[variable]!r}, not required with ${{{variable}:?message}}"
            )
        assert env.get("EMAIL_ALLOW_INSECURE_BACKEND", "0") in {"0", "${EMAIL_ALLOW_INSECURE_BACKEND:-0}"}
        assert "METRICS_PUBLIC" not in env, name


def test_data_lives_in_named_volumes():
    data = compose()
    volumes = set(data["volumes"])

    for name in ("postgres", "redis"):
        mounts = data["services"][name]["volumes"]
        assert any(m.split(":")[0] in volumes for m in mounts), name


def test_settings_read_every_variable_compose_sets():
    # config/settings.py's own variables and those of the apps' settings classes it reads.
    read = {var.name for var in settings_env_vars()}
    env = compose()["services"]["web"]["environment"]

    for variable in env:
        assert variable in read, f"settings.py never reads {variable}"


def test_dockerfile_is_slim_non_root_with_healthcheck_and_static():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert "collectstatic" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert re.search(r"^HEALTHCHECK ", dockerfile, re.M)
    assert "gunicorn" in dockerfile
    # Static assets from npm (Chart.js) are in the image before collectstatic runs.
    assert "npm ci" in dockerfile
    from django.conf import settings

    for entry in settings.STATICFILES_DIRS:
        folder = Path(entry[1] if isinstance(entry, tuple) else entry)
        if "node_modules" in folder.parts:
            copied = str(folder.relative_to(BASE_DIR))
            assert copied in dockerfile, f"the image lacks {copied}"
            assert dockerfile.index(copied) < dockerfile.index("collectstatic")


def test_the_images_collectstatic_step_gets_every_setting_production_requires(tmp_path):
    # The build runs collectstatic with DEBUG=0 and only the variables on its RUN line: those
    # must satisfy every check production's settings make, or the image does not build.
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    run = re.search(r"^RUN ((?:\w+=\S+\s+(?:\\\n\s*)?)+)python manage\.py collectstatic", dockerfile, re.M)
    assert run, "no `RUN VAR=value ... python manage.py collectstatic` in the Dockerfile"
    build_env = dict(re.findall(r"(\w+)=(\S+)", run.group(1)))
    assert build_env["DEBUG"] == "0"

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env={
            "PATH": os.environ["PATH"],
            "VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **build_env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
