"""Background jobs, on Django's own tasks framework (``django.tasks``).

The backend is django-tasks-db's database backend (``settings.TASKS``): a queued
task is a row in the workbench's database, and ``python manage.py worker`` (any
number of them, on any machine that reaches the database) runs them. This module
is the only one that knows about tasks: it defines them and queues them; the work
and every write are in ``services`` (``create_import_job``, ``run_import_job``,
``recover_interrupted_jobs``), which get the queueing function passed in, so the
layers keep pointing one way (views, admin and commands -> jobs -> services).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.tasks import task

from . import services
from .models import ImportJob, Project


@task()
def run_import(job_id: int, attempt: int) -> dict[str, object]:
    """One run of an import job (in a worker)."""
    return services.run_import_job(job_id=job_id, attempt=attempt)


def enqueue_import(job: ImportJob) -> str:
    """Queue a run of the job's current attempt; the id of its task."""
    return str(run_import.enqueue(job.pk, job.attempt).id)


def start_import(
    *, project: Project, user, uploads: Sequence[UploadedFile]
) -> ImportJob:
    """Store the uploads and queue their import; returns at once."""
    return services.create_import_job(
        project=project, user=user, uploads=uploads, enqueue=enqueue_import
    )


def recover_interrupted() -> list[str]:
    """Run again (or fail) the jobs whose worker died; one line per job."""
    return services.recover_interrupted_jobs(enqueue=enqueue_import)
