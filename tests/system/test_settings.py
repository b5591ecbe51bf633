"""Production settings: secure by default, each protection switchable, loud when bad.

Settings are read once at import, so every case runs Django in a subprocess with a
clean environment (only PATH and HOME), exactly as a deployment would start it: no
local ``.env`` file either (``WORKBENCH_ENV_FILE`` empty), except in the tests of
that file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
# 50 random-looking characters: Django's deploy check wants a long, varied key.
SECRET = "k3J9-vQx_2mZpL8rT5wYb7NcD4fGh6JsA1eUoIiRtEyWqPlMnBvC"
PRODUCTION = {"DEBUG": "False", "SECRET_KEY": SECRET, "ALLOWED_HOSTS": "wb.example.org"}

DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": s.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "SECURE_HSTS_PRELOAD": s.SECURE_HSTS_PRELOAD,
    "SECURE_PROXY_SSL_HEADER": s.SECURE_PROXY_SSL_HEADER,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "PORT": s.PORT,
    "ENGINE": s.DATABASES["default"]["ENGINE"],
    "DB_OPTIONS": s.DATABASES["default"].get("OPTIONS", {}),
    "AXES_FAILURE_LIMIT": s.AXES_FAILURE_LIMIT,
    "SECRET_KEY": s.SECRET_KEY,
}))
"""


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "workbench.settings",
        "WORKBENCH_ENV_FILE": "",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings_under(env: dict[str, str]) -> dict:
    done = run_python(["-c", DUMP], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_deploy_check_passes_with_only_debug_secret_key_and_allowed_hosts():
    done = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_deploy_check_notices_when_a_protection_is_switched_off():
    # Proves the check above is sensitive: turning HSTS off makes it fail.
    done = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {**PRODUCTION, "SECURE_HSTS_SECONDS": "0", "SECURE_SSL_REDIRECT": "0"},
    )
    assert done.returncode != 0
    assert "security.W004" in done.stderr
    assert "security.W008" in done.stderr


@pytest.mark.parametrize(
    "secret",
    [
        None,
        "",
    ],
)
def test_debug_off_without_secret_key_stops_and_names_the_variable(secret):
    env = {"DEBUG": "False", "ALLOWED_HOSTS": "wb.example.org"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    done = run_python(["manage.py", "check"], env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr


def test_debug_is_off_when_the_variable_is_missing():
    done = run_python(["manage.py", "check"], {"ALLOWED_HOSTS": "x"})
    # No DEBUG means production, so the missing SECRET_KEY stops the start.
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PORT", "0"),
        ("DATABASE_URL", "nonsense://"),
        ("DATABASE_URL", "mysql://user@host/db"),
        ("SECURE_SSL_REDIRECT", "perhaps"),
        ("SESSION_COOKIE_SECURE", "2"),
        ("CSRF_COOKIE_SECURE", "nope"),
        ("SECURE_HSTS_SECONDS", "one year"),
        ("SECURE_HSTS_SECONDS", "-1"),
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto"),
        ("AXES_FAILURE_LIMIT", "0"),
        ("IMPORT_MAX_UPLOAD_BYTES", "5MB"),
    ],
)
def test_a_bad_value_stops_the_start_and_names_the_variable(variable, value):
    env = {**PRODUCTION, variable: value}
    done = run_python(["manage.py", "check"], env)
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert variable in last_line


def test_production_defaults_are_secure():
    values = settings_under(PRODUCTION)
    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    # The proxy header is trusted only when asked for: otherwise any client could
    # claim HTTPS by sending X-Forwarded-Proto.
    assert values["SECURE_PROXY_SSL_HEADER"] is None
    assert values["ALLOWED_HOSTS"] == ["wb.example.org"]
    assert values["AXES_FAILURE_LIMIT"] == 5
    assert values["SECRET_KEY"] == SECRET


def test_each_protection_is_switchable_by_its_documented_variable():
    values = settings_under(
        {
            **PRODUCTION,
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "no",
            "SECURE_HSTS_SECONDS": "0",
            "SECURE_PROXY_SSL_HEADER": "1",
            "PORT": "8123",
            "ALLOWED_HOSTS": "a.example.org, b.example.org",
        }
    )
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["PORT"] == 8123
    assert values["ALLOWED_HOSTS"] == ["a.example.org", "b.example.org"]


