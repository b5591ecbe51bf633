"""Is a job's run still alive? A lock that dies with the process that holds it.

A worker that runs a job holds the job's lock for the whole run. When the worker
is killed, its machine restarts or its database connection is cut, the lock goes
with it, at once and without any timer, so ``services.recover_interrupted_jobs``
can tell a dead run from a slow one exactly: a job marked running whose lock can
be taken has nobody running it.

- PostgreSQL: a session-level advisory lock (``pg_advisory_lock``), released by the
  server when the holding connection ends; works for workers on any machine.
- SQLite: ``flock`` on a small file beside the database file (SQLite runs on one
  machine), released by the kernel when the holding process ends.

Both are re-entrant only in the sense that matters here: a second ``try_holding``
from another connection (PostgreSQL) or another open file (SQLite), also in the
same process, finds the lock taken.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import DatabaseError, connection

# The advisory-lock namespace of import jobs ("IJ"), the first of the two keys.
_NAMESPACE = 0x494A


@contextmanager
def holding(job_id: int) -> Iterator[None]:
    """Hold the job's lock while the block runs; waits while someone else holds it
    (a recovery deciding about this job takes it for a moment)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A worker machine that loses power sends no goodbye: with these the
            # server ends its session (and the lock) within about a minute,
            # instead of the operating system's two hours.
            cursor.execute(
                "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; "
                "SET tcp_keepalives_count = 3"
            )
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_NAMESPACE, job_id])
        try:
            yield
        finally:
            _pg_unlock(job_id)
        return
    with _lock_file(job_id) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def try_holding(job_id: int) -> Iterator[bool]:
    """Take the job's lock if nobody holds it: yields True (and holds it for the
    block) when taken, False when a live run holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_NAMESPACE, job_id])
            taken = cursor.fetchone()[0]
        try:
            yield taken
        finally:
            if taken:
                _pg_unlock(job_id)
        return
    with _lock_file(job_id) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True


def _pg_unlock(job_id: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_NAMESPACE, job_id])
    except DatabaseError:
        # The connection is gone, and the lock with it.
        pass


@contextmanager
def _lock_file(job_id: int) -> Iterator[int]:
    folder = _lock_folder()
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder / f"job-{job_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield handle
    finally:
        os.close(handle)  # releases the flock too


def _lock_folder() -> Path:
    """Beside the SQLite database file (local by nature). An in-memory database
    (the tests) lives in one process only: a temporary folder of that process,
    removed when it exits."""
    if connection.is_in_memory_db():
        folder = Path(tempfile.gettempdir()) / f"workbench-job-locks-{os.getpid()}"
        if not folder.exists():
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
        return folder
    return Path(connection.settings_dict["NAME"]).resolve().parent / ".job-locks"
