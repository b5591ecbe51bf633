"""The one settings module of the workbench, driven by environment variables.

Every variable is read here and nowhere else; a bad value raises
``ImproperlyConfigured`` naming the variable. The defaults are safe for production
(``DEBUG`` off, secure cookies, HSTS, SSL redirect); ``make run`` and ``make test``
switch ``DEBUG`` on for local work. See the README's "Settings" table.

Variables come from the environment and, below it, from a local ``.env`` file
(``make install`` writes one with ``DEBUG=1`` and a generated ``SECRET_KEY`` when
there is none, so ``python manage.py ...`` works as the README prints it). A
variable set in the environment wins over the file. The file is read into a dict,
not into ``os.environ``: reading settings changes nothing else in the process.
``WORKBENCH_ENV_FILE`` names another file; set it empty to read none (a
deployment, or the settings tests that start Django with a clean environment).
"""

import importlib.util
import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from dotenv import dotenv_values

BASE_DIR = Path(__file__).resolve().parent.parent


def _read_env() -> dict[str, str]:
    """The environment over the ``.env`` file (when there is one)."""
    name = os.environ.get("WORKBENCH_ENV_FILE")
    path = BASE_DIR / ".env" if name is None else (Path(name) if name else None)
    from_file = {}
    if path is not None and path.is_file():
        values = dotenv_values(path)
        from_file = {key: value for key, value in values.items() if value is not None}
    return {**from_file, **os.environ}


_ENV = _read_env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, *, default: bool) -> bool:
    raw = _ENV.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def env_int(name: str, *, default: int, minimum: int = 0) -> int:
    raw = _ENV.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a whole number; got {raw!r}"
        ) from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def env_list(name: str, *, default: list[str]) -> list[str]:
    raw = _ENV.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_format_locale(name: str, *, default: str) -> str:
    """A locale Django has formats for, as a module name (``de_CH`` for ``de-CH``)."""
    raw = _ENV.get(name) or default
    locale = raw.strip().replace("-", "_")
    try:
        found = importlib.util.find_spec(f"django.conf.locale.{locale}.formats")
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ImproperlyConfigured(
            f"{name} must be a locale Django has formats for "
            f"(de, de_CH, en_GB, fr, ...); got {raw!r}"
        )
    return locale


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = _ENV.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off "
            "(e.g. SECRET_KEY=$(python -c "
            "'import secrets; print(secrets.token_urlsafe(50))'))"
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 (DEBUG only)

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])
PORT = env_int("PORT", default=8000, minimum=1)
if PORT > 65535:
    raise ImproperlyConfigured(f"PORT must be at most 65535; got {PORT}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",  # intcomma on the import job page
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_htmx",
    "django_tables2",
    "simple_history",
    "axes",
    # django.tasks' database backend: jobs (imports) are rows that `manage.py
    # worker` processes run, on SQLite and PostgreSQL alike.
    "django_tasks_db",
    "annotations",
    "annotations.bench",  # the benchmark commands (no models)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before sessions and auth (which read the database): an unreachable database
    # answers 503 with Retry-After, one log line, no traceback.
    "workbench.outage.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "workbench.urls"
WSGI_APPLICATION = "workbench.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "annotations.context_processors.team_roles",
            ],
        },
    },
]

_SQLITE_DEFAULT = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            _ENV.get("DATABASE_URL") or _SQLITE_DEFAULT,
            conn_max_age=env_int("DB_CONN_MAX_AGE", default=60),
            conn_health_checks=True,
        )
    }
except (ValueError, KeyError) as error:
    raise ImproperlyConfigured(
        f"DATABASE_URL is not a valid database URL: {error}"
    ) from None

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two writers wait for each other (busy timeout) instead of failing with
    # "database is locked"; IMMEDIATE takes the write lock at BEGIN so a read
    # inside a write transaction cannot deadlock against another writer.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test database is a file too, with the same WAL settings, not Django's
    # in-memory default: the browser tests' live server then gives each request
    # thread its own connection, as a real server does (an in-memory database has
    # one connection shared by every thread, and two requests at once, such as a
    # background save and a source lookup, use it concurrently: "bad parameter or
    # other API misuse"). One file per test run, removed at its end.
    DATABASES["default"]["TEST"] = {
        "NAME": str(
            Path(tempfile.gettempdir()) / f"workbench-test-{os.getpid()}.sqlite3"
        )
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
else:
    raise ImproperlyConfigured(
        "DATABASE_URL must point to SQLite (sqlite:///path) or PostgreSQL "
        f"(postgres://...); got engine {DATABASES['default']['ENGINE']!r}"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# dumpdata/loaddata backups keep timestamps to the microsecond (Django's JSON cuts
# them to milliseconds); see docs/deploying-safely.md.
SERIALIZATION_MODULES = {"json": "workbench.exact_json"}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = _ENV.get("TIME_ZONE", "Europe/Berlin")
# Dates and times on screen in this locale's numeric formats while the interface stays
# English (workbench/formats/en/formats.py); "de" gives 04.12.2026 15:37.
FORMAT_LOCALE = env_format_locale("FORMAT_LOCALE", default="de")
FORMAT_MODULE_PATH = ["workbench.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "annotations:work_list"
LOGOUT_REDIRECT_URL = "login"

# Production hardening: on by default, each switchable for a TLS-terminating proxy
# or a plain-HTTP local run (make run sets DEBUG=1, which turns them off).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True
)
# The preload flag only consents to the browsers' preload list (a site owner still
# has to submit the domain); Django's deploy check (security.W021) asks for it.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Django 6's built-in Content Security Policy: no inline script, no CDN.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# django-axes: lock a username+address after repeated failed logins.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", default=15, minimum=1) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Import limits (documented in the README). Files are streamed, so there is no
# limit per file on the command line; the web upload has a large one.
IMPORT_MAX_UPLOAD_BYTES = env_int(
    "IMPORT_MAX_UPLOAD_BYTES", default=2 * 1024**3, minimum=1
)
IMPORT_MAX_ARTICLE_CHARS = env_int(
    "IMPORT_MAX_ARTICLE_CHARS", default=2_000_000, minimum=1
)
# A job whose worker died (restart, crash, lost database connection) is run again
# this many times in all, then reported as failed.
IMPORT_JOB_MAX_ATTEMPTS = env_int("IMPORT_JOB_MAX_ATTEMPTS", default=3, minimum=1)

# Background jobs: Django's tasks framework with django-tasks-db's database
# backend (a table in the workbench's own database; `manage.py worker` runs them).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Uploaded import files wait here for a worker (never served over HTTP). Workers on
# other machines need the same folder (a shared mount) or another storage backend.
MEDIA_ROOT = Path(_ENV.get("MEDIA_ROOT") or BASE_DIR / "media")

DEMO_PASSWORD = _ENV.get("WORKBENCH_DEMO_PASSWORD", "workbench-demo")

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"
# The request body besides uploaded files (forms, JSON saves); uploads over
# FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) are streamed to temporary files on disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _ENV.get("LOG_LEVEL", "INFO")},
    # django-axes announces itself at every start; only its warnings matter.
    "loggers": {"axes": {"level": "WARNING"}},
}
