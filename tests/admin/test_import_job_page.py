"""The import job's page in the admin: progress polled by htmx, every file's
outcome, scoped like the rest of the admin (a manager sees their projects' jobs
only), in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations.models import ImportJob, Role
from tests import factories


@pytest.fixture
def manager_client(client, project):
    manager = factories.member(project, role=Role.MANAGER, username="zz-manager")
    get_user_model().objects.filter(pk=manager.pk).update(is_staff=True)
    client.force_login(manager)
    return client


def make_job(project, *, files: int = 1, state: str = "running") -> ImportJob:
    job = ImportJob.objects.create(
        project=project,
        state=state,
        bytes_total=1000 * files,
        bytes_done=400 * files,
        step="Reading rows-0.jsonl: 4,000 articles so far",
    )
    for n in range(files):
        job.files.create(
            position=n,
            name=f"rows-{n}.jsonl",
            size=1000,
            state="imported" if n else "pending",
            articles=7 if n else 0,
            message=f"rows-{n}.jsonl: imported 7 article(s), 21 segments" if n else "",
        )
    return job


def page_url(job: ImportJob) -> str:
    return reverse("admin:annotations_importjob_change", args=[job.pk])


def progress_url(job: ImportJob) -> str:
    return reverse("admin:annotations_importjob_progress", args=[job.pk])


def test_a_running_job_shows_its_progress_and_polls_for_more(manager_client, project):
    job = make_job(project, files=2)
    response = manager_client.get(page_url(job))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<progress max="100" value="40">' in html
    assert "Reading rows-0.jsonl: 4,000 articles so far" in html
    assert f'hx-get="{progress_url(job)}" hx-trigger="every 1s"' in html
    assert "rows-1.jsonl: imported 7 article(s), 21 segments" in html
    assert "vendor/htmx.min.js" in html


def test_the_progress_partial_stops_polling_when_the_job_is_done(
    manager_client, project
):
    job = make_job(project)
    running = manager_client.get(progress_url(job), HTTP_HX_REQUEST="true")
    assert running.content.decode().lstrip().startswith('<section id="job-progress"')
    assert "hx-trigger" in running.content.decode()
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.DONE)
    done = manager_client.get(progress_url(job), HTTP_HX_REQUEST="true").content
    assert "hx-trigger" not in done.decode()
    assert '<progress max="100" value="100">' in done.decode()
    assert "Import more files" in done.decode()


def test_a_failed_job_says_why(manager_client, project):
    job = make_job(project, state="failed")
    ImportJob.objects.filter(pk=job.pk).update(message="The import was given up.")
    html = manager_client.get(page_url(job)).content.decode()
    assert '<p class="errornote">The import was given up.</p>' in html


def test_another_projects_job_does_not_exist_for_a_manager(manager_client, project):
    other = factories.ProjectFactory(name="ZZOTHER")
    job = make_job(other)
    for url in (page_url(job), progress_url(job)):
        response = manager_client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:index")
        assert "rows-0" not in response.content.decode()
    listing = manager_client.get(reverse("admin:annotations_importjob_changelist"))
    assert "ZZOTHER" not in listing.content.decode()


def test_an_annotator_is_sent_to_the_admin_login(client, project, annotator):
    job = make_job(project)
    client.force_login(annotator)
    response = client.get(progress_url(job))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_running_job_cannot_be_deleted_a_finished_one_can(manager_client, project):
    running, done = make_job(project), make_job(project, state="done")
    delete = "admin:annotations_importjob_delete"
    assert manager_client.get(reverse(delete, args=[running.pk])).status_code == 403
    response = manager_client.post(reverse(delete, args=[done.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert list(ImportJob.objects.all()) == [running]


@pytest.mark.parametrize("view", [page_url, progress_url])
def test_the_job_page_queries_do_not_grow_with_its_files(
    manager_client, project, django_assert_max_num_queries, view
):
    small = make_job(project, files=1)
    with CaptureQueriesContext(connection) as one_file:
        assert manager_client.get(view(small)).status_code == 200
    big = make_job(project, files=40)
    with django_assert_max_num_queries(len(one_file.captured_queries)):
        assert manager_client.get(view(big)).status_code == 200
    # The poll: session, user, managed projects, the job, its files.
    assert len(one_file.captured_queries) == (5 if view is progress_url else 8)
