"""Production settings: refuse unsafe values, pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
REAL_KEY = "k7#Vq2!mZp9@Lr4$Wx8^Nb3&Hs6*Jd1(Tf5)Yg0_Uc-e=QaR+oiE"
SMTP_URL = "smtp+tls://platform:mail-password@smtp.example.com:587"
METRICS_TOKEN = "metrics-scrape-token-0123456789abcdef"
# What production needs besides SECRET_KEY and ALLOWED_HOSTS: real email, a metrics token, its address.
PRODUCTION_SERVICES = {
    "EMAIL_URL": SMTP_URL,
    "METRICS_TOKEN": METRICS_TOKEN,
    "SITE_URL": "https://example.com",
}
# Read from the test's own environment by none of these tests: each sets what it means.
CONTROLLED = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "EMAIL_URL",
    "EMAIL_ALLOW_INSECURE_BACKEND",
    "METRICS_TOKEN",
    "METRICS_PUBLIC",
    "METRICS_ALLOWED_NETWORKS",
    "SITE_URL",
    "BULK_EMAIL_BASE_URL",
    "WATCHLIST_EMAIL_BASE_URL",
}


def manage(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_deploy_check_is_clean_in_production():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=REAL_KEY,
        ALLOWED_HOSTS="platform.example.com",
        **PRODUCTION_SERVICES,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("key", ["", "short-key", "django-insecure-" + "x" * 60, None])
def test_production_refuses_the_development_secret_key(key):
    env = {"DEBUG": "0", "ALLOWED_HOSTS": "platform.example.com", **PRODUCTION_SERVICES}
    if key is not None:
        env["SECRET_KEY"] = key

    result = manage("check", **env)

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_secure_cookies_can_each_be_turned_off():
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    base = {"DEBUG": "0", "SECRET_KEY": REAL_KEY, "ALLOWED_HOSTS": "x.example.com", **PRODUCTION_SERVICES}

    on = manage("shell", "-v", "0", "-c", code, **base)
    off = manage("shell", "-v", "0", "-c", code, **base, SECURE_SSL_REDIRECT="0", CSRF_COOKIE_SECURE="0")

    assert on.stdout.split() == ["True", "True", "True"], on.stderr
    assert off.stdout.split() == ["False", "True", "False"], off.stderr


def test_embedded_defaults_need_no_server(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "from django.core.cache import cache;"
        "cache.set('k', 'v'); print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, cache.get('k'))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env["VAR_DIR"] = str(tmp_path)
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://", "v"]
        assert (tmp_path / "redis" / "redis.sock").exists()
    finally:
        from config import embedded

        embedded.stop_server(tmp_path / "redis")


@pytest.mark.slow
def test_production_static_build_succeeds(tmp_path):
    # What the Dockerfile runs: hashed, compressed files for whitenoise. Hashing and compressing
    # (gzip and brotli) its ~2,000 files takes 1-2 minutes of one core, more beside the suite's
    # other workers and under coverage: the timeout only guards against a hang.
    result = manage(
        "collectstatic",
        "--noinput",
        "-v",
        "0",
        timeout=600,
        DEBUG="0",
        SECRET_KEY=REAL_KEY,
        ALLOWED_HOSTS="x.example.com",
        STATIC_ROOT=str(tmp_path),
        **PRODUCTION_SERVICES,
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("build/app.*.css"))  # the stylesheet Tailwind built
    assert not (tmp_path / "src").exists()  # its source is not served
    assert list(tmp_path.glob("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.*.js"))
    assert list(tmp_path.glob("vendor/chartjs/chart.umd.*.js"))


# --- Email: password-reset links never go to the logs --------------------------------------------

EMAIL_BACKEND = "from django.conf import settings as s; print(s.EMAIL_BACKEND)"


def production(**changes: str | None) -> dict[str, str]:
    """A complete production environment, with ``changes`` applied (None removes a variable)."""
    env: dict[str, str | None] = {
        "DEBUG": "0",
        "SECRET_KEY": REAL_KEY,
        "ALLOWED_HOSTS": "platform.example.com",
        **PRODUCTION_SERVICES,
    }
    env.update(changes)
    return {k: v for k, v in env.items() if v is not None}


def test_production_refuses_to_start_without_email_url():
    result = manage("shell", "-v", "0", "-c", EMAIL_BACKEND, **production(EMAIL_URL=None))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "EMAIL_URL" in result.stderr


@pytest.mark.parametrize("url", ["consolemail://", "memorymail://", "filemail:///tmp/platform-mail"])
def test_production_refuses_an_email_backend_that_keeps_messages_readable(url):
    result = manage("shell", "-v", "0", "-c", EMAIL_BACKEND, **production(EMAIL_URL=url))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "EMAIL_URL" in result.stderr
    assert "EMAIL_ALLOW_INSECURE_BACKEND" in result.stderr


def test_production_takes_the_console_backend_only_when_allowed_explicitly():
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        EMAIL_BACKEND,
        **production(EMAIL_URL="consolemail://", EMAIL_ALLOW_INSECURE_BACKEND="1"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.mail.backends.console.EmailBackend"]


def test_production_sends_email_through_the_configured_server():
    result = manage("shell", "-v", "0", "-c", EMAIL_BACKEND, **production(EMAIL_URL=SMTP_URL))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.mail.backends.smtp.EmailBackend"]


def test_development_prints_email_to_the_console_with_no_environment():
    result = manage("shell", "-v", "0", "-c", EMAIL_BACKEND)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.mail.backends.console.EmailBackend"]


# --- /metrics: never open by accident in production ----------------------------------------------

METRICS_SETTINGS = "from django.conf import settings as s; print(bool(s.METRICS_TOKEN), s.METRICS_PUBLIC)"
# Reads the settings (`shell -c` runs without them when they fail to load and nothing asks).
STARTED = "from django.conf import settings as s; print('started', s.DEBUG)"


@pytest.mark.parametrize("networks", [None, "10.0.0.0/8"])
def test_production_refuses_to_start_without_a_metrics_token(networks):
    # Allowed networks alone do not count: behind the ingress every request comes from its address.
    env = production(METRICS_TOKEN=None, METRICS_ALLOWED_NETWORKS=networks)

    result = manage("shell", "-v", "0", "-c", STARTED, **env)

    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert "METRICS_TOKEN" in result.stderr
    assert "METRICS_PUBLIC" in result.stderr


def test_production_serves_metrics_without_a_token_only_when_made_public_on_purpose():
    result = manage(
        "shell", "-v", "0", "-c", METRICS_SETTINGS, **production(METRICS_TOKEN=None, METRICS_PUBLIC="1")
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_production_starts_with_a_metrics_token():
    result = manage("shell", "-v", "0", "-c", METRICS_SETTINGS, **production())

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]


# --- SITE_URL: where links in emails point -------------------------------------------------------

SITE_URL_NAMES = ("SITE_URL", "BULK_EMAIL_BASE_URL", "WATCHLIST_EMAIL_BASE_URL")


def site_url(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in SITE_URL_NAMES}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            "from django.conf import settings as s; print(s.SITE_URL)",
        ],
        cwd=BASE_DIR,
        env={**clean, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_in_the_embedded_run_links_in_emails_follow_its_port():
    # run_embedded derives SITE_URL from HOST and PORT before the settings are read; emails
    # build their links on it (core.email.site_link), whatever PORT is.
    clean = {k: v for k, v in os.environ.items() if k not in {*SITE_URL_NAMES, "HOST", "PORT"}}
    code = (
        "import os, django; from config.run_embedded import address; address(os.environ); "
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup(); "
        "from core.email import email_context, site_link; "
        "print(site_link('/bulk/7/'), email_context()['site_home'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**clean, "DEBUG": "1", "PORT": "8741"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["http://127.0.0.1:8741/bulk/7/", "http://127.0.0.1:8741/"]


def test_site_url_is_read_from_the_environment_and_its_former_names_still_work():
    assert site_url() == "http://localhost:8000"
    assert site_url(SITE_URL="http://127.0.0.1:8123") == "http://127.0.0.1:8123"
    assert site_url(BULK_EMAIL_BASE_URL="https://old.example") == "https://old.example"
    assert site_url(WATCHLIST_EMAIL_BASE_URL="https://older.example") == "https://older.example"
    assert site_url(SITE_URL="https://new.example", BULK_EMAIL_BASE_URL="https://old.example") == (
        "https://new.example"
    )
