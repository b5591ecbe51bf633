"""Import jobs: queued on django.tasks' database backend, run by ``manage.py worker``,
each file whole or not at all, and a run whose worker died run again or failed.

Most tests here use the real database backend (django-tasks-db) and run one worker
pass in-process (``worker --batch``); the rest of the suite runs jobs at once with
the immediate backend (tests/conftest.py).
"""

from __future__ import annotations

import io
import json
import logging
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import OperationalError, connection
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from annotations import jobs, liveness, services
from annotations.models import Article, ImportJob, ImportJobFile, Segment


class WorkerKilled(BaseException):
    """What a killed worker looks like from inside: not an ``Exception``."""


def jsonl(prefix: str, count: int) -> bytes:
    rows = (
        {"title": f"{prefix} {n}", "text": f"Der {n}. Satz von {prefix}. Noch einer."}
        for n in range(count)
    )
    return "\n".join(json.dumps(row) for row in rows).encode()


def uploads(**files: bytes) -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile(name.replace("_", "."), data) for name, data in files.items()
    ]


@pytest.fixture
def database_tasks(transactional_db, settings) -> None:
    """The database backend, and committed data: the worker's loop drops a
    connection left inside a transaction (``close_old_connections``), as the
    test's wrapping transaction would be."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }


def run_worker_once() -> str:
    out = io.StringIO()
    call_command("worker", "--batch", "--no-startup-delay", stdout=out, stderr=out)
    return out.getvalue()


def outcomes(job: ImportJob) -> list[tuple[str, str, int]]:
    return [
        (file.name, file.state, file.articles)
        for file in job.files.order_by("position")
    ]


def test_a_queued_job_is_a_task_row_and_one_worker_pass_runs_it(
    project, manager, database_tasks
):
    job = jobs.start_import(
        project=project, user=manager, uploads=uploads(rows_jsonl=jsonl("Zeile", 3))
    )
    assert job.state == ImportJob.State.QUEUED
    task = DBTaskResult.objects.get(pk=job.task_id)
    assert task.status == TaskResultStatus.READY
    assert task.task_path == "annotations.jobs.run_import"
    assert task.args_kwargs == {"args": [job.pk, 1], "kwargs": {}}
    assert Article.objects.count() == 0  # nothing runs in the request

    run_worker_once()

    job.refresh_from_db()
    task.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert (job.percent, job.bytes_done, job.step) == (100, job.bytes_total, "")
    assert task.status == TaskResultStatus.SUCCESSFUL
    assert task.return_value == {
        "job": job.pk,
        "attempt": 1,
        "outcome": "done",
        "imported": 1,
    }
    assert outcomes(job) == [("rows.jsonl", "imported", 3)]
    assert Article.objects.filter(project=project, imported_by=manager).count() == 3


def test_every_file_of_an_upload_lands_whole_or_not_and_says_so(
    project, manager, database_tasks
):
    deep = b"[" * 100_000 + b"]" * 100_000
    job = jobs.start_import(
        project=project,
        user=manager,
        uploads=uploads(
            good_jsonl=jsonl("Gut", 2),
            deep_jsonl=jsonl("Tief", 2) + b"\n" + deep,
            notes_docx=b"PK\x03\x04",
            blank_txt=b"  \n",
        ),
    )
    # An unsupported type is refused at the upload, before any worker.
    assert ImportJobFile.objects.get(job=job, name="notes.docx").state == "refused"
    run_worker_once()
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert outcomes(job) == [
        ("good.jsonl", "imported", 2),
        ("deep.jsonl", "refused", 0),
        ("notes.docx", "refused", 0),
        ("blank.txt", "refused", 0),
    ]
    messages = dict(job.files.values_list("name", "message"))
    assert messages["deep.jsonl"] == (
        "deep.jsonl line 3: the JSON is nested deeper than 8 levels; a row is one "
        "flat object of text fields"
    )
    assert messages["notes.docx"].startswith("notes.docx: unsupported file type")
    assert messages["blank.txt"] == "blank.txt: the file is empty or only whitespace"
    assert set(Article.objects.values_list("source_file", flat=True)) == {"good.jsonl"}


def test_a_finished_job_leaves_no_upload_behind(project, manager, settings):
    job = jobs.start_import(
        project=project, user=manager, uploads=uploads(a_jsonl=jsonl("A", 1))
    )
    assert job.state == ImportJob.State.DONE
    assert not ImportJobFile.objects.filter(job=job).exclude(upload="").exists()
    assert not any((Path(settings.MEDIA_ROOT) / "imports" / str(job.pk)).iterdir())


def test_a_job_that_cannot_be_queued_is_not_made_and_keeps_no_file(
    project, manager, settings
):
    def broken_queue(job):
        raise RuntimeError("queue unavailable")

    with pytest.raises(RuntimeError):
        services.create_import_job(
            project=project,
            user=manager,
            uploads=uploads(a_jsonl=jsonl("A", 1)),
            enqueue=broken_queue,
        )
    assert not ImportJob.objects.exists()
    stored = Path(settings.MEDIA_ROOT) / "imports"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


def test_an_upload_whose_stored_file_is_gone_is_reported(
    project, manager, database_tasks
):
    job = jobs.start_import(
        project=project, user=manager, uploads=uploads(a_jsonl=jsonl("A", 1))
    )
    job.files.get().upload.delete(save=False)
    run_worker_once()
    job.refresh_from_db()
    [file] = job.files.all()
    assert (job.state, file.state) == ("done", "failed")
    assert "the uploaded file cannot be read on this worker" in file.message
    assert "MEDIA_ROOT" in file.message


# --- a worker that dies ---------------------------------------------------------------


def die_in_the_second_file(monkeypatch) -> None:
    """The worker is killed while it stores the second file (its first batch is
    written, the transaction not committed)."""
    monkeypatch.setattr(services, "IMPORT_BATCH_ARTICLES", 2)
    store_batch = services._store_batch

    def store_then_die(**kwargs):
        store_batch(**kwargs)
        if kwargs["source_file"] == "two.jsonl":
            raise WorkerKilled

    monkeypatch.setattr(services, "_store_batch", store_then_die)


def claimed_by_a_worker(job: ImportJob) -> DBTaskResult:
    task = DBTaskResult.objects.get(pk=job.task_id)
    task.claim("worker-that-dies")
    return task


def test_a_run_whose_worker_died_is_run_again_and_finishes_the_rest(
    project, manager, database_tasks, monkeypatch
):
    job = jobs.start_import(
        project=project,
        user=manager,
        uploads=uploads(one_jsonl=jsonl("Eins", 3), two_jsonl=jsonl("Zwei", 5)),
    )
    dead_task = claimed_by_a_worker(job)
    die_in_the_second_file(monkeypatch)
    with pytest.raises(WorkerKilled):
        services.run_import_job(job_id=job.pk, attempt=1)
    monkeypatch.undo()

    # Left behind: the job and its task "running", the first file complete, not
    # one row of the second (its transaction died with the worker).
    job.refresh_from_db()
    assert (job.state, job.attempt) == ("running", 1)
    assert outcomes(job) == [("one.jsonl", "imported", 3), ("two.jsonl", "pending", 0)]
    assert not Article.objects.filter(source_file="two.jsonl").exists()
    assert Article.objects.count() == 3

    lines = jobs.recover_interrupted()

    assert lines == [f"import job {job.pk}: interrupted, queued again (run 2)"]
    job.refresh_from_db()
    dead_task.refresh_from_db()
    assert (job.state, job.attempt) == ("queued", 2)
    assert "Interrupted" in job.step
    assert dead_task.status == TaskResultStatus.FAILED
    assert "stopped before it finished" in dead_task.traceback
    new_task = DBTaskResult.objects.get(pk=job.task_id)
    assert (new_task.status, new_task.args_kwargs["args"]) == ("READY", [job.pk, 2])

    run_worker_once()

    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert outcomes(job) == [("one.jsonl", "imported", 3), ("two.jsonl", "imported", 5)]
    assert Article.objects.count() == 8  # the first file was not imported twice
    assert Segment.objects.filter(article__source_file="two.jsonl").count() == 5 * 3
    assert jobs.recover_interrupted() == []


def test_a_job_interrupted_too_often_fails_with_a_message(
    project, manager, database_tasks, monkeypatch, settings
):
    settings.IMPORT_JOB_MAX_ATTEMPTS = 1
    job = jobs.start_import(
        project=project,
        user=manager,
        uploads=uploads(one_jsonl=jsonl("Eins", 1), two_jsonl=jsonl("Zwei", 4)),
    )
    task = claimed_by_a_worker(job)
    die_in_the_second_file(monkeypatch)
    with pytest.raises(WorkerKilled):
        services.run_import_job(job_id=job.pk, attempt=1)
    monkeypatch.undo()

    assert jobs.recover_interrupted() == [
        f"import job {job.pk}: interrupted 1 times, failed"
    ]
    job.refresh_from_db()
    task.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert job.message.startswith("The import was interrupted 1 times")
    assert task.status == TaskResultStatus.FAILED
    assert outcomes(job) == [("one.jsonl", "imported", 1), ("two.jsonl", "failed", 0)]
    assert job.files.get(name="two.jsonl").message.startswith("not imported: ")
    assert not Article.objects.filter(source_file="two.jsonl").exists()
    assert not job.files.exclude(upload="").exists()
    assert jobs.recover_interrupted() == []


def test_a_running_job_whose_worker_lives_is_left_alone(
    project, manager, database_tasks
):
    job = jobs.start_import(
        project=project, user=manager, uploads=uploads(a_jsonl=jsonl("A", 1))
    )
    claimed_by_a_worker(job)
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    holding, release = threading.Event(), threading.Event()

    def live_worker() -> None:  # another connection (PostgreSQL) or open file
        try:
            with liveness.holding(job.pk):
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=live_worker)
    thread.start()
    try:
        assert holding.wait(30)
        assert jobs.recover_interrupted() == []
        job.refresh_from_db()
        assert (job.state, job.attempt) == ("running", 1)
    finally:
        release.set()
        thread.join(30)
    # Its worker gone, the same job is recovered.
    assert jobs.recover_interrupted() == [
        f"import job {job.pk}: interrupted, queued again (run 2)"
    ]


def test_a_job_waiting_for_a_worker_is_not_recovered(project, manager, database_tasks):
    job = jobs.start_import(
        project=project, user=manager, uploads=uploads(a_jsonl=jsonl("A", 1))
    )
    assert jobs.recover_interrupted() == []
    job.refresh_from_db()
    assert (job.state, job.attempt) == ("queued", 1)


def test_a_run_given_up_on_does_nothing(project, manager, database_tasks):
    job = jobs.start_import(
        project=project, user=manager, uploads=uploads(a_jsonl=jsonl("A", 2))
    )
    ImportJob.objects.filter(pk=job.pk).update(attempt=2)
    result = services.run_import_job(job_id=job.pk, attempt=1)
    assert result == {"job": job.pk, "attempt": 1, "outcome": "superseded"}
    assert Article.objects.count() == 0
    assert job.files.get().state == "pending"


def test_a_lost_database_leaves_the_job_for_recovery(
    project, manager, database_tasks, monkeypatch
):
    """The connection is cut in the middle of a file: the run raises (it cannot
    write anything more), the job stays running for the recovery, the file has
    no row."""
    job = jobs.start_import(
        project=project, user=manager, uploads=uploads(a_jsonl=jsonl("A", 3))
    )

    def cut(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "_store_batch", cut)
    with pytest.raises(OperationalError):
        services.run_import_job(job_id=job.pk, attempt=1)
    job.refresh_from_db()
    assert (job.state, job.message) == ("running", "")
    assert job.files.get().state == "pending"
    assert Article.objects.count() == 0


def test_an_unexpected_error_fails_the_job_with_a_message(
    project, manager, database_tasks, monkeypatch
):
    job = jobs.start_import(
        project=project,
        user=manager,
        uploads=uploads(a_jsonl=jsonl("A", 1), b_jsonl=jsonl("B", 1)),
    )

    def bug(**kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(services, "_store_batch", bug)
    run_worker_once()
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert "unexpected error (ZeroDivisionError)" in job.message
    assert [file.state for file in job.files.all()] == ["failed", "failed"]
    task = DBTaskResult.objects.get(pk=job.task_id)
    assert task.status == TaskResultStatus.FAILED
    assert "ZeroDivisionError" in task.traceback


def test_the_worker_waits_out_a_database_outage(monkeypatch, caplog, database_tasks):
    """db_worker ends on the first OperationalError; ``worker`` logs one line,
    waits and goes on."""
    from annotations.management.commands import worker

    calls = []

    def recover_after_an_outage() -> list[str]:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("connection refused\nIs the server running?")
        return []

    monkeypatch.setattr(worker, "recover_interrupted", recover_after_an_outage)
    monkeypatch.setattr(worker.time, "sleep", lambda seconds: None)
    with caplog.at_level(logging.INFO, logger="annotations.worker"):
        run_worker_once()
    assert len(calls) == 2
    outage = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert outage == [
        "database unavailable (connection refused); the worker tries again in 5 s"
    ]
