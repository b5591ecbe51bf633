"""A database that cannot be reached: 503 with Retry-After, one log line, no traceback.

In-process, the connection is made to fail (its ``ensure_connection`` raises, as
psycopg does when the server refuses the connection, or a view's query raises as
when the server went away mid-request). Then a real gunicorn, in a subprocess,
serves against a database nobody listens to (a closed port; an SQLite file that
cannot be opened), exactly as a user would meet a database restart.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.urls import reverse

from annotations.models import Segment
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
JSON = {"HTTP_ACCEPT": "application/json"}
REFUSED = OperationalError(
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
    "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
    "connections?"
)


@pytest.fixture
def article(project):
    return factories.make_article(project, n_sentences=3)


@pytest.fixture
def logged_in(client, annotator):
    client.force_login(annotator)  # before the database goes away
    return client


@pytest.fixture
def database_down(db):
    """Every new use of the connection fails, as while PostgreSQL restarts (and
    works again before the test database is rolled back)."""

    def refuse() -> None:
        raise REFUSED

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connection, "ensure_connection", refuse)
        yield


def save_url(article) -> str:
    sentence = Segment.objects.filter(article=article, kind="sentence").first()
    return reverse("annotations:save_annotation", args=[article.pk, sentence.position])


def warnings_and_errors(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.fixture
def url(article) -> str:
    return save_url(article)


def test_a_save_answers_503_json_with_retry_after(
    logged_in, url, database_down, caplog
):
    with caplog.at_level(logging.INFO):
        response = logged_in.post(url, {"dim-claim": "opinion"}, **JSON)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert "database cannot be reached" in body["message"]
    [line] = warnings_and_errors(caplog)
    assert line.name == "workbench.outage"
    assert line.getMessage() == (
        f"database unavailable: POST {url} answered 503 (OperationalError: "
        'connection failed: connection to server at "127.0.0.1", port 5432 '
        "failed: Connection refused)"
    )
    assert line.exc_info is None


def test_a_page_answers_a_plain_503_page(logged_in, url, database_down, caplog):
    with caplog.at_level(logging.INFO):
        response = logged_in.get(url.replace("/save/", "/"))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<h1>Briefly unavailable</h1>" in html
    assert "database cannot be reached" in html
    assert len(warnings_and_errors(caplog)) == 1
    assert "_session_cache" not in caplog.text


def test_an_anonymous_request_does_not_touch_the_session(client, database_down, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get("/", HTTP_COOKIE="sessionid=abc")
    assert response.status_code == 503
    assert len(warnings_and_errors(caplog)) == 1


def test_a_connection_lost_while_the_view_runs_is_a_503_too(
    logged_in, article, monkeypatch, caplog
):
    def lost(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("annotations.views.annotate.save_annotation", lost)
    with caplog.at_level(logging.INFO):
        response = logged_in.post(save_url(article), {"dim-claim": "opinion"}, **JSON)
    assert response.status_code == 503
    assert json.loads(response.content)["status"] == "unavailable"
    [line] = warnings_and_errors(caplog)
    assert "server closed the connection unexpectedly" in line.getMessage()
    # Django's request logger did not log the 503 a second time.
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_a_connection_lost_before_the_session_loads_is_a_503_too(
    logged_in, url, monkeypatch, caplog
):
    """The check at the start passed; the session's query is the one that fails
    (where the old follow-on error '_session_cache' came from)."""
    from django.contrib.sessions.backends.db import SessionStore

    def lost(self):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(SessionStore, "load", lost)
    with caplog.at_level(logging.INFO):
        response = logged_in.post(url, {"dim-claim": "opinion"}, **JSON)
    assert response.status_code == 503
    [line] = warnings_and_errors(caplog)
    assert "administrator command" in line.getMessage()
    assert "_session_cache" not in caplog.text


def test_other_database_errors_stay_errors(logged_in, article, monkeypatch):
    from django.db import ProgrammingError

    def bug(**kwargs):
        raise ProgrammingError("column does not exist")

    monkeypatch.setattr("annotations.views.annotate.save_annotation", bug)
    logged_in.raise_request_exception = False
    response = logged_in.post(save_url(article), {"dim-claim": "opinion"}, **JSON)
    assert response.status_code == 500


# --- a real server against a database nobody answers ----------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url: str, *, data: bytes | None = None, accept: str = "text/html"):
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers={"Accept": accept}),
            timeout=20,
        ) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.mark.parametrize(
    "database_url",
    [
        pytest.param(f"postgres://postgres@127.0.0.1:{free_port()}/gone", id="pg"),
        pytest.param("sqlite:////nonexistent-folder/db.sqlite3", id="sqlite"),
    ],
)
def test_gunicorn_without_its_database_answers_503_and_logs_one_line_each(
    database_url, tmp_path
):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "WORKBENCH_ENV_FILE": "",
        "DEBUG": "0",
        "SECRET_KEY": "k3J9-vQx_2mZpL8rT5wYb7NcD4fGh6JsA1eUoIiRtEyWqPlMnBvC",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": database_url,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=stderr,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        answers = [
            request(f"{base}/"),
            request(f"{base}/accounts/login/"),
            request(
                f"{base}/articles/1/segments/2/save/",
                data=b"dim-claim=opinion",
                accept="application/json",
            ),
            request(f"{base}/healthz"),
        ]
    finally:
        server.terminate()
        server.wait(30)
    output = log.read_text()
    statuses = [status for status, _, _ in answers]
    assert statuses == [503, 503, 503, 503], output
    assert all(headers["Retry-After"] == "5" for _, headers, _ in answers)
    assert "Briefly unavailable" in answers[0][2]
    assert json.loads(answers[2][2])["status"] == "unavailable"
    lines = [line for line in output.splitlines() if "database unavailable" in line]
    assert len(lines) == 4, output
    assert "Traceback" not in output
    assert "_session_cache" not in output
    assert "Internal Server Error" not in output