def test_local_debug_run_has_no_https_requirements_and_a_local_key():
    values = settings_under({"DEBUG": "1"})
    assert values["DEBUG"] is True
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECRET_KEY"].startswith("django-insecure-")


def test_sqlite_waits_for_other_writers_and_postgres_url_uses_psycopg():
    sqlite = settings_under(
        {"DEBUG": "1", "DATABASE_URL": "sqlite:////tmp/wb-x.sqlite3"}
    )
    assert sqlite["DB_OPTIONS"]["timeout"] >= 5
    assert sqlite["DB_OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    postgres = settings_under(
        {"DEBUG": "1", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/wb"}
    )
    assert postgres["ENGINE"] == "django.db.backends.postgresql"


# In-process: the middleware really acts on these settings.


def test_plain_http_is_redirected_to_https_when_the_redirect_is_on(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_behind_a_tls_proxy_the_forwarded_proto_counts_as_https(client, settings, db):
    # (db: every request that gets past the HTTPS redirect checks the database
    # first, workbench/outage.py)
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = client.get(reverse("login"), headers={"x-forwarded-proto": "https"})
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    # Without the header the same proxy setting still redirects.
    assert client.get(reverse("login")).status_code == 301


def test_secure_cookie_settings_reach_the_cookies(client, settings, annotator):
    from tests.factories import PASSWORD

    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client.get(reverse("login"))
    response = client.post(
        reverse("login"), {"username": "annotator1", "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["sessionid"]["httponly"] is True
    assert response.cookies["csrftoken"]["secure"] is True


# The local .env file (make install writes it; the settings read it).


def write_env_file_with_make(path: Path) -> str:
    """The file exactly as `make install` writes it (the Makefile's own rule)."""
    done = subprocess.run(
        ["make", "-s", f"ENV_FILE={path}", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return path.read_text()


def test_make_install_writes_a_private_env_file_once(tmp_path):
    path = tmp_path / ".env"
    content = write_env_file_with_make(path)
    assert "DEBUG=1" in content.splitlines()
    [key] = [
        line[11:] for line in content.splitlines() if line.startswith("SECRET_KEY=")
    ]
    assert len(key) >= 50
    assert len(set(key)) > 20  # random, not a constant
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text(content + "PORT=8123\n")
    write_env_file_with_make(path)  # a second install leaves it alone
    assert path.read_text() == content + "PORT=8123\n"
    assert write_env_file_with_make(tmp_path / "other.env") != content  # a new key


def test_settings_read_the_env_file_and_the_environment_wins(tmp_path):
    path = tmp_path / ".env"
    path.write_text(f"DEBUG=1\nSECRET_KEY={SECRET}\nPORT=8123\n")
    from_file = settings_under({"WORKBENCH_ENV_FILE": str(path)})
    assert (from_file["DEBUG"], from_file["SECRET_KEY"]) == (True, SECRET)
    assert from_file["PORT"] == 8123
    overridden = settings_under(
        {"WORKBENCH_ENV_FILE": str(path), "PORT": "9000", "DEBUG": "0"}
    )
    assert (overridden["PORT"], overridden["DEBUG"]) == (9000, False)
    # Without a file (or with WORKBENCH_ENV_FILE empty) nothing is read.
    missing = run_python(["manage.py", "check"], {"WORKBENCH_ENV_FILE": "/no/.env"})
    assert "SECRET_KEY must be set when DEBUG is off" in missing.stderr


def test_a_bad_value_in_the_env_file_names_the_variable(tmp_path):
    path = tmp_path / ".env"
    path.write_text(f"DEBUG=1\nSECRET_KEY={SECRET}\nPORT=eighty\n")
    done = run_python(["manage.py", "check"], {"WORKBENCH_ENV_FILE": str(path)})
    assert done.returncode != 0
    assert "PORT must be a whole number; got 'eighty'" in done.stderr


def test_the_deploy_check_still_refuses_the_env_files_debug(tmp_path):
    path = tmp_path / ".env"
    write_env_file_with_make(path)
    done = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {"WORKBENCH_ENV_FILE": str(path), "ALLOWED_HOSTS": "wb.example.org"},
    )
    assert done.returncode != 0
    assert "security.W018" in done.stderr  # DEBUG in deployment
