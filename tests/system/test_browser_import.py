"""End to end: a manager uploads a JSONL and a hostile file in the admin, the page
answers at once, follows the job by itself (htmx) while a worker runs it, and shows
every file's outcome; the articles are there."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.core.management import call_command

from annotations.models import Article, ImportJob
from tests import factories
from tests.browser import screenshot
from tests.factories import PASSWORD

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROWS = 3000


@pytest.mark.browser
def test_an_upload_becomes_a_job_whose_page_follows_it_to_the_end(
    browser_page, live_server, transactional_db, settings, tmp_path
):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    project = factories.ProjectFactory(name="Korpus", slug="korpus")
    factories.UserFactory(username="chefin", is_staff=True, is_superuser=True)
    articles = tmp_path / "meldungen.jsonl"
    articles.write_text(
        "\n".join(
            json.dumps({"title": f"Meldung {n}", "text": f"Satz {n}. Noch ein Satz."})
            for n in range(ROWS)
        )
    )
    hostile = tmp_path / "tief.jsonl"
    hostile.write_text("[" * 100_000 + "]" * 100_000)

    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "chefin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/annotations/article/import/")
    page.select_option("#id_project", str(project.pk))
    page.set_input_files("#id_files", [str(articles), str(hostile)])
    page.click("input[type=submit]")

    # At once: the job's page, waiting for a worker, polling.
    page.wait_for_selector(".job-state")
    assert page.inner_text(".job-state") == "Waiting for a worker"
    assert "meldungen.jsonl, tief.jsonl: import #" in page.inner_text(".messagelist")
    screenshot(page, "import-job-waiting")

    # A worker runs the job while the page keeps polling.
    call_command("worker", "--batch", "--no-startup-delay", stdout=io.StringIO())

    page.wait_for_selector(".job-state:text('Done')", timeout=20_000)
    rows = page.inner_text(".job-files")
    assert f"meldungen.jsonl: imported {ROWS:,} article(s)" in rows
    assert "tief.jsonl line 1: the JSON is nested deeper than 8 levels" in rows
    assert page.inner_text(".job-percent") == "100 %"
    screenshot(page, "import-job-done")
    assert page.console_errors == []
    assert Article.objects.filter(project=project).count() == ROWS
    assert ImportJob.objects.get().state == ImportJob.State.DONE
