"""python manage.py worker [--batch] [--max-tasks N] [--recover-every SECONDS] ...

The workbench's worker: django-tasks-db's ``db_worker`` (same options, same loop)
with what a long import needs from it besides:

- jobs whose worker died (killed, restarted, its machine or its database
  connection gone) are run again or failed: at start, and every
  ``--recover-every`` seconds in a helper thread, by any live worker
  (``services.recover_interrupted_jobs``; exact, since a run holds a lock that
  dies with it);
- a database outage does not end the worker: ``db_worker`` exits on the first
  ``OperationalError``; this one logs one line, waits and goes on (the job that
  was running is then recovered like any other).

Run as many as you like, on any machines that reach the database.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.core.management.base import CommandError
from django.db import connections
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker

from annotations.jobs import recover_interrupted
from annotations.services import DATABASE_UNAVAILABLE

logger = logging.getLogger("annotations.worker")

OUTAGE_PAUSE_SECONDS = 5
_SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]


class Command(DbWorkerCommand):
    help = (
        "Run background jobs (imports) of the database task backend: django-tasks-"
        "db's db_worker, which also runs again (or fails) the jobs of workers that "
        "died, at start and every --recover-every seconds, and waits out a "
        "database outage instead of exiting. Run any number, on any machines."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--recover-every",
            type=float,
            default=60.0,
            help="seconds between looks for jobs whose worker died (default: 60)",
        )
        # Reloading runs the loop in a thread this command cannot guard; restart
        # the worker after a code change instead (make run does).
        parser.set_defaults(reload=False)

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        recover_every: float,
        **options,
    ) -> None:
        if reload:
            raise CommandError(
                "worker does not reload on code changes; restart it "
                "(or use db_worker --reload while developing)"
            )
        if recover_every <= 0:
            raise CommandError("--recover-every must be a positive number of seconds")
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
        )
        previous = {number: signal.getsignal(number) for number in _SIGNALS}
        worker.configure_signals()
        stop = threading.Event()
        if not batch:
            threading.Thread(
                target=_recover_periodically,
                args=(stop, recover_every),
                name="recover-jobs",
                daemon=True,
            ).start()
        logger.info(
            "worker %s: queues %s; jobs of dead workers recovered every %g s",
            worker_id,
            queue_name,
            recover_every,
        )
        try:
            _run(worker)
        finally:
            stop.set()
            for number, handler in previous.items():
                signal.signal(number, handler)


def _run(worker: Worker) -> None:
    """Recover, then run the worker's loop; after a database outage, again."""
    while True:
        try:
            _recover()
            worker.run()
            return
        except DATABASE_UNAVAILABLE as error:
            if not worker.running:
                return
            logger.warning(
                "database unavailable (%s); the worker tries again in %d s",
                _first_line(error),
                OUTAGE_PAUSE_SECONDS,
            )
            connections.close_all()
            time.sleep(OUTAGE_PAUSE_SECONDS)


def _recover() -> None:
    for line in recover_interrupted():
        logger.warning(line)


def _recover_periodically(stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            _recover()
        except DATABASE_UNAVAILABLE as error:
            logger.warning(
                "recovering jobs: database unavailable (%s)", _first_line(error)
            )
        except Exception:
            logger.exception("recovering jobs failed; trying again later")
        finally:
            connections.close_all()  # this thread's own connection


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
