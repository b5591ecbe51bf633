"""``manage.py bench_import``: how long a big JSONL takes to import, and in how much
memory, on the command line and as a job.

For each size a JSONL file of short German news items (about 97 bytes a row:
100,000 rows are 9.7 MB) is written to a temporary folder, then imported

- ``cli``: by ``manage.py import_articles FILE --quiet`` in a child process;
- ``job``: as the admin upload does (the file stored, a job queued on the
  database task backend), then run by ``manage.py worker --batch`` in a child;

each into its own scratch project, timed from start to finish, with the child's
peak resident set (``VmHWM``: the whole process, interpreter and drivers
included). The scratch projects are removed afterwards.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.core.management.base import CommandError

from ..jobs import start_import
from ..models import Article, ImportJob, Project
from .corpus import remove_project
from .export import child_database_url, measured_command, reported_peak_mb

_WHO = (
    "Der Minister",
    "Die Kanzlerin",
    "Ein Sprecher",
    "Die Opposition",
    "Der Verband",
)
_VERB = ("sagte", "kritisierte", "forderte", "betonte", "bestritt", "erklärte")
_WHAT = ("neue Steuern", "die Reform", "mehr Geld", "den Plan", "das Gesetz")


def write_jsonl(path: Path, rows: int, *, seed: int = 7) -> int:
    """``rows`` distinct short articles (a title and two sentences); the bytes."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for n in range(rows):
            text = (
                f"{rng.choice(_WHO)} {rng.choice(_VERB)} {rng.choice(_WHAT)}. "
                f"{rng.choice(_WHO)} {rng.choice(_VERB)} es."
            )
            handle.write(
                json.dumps({"title": f"Meldung {n}", "text": text}, ensure_ascii=False)
                + "\n"
            )
    return path.stat().st_size


def scratch_project(name: str) -> Project:
    slug = f"bench-import-{name}"
    old = Project.objects.filter(slug=slug).first()
    if old is not None:
        remove_project(old, user_prefix=f"{slug}-")
    return Project.objects.create(name=f"Import benchmark {name}", slug=slug)


def measure(path: str, rows: int, how: str) -> dict[str, object]:
    """One import of the file at ``path`` (``how``: "cli" or "job")."""
    url = child_database_url()
    if url is None:
        raise CommandError("bench_import needs a database file or PostgreSQL")
    project = scratch_project(f"{how}-{rows}")
    env = {**os.environ, "DATABASE_URL": url}
    try:
        started = time.perf_counter()
        if how == "cli":
            args = ["import_articles", path, "--project", project.slug, "--quiet"]
        else:
            with open(path, "rb") as handle:
                upload = UploadedFile(
                    handle, name=Path(path).name, size=Path(path).stat().st_size
                )
                job = start_import(project=project, user=None, uploads=[upload])
            args = ["worker", "--batch", "--no-startup-delay", "-v0"]
        finished = subprocess.run(
            measured_command(*args),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if finished.returncode != 0:
            raise CommandError(f"{how} import failed: {finished.stderr.strip()}")
        if how == "job":
            job.refresh_from_db()
            if job.state != ImportJob.State.DONE:
                raise CommandError(f"the job ended {job.state}: {job.message}")
        articles = Article.objects.filter(project=project).count()
        if articles != rows:
            raise CommandError(f"{how}: {articles} articles imported, not {rows}")
        return {
            "rows": rows,
            "how": how,
            "seconds": round(seconds, 1),
            "articles_per_second": round(rows / seconds),
            "peak_rss_mb": reported_peak_mb(finished.stderr, how),
            "load_average": round(os.getloadavg()[0], 2),
        }
    finally:
        remove_project(project, user_prefix=f"{project.slug}-")
