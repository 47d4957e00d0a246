"""The test suite's settings: config.settings, with each pytest-xdist worker on its own services.

pytest-django gives each xdist worker (``gw0``, ``gw1``...) its own test database
(``test_<name>_gw0``). Everything else the tests share is made per-worker here, in the
environment, before config/settings.py reads it, so this process and every process
a test starts (Celery workers, gunicorn, ``manage.py``) agree on it:

- ``VAR_DIR``: ``<VAR_DIR>/xdist-gw0`` (embedded Redis, filesystem broker, beat schedule);
- ``CACHE_KEY_PREFIX``: ``<prefix>-gw0``;
- ``REDIS_URL`` and ``CELERY_BROKER_URL``: worker N uses database ``n - 2*N`` (mod 16) of
  the same server, so with the CI's 15 (cache) and 14 (broker) gw0 has 15/14, gw1 13/12, ...
  up to 8 workers: a Celery worker started by one xdist worker consumes only its tasks,
  and raw Redis keys (metering, locks) never meet another worker's.

Ports are the OS's free ones (live_server, config/tests/gunicorn.py), per test.
Without xdist nothing changes. The adjustment is made once: a child process that
inherits both this module and the adjusted environment keeps it as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_MARK = "TEST_XDIST_ENVIRONMENT"
_REDIS_DATABASES = 16


def _shifted_redis_url(url: str, index: int) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return url
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db - 2 * index) % _REDIS_DATABASES}"))


def xdist_worker_environment(environ: os._Environ[str] | dict[str, str]) -> None:
    worker = environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or environ.get(_MARK) == worker:
        return
    index = int(worker.removeprefix("gw"))
    count = int(environ.get("PYTEST_XDIST_WORKER_COUNT") or index + 1)
    if count * 2 > _REDIS_DATABASES:
        raise RuntimeError(f"{count} xdist workers need {count * 2} Redis databases; a server has 16")
    base = Path(__file__).resolve().parents[2]
    environ["VAR_DIR"] = str(Path(environ.get("VAR_DIR") or base / "var") / f"xdist-{worker}")
    environ["CACHE_KEY_PREFIX"] = f"{environ.get('CACHE_KEY_PREFIX') or 'apip'}-{worker}"
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if environ.get(name):
            environ[name] = _shifted_redis_url(environ[name], index)
    environ[_MARK] = worker


xdist_worker_environment(os.environ)

from django.conf import global_settings  # noqa: E402

from config.settings import *  # noqa: E402, F403

# Password hashing is the largest cost of the suite (every factory user, every login):
# PBKDF2's 1,000,000 rounds cost ~0.3 s each. Tests hash with MD5 first; the production
# hashers stay listed so a hash made by a process on config.settings (gunicorn, a Celery
# worker) still verifies here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *global_settings.PASSWORD_HASHERS]
