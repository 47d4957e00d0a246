"""The environment variables config/settings.py reads, found by reading its source.

One list for the operator's docs (``manage.py envvars`` prints the table that
docs/operations.md carries) and for the deploy tests, which check that the
Kubernetes manifests set every variable production needs and no variable the
platform never reads.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from core.appsettings import ENV_READERS

SETTINGS_FILE = Path(__file__).resolve().parent / "settings.py"
# The env.<cast>(...) readers of django-environ that settings.py uses.
READERS = {"str", "bool", "int", "float", "list", "db_url", "email_url"}


# Meanings of the variables whose setting has no comment of its own (or a misleading one).
NOTES = {
    "VAR_DIR": "Where the embedded default keeps its files (SQLite, embedded Redis, filesystem broker) "
    "and beat its schedule. Must be writable.",
    "DEBUG": "Development mode. Production sets `0`: it then refuses unsafe values and turns on "
    "HTTPS redirects, secure cookies and HSTS.",
    "SECRET_KEY": "Signs sessions, CSRF tokens and password-reset links. At least 50 random characters "
    "with `DEBUG=0`. Secret.",
    "SECRET_KEY_FALLBACKS": "Earlier secret keys (comma-separated), still accepted when checking "
    "signatures while a new `SECRET_KEY` rolls out; empty them once old sessions and links expired. Secret.",
    "ALLOWED_HOSTS": "Host names the site answers to (comma-separated). Required with `DEBUG=0`.",
    "CSRF_TRUSTED_ORIGINS": "Origins allowed to POST forms, e.g. `https://app.example.com` "
    "(comma-separated).",
    "DATABASE_URL": "The database, e.g. `postgres://user:password@host:5432/platform`. Secret.",
    "CONN_MAX_AGE": "Seconds a PostgreSQL connection is kept open between requests (0: one per request).",
    "CONN_HEALTH_CHECKS": "Check a kept connection with `SELECT 1` before each request uses it (costs a "
    "round trip per request; off, a connection broken since its last use fails one request).",
    "REDIS_URL": "Redis for cache, locks, rate limits and circuit breakers, e.g. `redis://redis:6379/0` "
    "(empty: the embedded Redis). Secret when it carries a password.",
    "CACHE_KEY_PREFIX": "Prefix of every cache key: lets two deployments share one Redis.",
    "CELERY_BROKER_URL": "The Celery broker, e.g. `redis://redis:6379/1` (default: the filesystem "
    "transport of the embedded default). Secret when it carries a password.",
    "CELERY_TASK_TIME_LIMIT": "Hard time limit of a task (seconds); the worker kills it after this.",
    "CELERY_TASK_SOFT_TIME_LIMIT": "Soft time limit of a task (seconds): the task is told to stop.",
    "EMAIL_URL": "Outgoing mail, e.g. `smtp+tls://user:password@smtp.example.com:587`. Required with "
    "`DEBUG=0`, where a backend that keeps messages readable (`consolemail://`, `memorymail://`, "
    "`filemail://`) is refused unless `EMAIL_ALLOW_INSECURE_BACKEND=1`; with `DEBUG=1` it defaults to "
    "`consolemail://` (printed). Secret when it carries a password.",
    "EMAIL_ALLOW_INSECURE_BACKEND": "With `DEBUG=0`, accept an `EMAIL_URL` whose backend prints or keeps "
    "messages (console, memory, file): password-reset links then land in the logs or on disk. Only on "
    "purpose, e.g. a throwaway compose stack.",
    "DEFAULT_FROM_EMAIL": "Sender of the platform's emails.",
    "STATIC_ROOT": "Where `collectstatic` puts static files (the image collects them at build time).",
    "ACCOUNT_EMAIL_VERIFICATION": "Whether a new account must confirm its email before logging in "
    "(`mandatory`, `optional`, `none`).",
    "SECURE_SSL_REDIRECT": "Redirect plain HTTP to HTTPS (default: on with `DEBUG=0`); `/health` and "
    "`/metrics` are exempt so probes and scrapers can use plain HTTP inside the cluster.",
    "SESSION_COOKIE_SECURE": "Session cookie only over HTTPS (default: on with `DEBUG=0`).",
    "CSRF_COOKIE_SECURE": "CSRF cookie only over HTTPS (default: on with `DEBUG=0`).",
    "SECURE_HSTS_SECONDS": "Strict-Transport-Security max-age (default: a year with `DEBUG=0`).",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "HSTS includeSubDomains.",
    "SECURE_HSTS_PRELOAD": "HSTS preload.",
    "LOG_LEVEL": "Root log level.",
    "HEALTH_CHECK_TIMEOUT": "Seconds `/health/ready` gives the broker to answer.",
    "CONVERSION_CANDIDATES_SHOWN": "Candidate ASINs shown with a conversion's answer.",
    "KEEPA_API_KEY": "Keepa API key (with `keepa` in `PRODUCT_PROVIDERS`). Secret.",
    "KEEPA_API_BASE": "Keepa's API address (a local stand-in in tests).",
    "SPAPI_CLIENT_ID": "Login with Amazon client id of the SP-API application. Secret.",
    "SPAPI_CLIENT_SECRET": "Login with Amazon client secret. Secret.",
    "SPAPI_REFRESH_TOKEN": "The platform's own SP-API refresh token (with `spapi` in "
    "`PRODUCT_PROVIDERS`). Secret.",
    "LWA_TOKEN_URL": "Login with Amazon token endpoint.",
    "STRIPE_SECRET_KEY": "Stripe secret API key (`sk_live_...`); empty: no real payments. Secret.",
    "STRIPE_WEBHOOK_SECRET": "Signing secret of the Stripe webhook endpoint (`whsec_...`); required with "
    "`STRIPE_SECRET_KEY`. Secret.",
    "METRICS_TOKEN": "Bearer token Prometheus sends to `/metrics`. Required with `DEBUG=0` unless "
    "`METRICS_PUBLIC=1`; empty (development): open unless `METRICS_ALLOWED_NETWORKS` is set. Secret.",
    "METRICS_PUBLIC": "With `DEBUG=0`, start without `METRICS_TOKEN`: `/metrics` (purchases, reversals, "
    "per-view traffic) is then open, or limited to `METRICS_ALLOWED_NETWORKS`, which behind the "
    "ingress admits every request it forwards. Only on purpose.",
    "CONVERSION_TOKEN_KEYS": "Fernet keys (newest first) encrypting sellers' SP-API refresh tokens; "
    "empty: derived from `SECRET_KEY`, so set them before ever rotating `SECRET_KEY`. Secret.",
}


@dataclass(frozen=True)
class EnvVar:
    name: str
    cast: str
    default: str  # the default's source text ("" when there is none)
    comment: str  # the comment block right above the setting


def settings_env_vars(path: Path = SETTINGS_FILE) -> list[EnvVar]:
    """Every variable read through ``env.<cast>("NAME", default=...)``, and those of the apps'
    settings classes settings.py reads through ``read_environment(env, "app.conf", ...)``
    (core.appsettings), in the file's order."""
    source = path.read_text()
    lines = source.splitlines()
    found: dict[str, tuple[tuple[int, int, int], EnvVar]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        position = (node.lineno, node.col_offset)
        if _called(node) == "read_environment":
            paths = [
                arg.value
                for arg in node.args[1:]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            ]
            for index, var in enumerate(var for dotted in paths for var in declared_env_vars(dotted)):
                found.setdefault(var.name, ((*position, index), var))
            continue
        if not (
            _called(node) in READERS
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.isupper()
        ):
            continue
        name = node.args[0].value
        default = next((kw.value for kw in node.keywords if kw.arg == "default"), None)
        found.setdefault(
            name,
            (
                (*position, 0),
                EnvVar(
                    name=name,
                    cast=node.func.attr,
                    default=ast.get_source_segment(source, default) or "" if default is not None else "",
                    comment=_comment_above(lines, node.lineno),
                ),
            ),
        )
    return [var for _, var in sorted(found.values(), key=lambda item: item[0])]


def declared_env_vars(dotted: str) -> list[EnvVar]:
    """The variables declared with ``setting("NAME", default=...)`` by the settings classes at
    ``dotted`` (a module: all of its classes; or one class), read from their source."""
    module, class_name = dotted, None
    try:
        is_module = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a name inside a module (``app.conf.Class``)
        is_module = False
    if not is_module:
        module, _, class_name = dotted.rpartition(".")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"read_environment: no module {module!r}")
    source = Path(spec.origin).read_text()
    lines = source.splitlines()
    variables = []
    for statement in ast.parse(source).body:
        if not isinstance(statement, ast.ClassDef) or class_name not in (None, statement.name):
            continue
        for field in statement.body:
            if not (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.value, ast.Call)
                and _called(field.value) == "setting"
                and field.value.args
                and isinstance(field.value.args[0], ast.Constant)
            ):
                continue
            keywords = {kw.arg: kw.value for kw in field.value.keywords}
            default_from = keywords.get("default_from")
            default = keywords.get("default")
            if isinstance(default_from, ast.Constant):
                default_text = str(default_from.value)
            else:
                default_text = ast.get_source_segment(source, default) or "" if default is not None else ""
            variables.append(
                EnvVar(
                    name=str(field.value.args[0].value),
                    cast=ENV_READERS[ast.unparse(field.annotation)][0],
                    default=default_text,
                    comment=_comment_above(lines, field.lineno),
                )
            )
    return variables


def _called(node: ast.Call) -> str:
    """The name of the function a call calls (``env.int(...)``: ``int``)."""
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else ""


def _comment_above(lines: list[str], lineno: int) -> str:
    """The comment block over the statement at ``lineno`` (1-based) or over the run of settings it is in.

    Walks up past code lines (a group of settings shares the comment above its
    first one) to the nearest ``#`` block; a blank line or a section rule ends it.
    """
    index = lineno - 2
    while index >= 0 and lines[index].strip() and not lines[index].lstrip().startswith("#"):
        index -= 1
    comment: list[str] = []
    while index >= 0 and lines[index].lstrip().startswith("#"):
        text = lines[index].lstrip()[1:].strip()
        if text.startswith("---"):
            break
        comment.insert(0, text)
        index -= 1
    return " ".join(comment)


def markdown_table(variables: list[EnvVar]) -> str:
    rows = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for var in variables:
        default = f"`{var.default}`" if var.default else "(none)"
        meaning = NOTES.get(var.name) or var.comment
        cells = (f"`{var.name}`", var.cast, default, meaning)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)
