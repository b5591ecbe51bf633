"""Writes that span models. Each is keyword-only, validates first, then runs in one
transaction, so it lands whole or not at all."""

from __future__ import annotations

import datetime as dt
import io
import logging
import pickle
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Exists, F, Max, OuterRef
from django.db.models.functions import Coalesce, Now
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from simple_history.utils import bulk_update_with_history

from . import liveness, scheme_data
from .assignment import AssignmentError, plan_assignments
from .export.cells import label_renderer, project_renderer, store_export_cells
from .importing import (
    SUPPORTED_SUFFIXES,
    ArticleDraft,
    DraftReader,
    ImportRefused,
    check_suffix,
    read_drafts,
)
from .models import (
    ANNOTATABLE_KINDS,
    PER_SEGMENT_ROLES,
    Annotation,
    AnnotationLabel,
    Article,
    Assignment,
    Attribution,
    Dimension,
    DimensionRole,
    ImportedSuggestion,
    ImportJob,
    ImportJobFile,
    Label,
    LabelScheme,
    Membership,
    Project,
    Role,
    Segment,
    Source,
    StanceEntry,
    StanceTarget,
    SuggestionUse,
)
from .permissions import has_role
from .scheme import SchemeIndex
from .snapshot import (
    AnnotationInput,
    AttributionInput,
    StanceInput,
    annotation_values,
    source_key,
    with_source_names,
)
from .suggesting.external import ExternalSuggestion, SuggestionsRefused

__all__ = [  # the inputs of save_annotation, for its callers
    "AnnotationInput",
    "AttributionInput",
    "StanceInput",
]

DEMO_PROJECT_SLUG = "seed"

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Scheme and projects
# ---------------------------------------------------------------------------


@transaction.atomic
def load_scheme(*, data: dict | None = None) -> tuple[LabelScheme, bool]:
    """Create a scheme from plain data (the default one unless given).

    Idempotent on (slug, version): an existing scheme is returned untouched, because
    managers may have edited it in the admin since.
    """
    data = data or scheme_data.default_scheme()
    scheme, created = LabelScheme.objects.get_or_create(
        slug=data["slug"],
        version=data["version"],
        defaults={"name": data["name"], "description": data.get("description", "")},
    )
    if not created:
        return scheme, False
    labels = []
    for order, dim in enumerate(data["dimensions"]):
        dimension = Dimension.objects.create(
            scheme=scheme,
            code=dim["code"],
            role=dim["role"],
            name_de=dim["name_de"],
            name_en=dim["name_en"],
            kind=dim["kind"],
            required=dim.get("required", False),
            off_by_default=dim.get("off_by_default", False),
            allows_primary=dim.get("allows_primary", False),
            order=order,
        )
        labels += [
            Label(dimension=dimension, order=label_order, **label)
            for label_order, label in enumerate(dim["labels"])
        ]
    Label.objects.bulk_create(labels)
    return scheme, True


def default_scheme() -> LabelScheme:
    return load_scheme()[0]


@transaction.atomic
def create_project(
    *,
    name: str,
    slug: str,
    language: str = "de",
    description: str = "",
    scheme: LabelScheme | None = None,
    stance_targets: Iterable[tuple[str, str, str, str]] = (),
) -> Project:
    project = Project.objects.create(
        name=name,
        slug=slug,
        language=language,
        description=description,
        scheme=scheme or default_scheme(),
    )
    StanceTarget.objects.bulk_create(
        StanceTarget(
            project=project,
            code=code,
            name=target,
            question=question,
            key=key,
            order=order,
        )
        for order, (code, target, question, key) in enumerate(stance_targets)
    )
    return project


def ensure_seed_project() -> Project:
    """The project the seed articles go into (``make run``)."""
    project = Project.objects.filter(slug=DEMO_PROJECT_SLUG).first()
    if project is not None:
        return project
    return create_project(
        name="Seed corpus: Ukraine diplomacy opinion pieces",
        slug=DEMO_PROJECT_SLUG,
        description="The two German opinion articles that ship in seeds/.",
        stance_targets=scheme_data.SEED_STANCE_TARGETS,
    )


# ---------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------
#
# A file is read, checked and segmented first, into a spool file on disk (no
# transaction, no lock: a refused file never opens one, and a job's progress can
# be written meanwhile, also on SQLite with its one writer at a time), then stored
# in one transaction, in batches: whole or not at all, with flat memory.

# A batch: this many articles or this many characters of text, whichever first.
IMPORT_BATCH_ARTICLES = 1000
IMPORT_BATCH_CHARS = 4_000_000
# A job's progress is written at most this often while a file is read.
PROGRESS_EVERY_SECONDS = 0.5
# Of a file's share of the progress bar, reading it takes this much, storing
# the rest (measured at 100,000 articles: 5.8 s reading, checking and
# segmenting, 4.2-4.7 s storing; docs/performance.md).
READ_SHARE = 0.6

Progress = Callable[[str, int], None]  # (what happens, in words; bytes read)


@dataclass
class FileImportResult:
    """What importing one file did; ``error`` is set when it was refused or failed."""

    name: str
    articles: int = 0
    segments: int = 0
    duplicates: int = 0
    error: str = ""
    refused: bool = False  # the file itself was refused (not a database failure)
    article_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class _Spooled:
    """A checked, segmented article as it waits in the spool (plain values only)."""

    title: str
    text: str
    byline: str
    outlet: str
    url: str
    published: dt.date | None
    language: str
    content_hash: str
    segments: tuple[tuple[int, str, int, int, int], ...]  # position, kind, par., span

    @classmethod
    def of(cls, draft: ArticleDraft) -> _Spooled:
        return cls(
            title=draft.title,
            text=draft.text,
            byline=draft.byline,
            outlet=draft.outlet,
            url=draft.url,
            published=draft.published,
            language=draft.language,
            content_hash=draft.content_hash,
            segments=tuple(
                (span.position, span.kind, span.paragraph, span.start, span.end)
                for span in draft.segments
            ),
        )


def import_stream(
    *,
    project: Project,
    name: str,
    stream: BinaryIO,
    user=None,
    progress: Progress | None = None,
    record: Callable[[FileImportResult], None] | None = None,
    collect_ids: bool = False,
) -> FileImportResult:
    """Import one file from a binary stream: whole, or refused with a message.

    ``progress(step, bytes_read)`` is called now and then while the file is read
    (outside any transaction). ``record(result)`` runs inside the file's
    transaction after its last article: what it writes (a job's record of the
    file) lands with the articles or not at all. ``collect_ids`` keeps the new
    articles' ids in the result (for small imports; a million ids are 40 MB).

    Cost: per batch of up to 1,000 articles one INSERT of the articles (texts
    the project has are skipped by the database) and one of their segments; on
    PostgreSQL both go through COPY.
    """
    try:
        reader = read_drafts(
            stream,
            name=name,
            max_chars=settings.IMPORT_MAX_ARTICLE_CHARS,
            language=project.language,
        )
        with tempfile.TemporaryFile(prefix="workbench-import-") as spool:
            count = _spool_drafts(reader, spool, name=name, progress=progress)
            if progress is not None:
                progress(f"Storing {count:,} articles of {name}", reader.bytes_read)
            spool.seek(0)
            return _store_spool(
                project=project,
                spool=spool,
                name=name,
                user=user,
                record=record,
                collect_ids=collect_ids,
            )
    except ImportRefused as refusal:
        return FileImportResult(name=name, error=str(refusal), refused=True)
    except IntegrityError as error:
        # A constraint the checks above did not foresee: the transaction is gone.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return FileImportResult(
            name=name,
            error=f"{name}: the database refused it ({reason}); nothing of the file "
            "was stored",
        )


def _spool_drafts(
    reader: DraftReader, spool: BinaryIO, *, name: str, progress: Progress | None
) -> int:
    """Read, check and segment every article into ``spool`` (pickled batches of
    plain values this process wrote itself). Raises ``ImportRefused``."""
    batch: list[_Spooled] = []
    chars = count = 0
    reported = time.monotonic()
    for draft in reader:
        batch.append(_Spooled.of(draft))
        chars += len(draft.text)
        count += 1
        if len(batch) >= IMPORT_BATCH_ARTICLES or chars >= IMPORT_BATCH_CHARS:
            pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
            batch, chars = [], 0
        if progress is not None and time.monotonic() - reported >= (
            PROGRESS_EVERY_SECONDS
        ):
            progress(f"Reading {name}: {count:,} articles so far", reader.bytes_read)
            reported = time.monotonic()
    if batch:
        pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
    return count


def _store_spool(
    *,
    project: Project,
    spool: BinaryIO,
    name: str,
    user,
    record: Callable[[FileImportResult], None] | None,
    collect_ids: bool,
) -> FileImportResult:
    result = FileImportResult(name=name)
    imported_by = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        while True:
            try:
                batch = pickle.load(spool)  # noqa: S301 (our own spool, just written)
            except EOFError:
                break
            _store_batch(
                project=project,
                batch=batch,
                source_file=name,
                imported_by=imported_by,
                result=result,
                collect_ids=collect_ids,
            )
        if record is not None:
            record(result)
    return result


def _store_batch(
    *,
    project: Project,
    batch: list[_Spooled],
    source_file: str,
    imported_by,
    result: FileImportResult,
    collect_ids: bool,
) -> None:
    """Store one batch in two statements: the articles (a text already in the
    project, also from earlier in this file or from an import running beside
    this one, is skipped by the unique constraint and counted as a duplicate),
    then the segments of the new ones."""
    kept: dict[str, _Spooled] = {}
    for row in batch:
        if row.content_hash in kept:
            result.duplicates += 1  # the same text twice in one batch
        else:
            kept[row.content_hash] = row
    ops = connection.ops
    imported_at = ops.adapt_datetimefield_value(timezone.now())
    imported_by_id = imported_by.pk if imported_by is not None else None
    ids = _insert_articles(
        [
            (
                project.pk,
                row.title,
                row.byline,
                row.outlet,
                row.url,
                ops.adapt_datefield_value(row.published),
                row.language,
                row.text,
                row.content_hash,
                source_file,
                imported_at,
                imported_by_id,
                len(row.segments),
                sum(kind in ANNOTATABLE_KINDS for _, kind, _, _, _ in row.segments),
            )
            for row in kept.values()
        ]
    )
    result.duplicates += len(kept) - len(ids)
    new = [row for content_hash, row in kept.items() if content_hash in ids]
    _insert_rows(
        Segment,
        _SEGMENT_COLUMNS,
        (
            (
                ids[row.content_hash],
                position,
                kind,
                paragraph,
                start,
                end,
                row.text[start:end],
            )
            for row in new
            for position, kind, paragraph, start, end in row.segments
        ),
    )
    result.articles += len(new)
    result.segments += sum(len(row.segments) for row in new)
    if collect_ids:
        result.article_ids += [ids[row.content_hash] for row in new]


_ARTICLE_COLUMNS = (
    "project",
    "title",
    "byline",
    "outlet",
    "url",
    "published",
    "language",
    "text",
    "content_hash",
    "source_file",
    "imported_at",
    "imported_by",
    "segment_count",
    "annotatable_count",
)
_SEGMENT_COLUMNS = ("article", "position", "kind", "paragraph", "start", "end", "text")


def _insert_articles(rows: list[tuple]) -> dict[str, int]:
    """INSERT the article rows (``_ARTICLE_COLUMNS``), skipping texts the project
    has (``ON CONFLICT DO NOTHING`` on its unique constraint); the new articles'
    ids by content hash (``RETURNING``).

    PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT from it
    (40 ms per 1,000 articles; binding 14,000 parameters in Python took 100 ms,
    and SELECTs for duplicates and ids scanned the whole project while a big
    file is stored in one transaction, since the statistics do not know the new
    rows yet). SQLite binds parameters in C: one multi-row INSERT, sent past
    Django's debug cursor: with DEBUG on it keeps the last 9,000 statements with
    their values written in, 150 KB for each batch of articles (250 MB more at a
    million rows).
    """
    if not rows:
        return {}
    qn = connection.ops.quote_name
    meta = Article._meta
    column = {name: qn(meta.get_field(name).column) for name in _ARTICLE_COLUMNS}
    columns = ", ".join(column.values())
    conflict = (
        f"ON CONFLICT ({column['project']}, {column['content_hash']}) DO NOTHING "
        f"RETURNING {column['content_hash']}, {qn(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            stage = qn("workbench_import_stage")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "
                f"SELECT {columns} FROM {qn(meta.db_table)} WITH NO DATA"
            )
            cursor.execute(f"TRUNCATE {stage}")
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {qn(meta.db_table)} ({columns}) "
                f"SELECT {columns} FROM {stage} {conflict}"
            )
        else:
            one_row = "(" + ", ".join(["%s"] * len(_ARTICLE_COLUMNS)) + ")"
            with connection.wrap_database_errors:
                cursor.cursor.execute(
                    f"INSERT INTO {qn(meta.db_table)} ({columns}) "
                    f"VALUES {', '.join([one_row] * len(rows))} {conflict}",
                    [value for row in rows for value in row],
                )
        return dict(cursor.fetchall())


def _insert_rows(model, fields: Sequence[str], rows: Iterable[tuple]) -> None:
    """A plain INSERT of many rows, values already as the database takes them:
    COPY on PostgreSQL, ``executemany`` on SQLite. The ORM's ``bulk_create``
    builds a model instance and prepares every value of every row in Python,
    which made storing 100,000 articles with 300,000 segments take 21 s on
    SQLite, 4 times the database's own work. The database still checks every
    constraint (unique texts, segment offsets)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(model._meta.get_field(name).column) for name in fields
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows
            )


def store_drafts(
    *, project: Project, drafts: list[ArticleDraft], user=None
) -> FileImportResult:
    """Store drafts parsed in memory in one transaction (texts already there are
    skipped); the new articles' ids are in the result."""
    result = FileImportResult(name=drafts[0].source_file if drafts else "")
    imported_by = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        for start in range(0, len(drafts), IMPORT_BATCH_ARTICLES):
            _store_batch(
                project=project,
                batch=[
                    _Spooled.of(draft)
                    for draft in drafts[start : start + IMPORT_BATCH_ARTICLES]
                ],
                source_file=result.name,
                imported_by=imported_by,
                result=result,
                collect_ids=True,
            )
    return result


def import_file(
    *, project: Project, name: str, data: bytes, user=None
) -> FileImportResult:
    """``import_stream`` for a file held in memory; the result has the ids."""
    return import_stream(
        project=project, name=name, stream=io.BytesIO(data), user=user, collect_ids=True
    )


def collect_import_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the supported files inside folders named (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                child
                for child in path.rglob("*")
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES
            )
        else:
            found.append(path)
    return found


def import_path(
    *,
    project: Project,
    path: Path,
    user=None,
    collect_ids: bool = True,
    progress: Progress | None = None,
) -> FileImportResult:
    """Import one file from disk, streamed: any size, flat memory."""
    try:
        with path.open("rb") as stream:
            return import_stream(
                project=project,
                name=path.name,
                stream=stream,
                user=user,
                collect_ids=collect_ids,
                progress=progress,
            )
    except OSError as error:
        return FileImportResult(
            name=str(path), error=f"{path}: cannot read ({error.strerror})"
        )


# ---------------------------------------------------------------------------
# Import jobs (run by a worker of django.tasks; see annotations/jobs.py)
# ---------------------------------------------------------------------------

# A database that cannot be reached (or a connection that was cut).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)

Enqueue = Callable[[ImportJob], str]  # queues a run of the job, returns its task id


def create_import_job(
    *, project: Project, user, uploads: Sequence[UploadedFile], enqueue: Enqueue
) -> ImportJob:
    """Store the uploaded files (streamed to MEDIA_ROOT) and queue their import.

    One transaction: the job, a record per file and the queued task exist
    together or not at all. A file over ``IMPORT_MAX_UPLOAD_BYTES`` or of an
    unsupported type is refused at once (recorded, not stored); a job with no
    file left is done without running.
    """
    stored: list[ImportJobFile] = []
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                project=project,
                created_by=user if user is not None and user.is_authenticated else None,
            )
            for position, upload in enumerate(uploads):
                job_file = ImportJobFile(
                    job=job, position=position, name=upload.name, size=upload.size
                )
                refusal = _upload_refusal(upload, limit=limit)
                if refusal:
                    job_file.state = ImportJobFile.State.REFUSED
                    job_file.message = refusal
                    job_file.finished_at = timezone.now()
                    job_file.save()
                    continue
                job_file.upload.save(upload.name, upload, save=True)
                stored.append(job_file)
            if not stored:
                ImportJob.objects.filter(pk=job.pk).update(
                    state=ImportJob.State.DONE, finished_at=timezone.now()
                )
            else:
                job.bytes_total = sum(job_file.size for job_file in stored)
                job.save(update_fields=["bytes_total"])
                task_id = enqueue(job)
                ImportJob.objects.filter(pk=job.pk).update(task_id=task_id)
    except BaseException:
        for job_file in stored:  # the files of a job that was never made
            job_file.upload.delete(save=False)
        raise
    job.refresh_from_db()
    return job


def _upload_refusal(upload: UploadedFile, *, limit: int) -> str:
    """Why an upload is refused before it is stored ("" if it is not)."""
    try:
        check_suffix(upload.name)
    except ImportRefused as refusal:
        return str(refusal)
    if upload.size > limit:
        return (
            f"{upload.name}: the file has {upload.size:,} bytes; the limit is {limit:,}"
        )
    return ""


class _Superseded(Exception):
    """This run of a job was given up on (and the job queued again) meanwhile."""


def run_import_job(*, job_id: int, attempt: int) -> dict[str, object]:
    """Run one attempt of an import job: each pending file in its own transaction,
    which also records the file's outcome, so a run that dies half-way leaves
    every file imported or not, and the next run goes on with the rest.

    Holds the job's lock (``liveness``) for the whole run. A run whose attempt is
    no longer the job's (a recovery gave up on it) returns without doing
    anything. A lost database raises, leaving the job running: its lock is gone
    with the connection or the process, so ``recover_interrupted_jobs`` runs it
    again. Any other error fails the job with a message, then raises (so the
    task's record keeps the traceback for the operator).
    """
    with liveness.holding(job_id):
        claimed = ImportJob.objects.filter(
            pk=job_id,
            attempt=attempt,
            state__in=[ImportJob.State.QUEUED, ImportJob.State.RUNNING],
        ).update(
            state=ImportJob.State.RUNNING,
            started_at=Coalesce("started_at", Now()),
            step="Starting",
        )
        if not claimed:
            return {"job": job_id, "attempt": attempt, "outcome": "superseded"}
        job = ImportJob.objects.select_related("project", "created_by").get(pk=job_id)
        try:
            for job_file in job.files.filter(state=ImportJobFile.State.PENDING):
                _run_job_file(job, job_file, attempt=attempt)
        except (*DATABASE_UNAVAILABLE, _Superseded):
            raise
        except Exception as error:
            _fail_job(
                job,
                f"The import stopped on an unexpected error ({type(error).__name__}). "
                "Files marked Imported are complete; the others were not imported.",
            )
            raise
        ImportJob.objects.filter(pk=job_id, attempt=attempt).update(
            state=ImportJob.State.DONE,
            finished_at=Now(),
            bytes_done=F("bytes_total"),
            step="",
        )
        _remove_uploads(job)
        outcomes = dict(Counter(job.files.values_list("state", flat=True).order_by()))
        return {"job": job_id, "attempt": attempt, "outcome": "done", **outcomes}


def _run_job_file(job: ImportJob, job_file: ImportJobFile, *, attempt: int) -> None:
    done_before = sum(
        job.files.exclude(state=ImportJobFile.State.PENDING).values_list(
            "size", flat=True
        )
    )

    def progress(step: str, bytes_read: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            step=step[:300],
            bytes_done=done_before + int(bytes_read * READ_SHARE),
            updated_at=Now(),
        )

    def record(result: FileImportResult) -> None:
        """Inside the file's transaction: the outcome lands with the articles."""
        still_mine = ImportJob.objects.filter(
            pk=job.pk, attempt=attempt, state=ImportJob.State.RUNNING
        ).update(bytes_done=done_before + job_file.size, updated_at=Now())
        if not still_mine:
            raise _Superseded(f"import job {job.pk}: attempt {attempt} was given up")
        ImportJobFile.objects.filter(pk=job_file.pk).update(
            state=ImportJobFile.State.IMPORTED,
            articles=result.articles,
            segments=result.segments,
            duplicates=result.duplicates,
            message=_imported_message(result),
            finished_at=Now(),
        )

    try:
        with job_file.upload.open("rb") as stream:
            result = import_stream(
                project=job.project,
                name=job_file.name,
                stream=stream,
                user=job.created_by,
                progress=progress,
                record=record,
            )
    except (FileNotFoundError, ValueError) as error:
        # The stored upload is gone (removed by hand, or MEDIA_ROOT not shared
        # with this worker's machine).
        result = FileImportResult(
            name=job_file.name,
            error=f"{job_file.name}: the uploaded file cannot be read on this "
            f"worker ({error}); is MEDIA_ROOT shared with the web server?",
        )
    if not result.ok:
        ImportJobFile.objects.filter(pk=job_file.pk).update(
            state=ImportJobFile.State.REFUSED
            if result.refused
            else ImportJobFile.State.FAILED,
            message=result.error,
            finished_at=Now(),
        )
        ImportJob.objects.filter(pk=job.pk).update(
            bytes_done=done_before + job_file.size, updated_at=Now()
        )


def _imported_message(result: FileImportResult) -> str:
    if result.articles == 0 and result.duplicates:
        return f"{result.name}: already imported, skipped"
    skipped = f", skipped {result.duplicates} duplicates" if result.duplicates else ""
    return (
        f"{result.name}: imported {result.articles:,} article(s), "
        f"{result.segments:,} segments{skipped}"
    )


def _fail_job(job: ImportJob, message: str) -> None:
    """The job failed: its pending files are not imported (they say so)."""
    with transaction.atomic():
        job.files.filter(state=ImportJobFile.State.PENDING).update(
            state=ImportJobFile.State.FAILED,
            message="not imported: " + message,
            finished_at=Now(),
        )
        ImportJob.objects.filter(pk=job.pk).update(
            state=ImportJob.State.FAILED, finished_at=Now(), message=message, step=""
        )
    _remove_uploads(job)


def _remove_uploads(job: ImportJob) -> None:
    """A finished job's stored files are not needed any more (best effort: a file
    left behind costs disk space, not correctness)."""
    for job_file in job.files.exclude(upload=""):
        try:
            job_file.upload.delete(save=False)
        except OSError as error:
            logger.warning(
                "import job %s: cannot remove %s (%s)",
                job.pk,
                job_file.upload.name,
                error,
            )
    job.files.exclude(upload="").update(upload="")


def recover_interrupted_jobs(*, enqueue: Enqueue) -> list[str]:
    """Run again, or fail, the jobs whose run died; one line per job acted on.

    A job is unfinished while its state is queued or running. Its run is alive
    while it holds the job's lock (``liveness``); a job whose task still waits for
    a worker is left alone. Any other unfinished job was interrupted (its worker
    was killed or restarted, its database connection cut, its task lost): it is
    queued again as a new attempt, up to ``IMPORT_JOB_MAX_ATTEMPTS`` runs in all,
    after which it fails with a message and its pending files say "not
    imported". The task row of the dead run is marked failed, so it does not
    stay "running" either. Cost: one query for the jobs, one per unfinished job.
    """
    lines = []
    for job in ImportJob.objects.unfinished().order_by("pk"):
        if _task_status(job.task_id) == TaskResultStatus.READY:
            continue  # waiting for a worker
        with liveness.try_holding(job.pk) as free:
            if free:
                line = _restart_or_fail(job, enqueue=enqueue)
                if line:
                    lines.append(line)
    return lines


def _restart_or_fail(job: ImportJob, *, enqueue: Enqueue) -> str:
    """With the job's lock held: nothing can run it meanwhile."""
    with transaction.atomic():
        current = ImportJob.objects.select_for_update().filter(pk=job.pk).first()
        if current is None or current.is_finished or current.attempt != job.attempt:
            return ""  # finished or restarted since it was read
        _fail_task(
            current.task_id,
            f"Interrupted: the worker running import job {current.pk} (attempt "
            f"{current.attempt}) stopped before it finished.",
        )
        if current.attempt >= settings.IMPORT_JOB_MAX_ATTEMPTS:
            message = (
                f"The import was interrupted {current.attempt} times (a worker "
                "stopped or lost the database) and was given up. Files marked "
                "Imported are complete; upload the others again."
            )
            _fail_job(current, message)
            return (
                f"import job {current.pk}: interrupted {current.attempt} times, failed"
            )
        current.attempt += 1
        current.state = ImportJob.State.QUEUED
        current.step = (
            f"Interrupted (its worker stopped); queued again, run {current.attempt} "
            f"of at most {settings.IMPORT_JOB_MAX_ATTEMPTS}"
        )
        current.save(update_fields=["attempt", "state", "step", "updated_at"])
        current.task_id = enqueue(current)
        current.save(update_fields=["task_id"])
    return f"import job {current.pk}: interrupted, queued again (run {current.attempt})"


def _task_uuid(task_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(task_id)
    except ValueError:
        return None  # not a database task (the immediate backend's ids)


def _task_status(task_id: str) -> str | None:
    """The status of the job's task in django-tasks-db's table (None: no row)."""
    key = _task_uuid(task_id)
    if key is None:
        return None
    return DBTaskResult.objects.filter(pk=key).values_list("status", flat=True).first()


def _fail_task(task_id: str, reason: str) -> None:
    key = _task_uuid(task_id)
    if key is None:
        return
    DBTaskResult.objects.filter(
        pk=key, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
    ).update(
        status=TaskResultStatus.FAILED,
        finished_at=timezone.now(),
        exception_class_path="annotations.services.WorkerLost",
        traceback=reason,
    )


# ---------------------------------------------------------------------------
# Demo accounts
# ---------------------------------------------------------------------------

DEMO_ACCOUNTS = (
    ("admin", None),
    ("annotator1", Role.ANNOTATOR),
    ("annotator2", Role.ANNOTATOR),
    ("reviewer", Role.REVIEWER),
)


@transaction.atomic
def create_demo_accounts(*, password: str, project: Project) -> list[str]:
    """Create the demo users (admin is a superuser and the project's manager).

    Refuses to run with DEBUG off: demo passwords must never reach a deployment.
    Returns the usernames created now (existing ones are left alone).
    """
    if not settings.DEBUG:
        raise PermissionError("demo accounts are only created when DEBUG is on")
    user_model = get_user_model()
    created = []
    for username, role in DEMO_ACCOUNTS:
        user, is_new = user_model.objects.get_or_create(
            username=username,
            defaults={"is_staff": role is None, "is_superuser": role is None},
        )
        if is_new:
            user.set_password(password)
            user.save(update_fields=["password"])
            created.append(username)
        Membership.objects.get_or_create(
            project=project, user=user, defaults={"role": role or Role.MANAGER}
        )
    return created


# ---------------------------------------------------------------------------
# Annotations: the one write path (annotate screen, review screen, API, bench)
# ---------------------------------------------------------------------------

MAX_COMMENT_CHARS = 5000
MAX_SOURCE_CHARS = 300  # the cue (Attribution.cue_text)
# A source name also becomes a Source row, whose name column is shorter: checked
# here so PostgreSQL never sees an over-long value (a DataError, i.e. a 500).
MAX_SOURCE_NAME_CHARS = Source._meta.get_field("name").max_length
MAX_TIME_SPENT_MS = 24 * 60 * 60 * 1000
SUGGESTION_USES = ("", *SuggestionUse.values)


class AnnotationRefused(Exception):
    """The input breaks the project's scheme; nothing was stored."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class StaleRevision(Exception):
    """The annotation changed elsewhere since the client loaded it; nothing stored."""

    def __init__(self, current: Annotation | None) -> None:
        super().__init__("this annotation was changed elsewhere")
        self.current = current


def _validate(
    *, payload: AnnotationInput, segment: Segment, index: SchemeIndex
) -> tuple[list[tuple[Dimension, Label, bool]], list[dict], list[dict], list[str]]:
    """Check every value against the scheme; collect all errors, store nothing."""
    errors: list[str] = []
    chosen: list[tuple[Dimension, Label, bool]] = []
    for dimension_code, codes in payload.labels.items():
        dimension = index.dimensions.get(dimension_code)
        if dimension is None or dimension.role not in PER_SEGMENT_ROLES:
            errors.append(f"unknown or inactive dimension {dimension_code!r}")
            continue
        codes = tuple(dict.fromkeys(codes))
        if not dimension.is_multi and len(codes) > 1:
            errors.append(f"{dimension.name_en} takes one label, got {len(codes)}")
            continue
        primary = payload.primary.get(dimension_code)
        if primary and (not dimension.allows_primary or primary not in codes):
            errors.append(
                f"primary {primary!r} must be one of the chosen {dimension.name_en}"
            )
        for code in codes:
            label = index.label(dimension_code, code, errors, dimension.name_en)
            if label is not None:
                chosen.append((dimension, label, code == primary))
    for dimension_code in payload.primary:
        if dimension_code not in payload.labels:
            errors.append(f"primary given for {dimension_code!r} without labels")
    for dimension in index.dimensions.values():
        if dimension.required and not payload.labels.get(dimension.code):
            errors.append(f"{dimension.name_en} is required")

    length = len(segment.text)
    attributions = []
    for number, item in enumerate(payload.attributions, start=1):
        where = f"attribution {number}"
        source_text = item.source_text.strip()
        if not source_text:
            errors.append(f"{where}: the source name is empty")
        if len(source_text) > MAX_SOURCE_NAME_CHARS:
            errors.append(
                f"{where}: the source name is limited to "
                f"{MAX_SOURCE_NAME_CHARS} characters"
            )
        if len(item.cue_text.strip()) > MAX_SOURCE_CHARS:
            errors.append(
                f"{where}: the cue is limited to {MAX_SOURCE_CHARS} characters"
            )
        spans = ([item.source_span] if item.source_span else []) + list(item.cue_spans)
        for span in spans:
            if not _span_ok(span, length):
                errors.append(
                    f"{where}: span {span!r} is outside the segment (0-{length})"
                )
        attributions.append(
            {
                "source_text": source_text,
                "source_type": index.role_label(
                    DimensionRole.SOURCE_TYPE, item.source_type, errors
                ),
                "form": index.role_label(DimensionRole.FORM, item.form, errors),
                "cue_text": item.cue_text.strip(),
                "source_span": list(item.source_span) if item.source_span else None,
                "cue_spans": [list(span) for span in item.cue_spans],
                "suggestion": item.suggestion,
            }
        )
        if item.suggestion not in SUGGESTION_USES:
            errors.append(
                f"{where}: suggestion must be one of "
                f"{', '.join(repr(use) for use in SUGGESTION_USES)}"
            )

    stances = []
    seen: set[tuple[str, int | None]] = set()
    for item in payload.stances:
        target = index.targets.get(item.target)
        if target is None:
            errors.append(f"unknown or inactive stance target {item.target!r}")
            continue
        polarity = index.role_label(DimensionRole.STANCE, item.polarity, errors)
        if not item.polarity:
            errors.append(f"stance toward {target.name}: polarity is missing")
        if item.holder is not None and not 0 <= item.holder < len(attributions):
            errors.append(
                f"stance toward {target.name}: holder {item.holder} "
                "is not an attribution"
            )
        if (item.target, item.holder) in seen:
            errors.append(
                f"stance toward {target.name} given twice for the same holder"
            )
        seen.add((item.target, item.holder))
        stances.append({"target": target, "polarity": polarity, "holder": item.holder})

    if len(payload.comment) > MAX_COMMENT_CHARS:
        errors.append(f"the comment is limited to {MAX_COMMENT_CHARS} characters")
    if not 0 <= payload.time_spent_ms <= MAX_TIME_SPENT_MS:
        errors.append("time spent must be between 0 and 24 hours")
    return chosen, attributions, stances, errors


def _span_ok(span, length: int) -> bool:
    return (
        isinstance(span, tuple | list)
        and len(span) == 2
        and all(
            isinstance(value, int) and not isinstance(value, bool) for value in span
        )
        and 0 <= span[0] < span[1] <= length
    )


def _canonical_sources(
    project: Project, names: list[str], *, annotator, curator: bool
) -> dict[str, Source]:
    """Map typed source names to source list entries, by ``source_key`` (case,
    spacing and Unicode form do not matter); unknown names are added.

    Blind annotation: a name matches the curated list (name or alias) first,
    then ``annotator``'s own names, never another annotator's. A new name
    becomes the annotator's own entry, or a curated one when a reviewer saves
    gold (``curator``). The matched sources are locked until the save commits
    (PostgreSQL; SQLite's write lock already serialises writers): a rename or
    merge in the admin, which locks them too, then either commits first and this
    save sees its result, or waits and brings this save's snapshot up to date
    (:func:`sync_source_names`). Called before the annotation itself is locked,
    in the order the admin takes them, so the two never deadlock. Cost: two
    queries, plus one INSERT per new name.
    """
    wanted = {source_key(name): name for name in names if name}
    if not wanted:
        return {}
    found: dict[str, Source] = {}
    candidates = Source.objects.filter(project=project).visible_to(annotator)
    for _attempt in range(2):
        found = {}
        # Curated entries first: they win over the annotator's own.
        for source in sorted(candidates, key=lambda s: (not s.is_curated, s.pk)):
            for spelling in [source.name, *source.aliases]:
                if isinstance(spelling, str) and source_key(spelling) in wanted:
                    found.setdefault(source_key(spelling), source)
        ids = sorted({source.pk for source in found.values()})
        if not ids:
            break
        locked = Source.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        current = {source.pk: source for source in locked}
        if len(current) == len(ids):
            found = {key: current[source.pk] for key, source in found.items()}
            break
        # A matched source was merged away meanwhile: match again.
    owner = None if curator else annotator
    for key, name in wanted.items():
        if key not in found:
            found[key], _ = Source.objects.get_or_create(
                project=project, owner=owner, name=name
            )
    return found


def save_annotation(
    *,
    segment: Segment,
    annotator,
    payload: AnnotationInput,
    expected_revision: int | None,
    is_gold: bool = False,
    adjudicated_from: Iterable[Annotation] = (),
    index: SchemeIndex | None = None,
    member: bool = False,
) -> Annotation:
    """Validate ``payload`` against the project's scheme and store it, or refuse.

    Optimistic concurrency: ``expected_revision`` is the revision the client loaded
    (None when it saw no annotation). A mismatch raises ``StaleRevision`` carrying
    the stored version; nothing is overwritten silently. Raises ``AnnotationRefused``
    with every problem found. A fixed number of queries whatever the article length:
    the membership check (skipped with ``member=True``: the caller has just
    read the annotator's role), the scheme index (none while this process has
    it), then the transaction (``_store_annotation``).
    """
    project = segment.article.project
    if not segment.is_annotatable:
        raise AnnotationRefused([f"{segment.kind} segments are not annotated"])
    if (
        not member
        and not annotator.is_superuser
        and not Membership.objects.filter(project=project, user=annotator).exists()
    ):
        raise AnnotationRefused(["you are not a member of this project"])
    index = index or SchemeIndex.for_project(project)
    chosen, attributions, stances, errors = _validate(
        payload=payload, segment=segment, index=index
    )
    if errors:
        raise AnnotationRefused(errors)
    try:
        with transaction.atomic():
            return _store_annotation(
                segment=segment,
                annotator=annotator,
                payload=payload,
                expected_revision=expected_revision,
                is_gold=is_gold,
                adjudicated_from=list(adjudicated_from),
                chosen=chosen,
                attributions=attributions,
                stances=stances,
                index=index,
            )
    except IntegrityError:
        # Two first saves of the same annotation raced; the loser sees the winner.
        raise StaleRevision(_current(segment, annotator, is_gold)) from None


def _delete_rows_of(annotation: Annotation) -> None:
    """Delete the labels, attributions and stances of a locked annotation (those
    it has: ``has_*`` from the lock's query), one DELETE each. Stances go first,
    so the attributions (whose only dependants are the stances they hold) can go
    without the ORM's collecting SELECT."""
    if annotation.has_stances:
        annotation.stances.all()._raw_delete(annotation._state.db)
    if annotation.has_attributions:
        annotation.attributions.all()._raw_delete(annotation._state.db)
    if annotation.has_labels:
        annotation.labels.all()._raw_delete(annotation._state.db)


def _current(segment: Segment, annotator, is_gold: bool) -> Annotation | None:
    annotations = Annotation.objects.filter(segment=segment, is_gold=is_gold)
    if not is_gold:
        annotations = annotations.filter(annotator=annotator)
    return annotations.first()


def _store_annotation(
    *,
    segment,
    annotator,
    payload,
    expected_revision,
    is_gold,
    adjudicated_from,
    chosen,
    attributions,
    stances,
    index,
) -> Annotation:
    # Sources first, then the annotation: the lock order of rename_source and
    # merge_sources.
    sources = _canonical_sources(
        segment.article.project,
        [item["source_text"] for item in attributions],
        annotator=annotator,
        curator=is_gold,
    )
    # The lock, and which rows the annotation has now (one query: a save that
    # replaces labels only then deletes nothing else).
    mine = OuterRef("pk")
    existing = (
        Annotation.objects.select_for_update()
        .filter(segment=segment, is_gold=is_gold)
        .annotate(
            has_labels=Exists(AnnotationLabel.objects.filter(annotation=mine)),
            has_attributions=Exists(Attribution.objects.filter(annotation=mine)),
            has_stances=Exists(StanceEntry.objects.filter(annotation=mine)),
        )
    )
    if not is_gold:
        existing = existing.filter(annotator=annotator)
    annotation = existing.first()
    stored_revision = annotation.revision if annotation else None
    if (expected_revision or None) != stored_revision:
        raise StaleRevision(annotation)
    values = annotation_values(payload, chosen, attributions, stances, sources)
    if annotation is None:
        annotation = Annotation(
            segment=segment,
            article_id=segment.article_id,
            annotator=annotator,
            is_gold=is_gold,
            revision=1,
        )
        if not is_gold:
            # The annotate screen's project bar reads this counter, not a COUNT.
            # Same transaction: a refused or failed save leaves it as it was.
            Membership.objects.filter(
                project_id=segment.article.project_id, user=annotator
            ).update(labelled_count=F("labelled_count") + 1)
    else:
        annotation.revision += 1
        annotation.annotator = annotator
        _delete_rows_of(annotation)
    annotation.values = values
    annotation.unsure = payload.unsure
    annotation.comment = payload.comment
    annotation.time_spent_ms = min(
        annotation.time_spent_ms + payload.time_spent_ms, 2**31 - 1
    )
    # History names who saved, also outside a request (commands, bench, tests).
    annotation._history_user = annotator
    annotation.save()
    AnnotationLabel.objects.bulk_create(
        AnnotationLabel(
            annotation=annotation,
            dimension=dimension,
            label=label,
            is_primary=is_primary,
        )
        for dimension, label, is_primary in chosen
    )
    stored_attributions = Attribution.objects.bulk_create(
        Attribution(
            annotation=annotation,
            order=order,
            source_text=item["source_text"],
            source=sources.get(source_key(item["source_text"])),
            source_type=item["source_type"],
            form=item["form"],
            cue_text=item["cue_text"],
            source_start=item["source_span"][0] if item["source_span"] else None,
            source_end=item["source_span"][1] if item["source_span"] else None,
            cue_spans=item["cue_spans"],
            suggestion=item["suggestion"],
        )
        for order, item in enumerate(attributions)
    )
    StanceEntry.objects.bulk_create(
        StanceEntry(
            annotation=annotation,
            target=item["target"],
            polarity=item["polarity"],
            holder=stored_attributions[item["holder"]]
            if item["holder"] is not None
            else None,
        )
        for item in stances
    )
    if adjudicated_from:
        annotation.adjudicated_from.set(adjudicated_from)
    # The export's label cells, rendered now so an export only joins text; same
    # transaction, so they can never describe values that were not stored.
    store_export_cells([annotation], label_renderer(segment.article.project, index))
    return annotation


# ---------------------------------------------------------------------------
# Source list curation: renaming and merging canonical sources
# ---------------------------------------------------------------------------
#
# An annotation's ``values`` snapshot (what exports, the review screen and the
# history read) holds each attribution's canonical source NAME as it was when the
# annotation was saved. When a manager renames a source or merges duplicates, the
# snapshots follow here, so an export always names the source the Attribution row
# points to. The annotators' own words (``source_text``), ``updated_at`` and the
# revision stay as they were: nobody changed the labels.

SOURCE_SYNC_BATCH = 500


class SourceMergeRefused(Exception):
    """The merge cannot be done as asked; nothing was changed."""


def _with_alias(source: Source, *spellings: str) -> None:
    """Add spellings to ``source.aliases`` unless they equal (by ``source_key``)
    its name or an alias it already has. The caller saves."""
    known = {source_key(source.name), *(source_key(a) for a in source.aliases)}
    for spelling in spellings:
        if spelling and source_key(spelling) not in known:
            source.aliases = [*source.aliases, spelling]
            known.add(source_key(spelling))


def _curated_spellings(project: Project, *, excluding: Iterable[int]) -> set[str]:
    """The keys of every name and alias of the project's curated list but the
    sources ``excluding``. One query."""
    return {
        source_key(spelling)
        for source in Source.objects.filter(project=project)
        .curated()
        .exclude(pk__in=list(excluding))
        for spelling in [source.name, *source.aliases]
        if isinstance(spelling, str)
    }


@transaction.atomic
def curate_sources(sources: Iterable[Source], *, user=None) -> int:
    """Make annotators' own names part of the curated list everyone shares
    (admin action). Refused, changing nothing, when a name already names a
    curated entry (merge them instead). Returns how many became curated."""
    own = [source for source in sources if not source.is_curated]
    if not own:
        return 0
    ids = sorted(source.pk for source in own)
    locked = list(Source.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    taken = _curated_spellings(own[0].project, excluding=ids)
    seen: set[str] = set()
    for source in locked:
        keys = {source_key(source.name), *(source_key(a) for a in source.aliases)}
        if keys & (taken | seen):
            raise SourceMergeRefused(
                f"“{source.name}” already names a curated source (or another of "
                "the chosen ones): merge them instead."
            )
        seen |= keys
    Source.objects.filter(pk__in=ids).update(owner=None)
    return len(ids)


@transaction.atomic
def rename_source(source: Source, new_name: str, *, user=None) -> int:
    """Rename a canonical source (and save whatever else changed on ``source``);
    the stored name becomes an alias, so later saves that spell it the old way
    still map here. Returns the annotations updated."""
    # Locked first: saves that cite this source wait, or have committed.
    old_name = (
        Source.objects.select_for_update()
        .filter(pk=source.pk)
        .values_list("name", flat=True)
        .get()
    )
    source.name = new_name
    _with_alias(source, old_name)
    source.aliases = [
        a for a in source.aliases if source_key(a) != source_key(new_name)
    ]
    source.save()
    return sync_source_names(
        source.project,
        [source.pk],
        user=user,
        reason=f"source renamed: {old_name} → {new_name}",
    )


@transaction.atomic
def merge_sources(keep: Source, others: Iterable[Source], *, user=None) -> int:
    """Merge ``others`` into ``keep``: their attributions point to ``keep``, their
    names and aliases become its aliases, they are deleted, and the snapshots of the
    annotations concerned name ``keep``. All or nothing; returns the annotations
    updated."""
    others = [other for other in others if other.pk != keep.pk]
    if not others:
        raise SourceMergeRefused("Choose at least two sources to merge.")
    if any(other.project_id != keep.project_id for other in others):
        raise SourceMergeRefused("Sources of different projects cannot be merged.")
    # Locked first (in id order, as saves lock them): saves citing them wait.
    ids = sorted({keep.pk, *(other.pk for other in others)})
    if Source.objects.select_for_update().filter(pk__in=ids).count() != len(ids):
        raise SourceMergeRefused("A selected source no longer exists; reload the list.")
    # A merge is curation: the result is shared by the whole project.
    taken = _curated_spellings(keep.project, excluding=ids)
    names = [keep.name, *keep.aliases]
    names += [spelling for other in others for spelling in [other.name, *other.aliases]]
    if any(source_key(name) in taken for name in names if isinstance(name, str)):
        raise SourceMergeRefused(
            "A name of the chosen sources already names another curated source: "
            "include that source in the merge."
        )
    keep.owner = None
    for other in others:
        _with_alias(keep, other.name, *other.aliases)
    keep.save()
    Attribution.objects.filter(source__in=others).update(source=keep)
    names = ", ".join(other.name for other in others)
    Source.objects.filter(pk__in=[other.pk for other in others]).delete()
    return sync_source_names(
        keep.project, [keep.pk], user=user, reason=f"sources merged: {names} → {keep}"
    )


def sync_source_names(
    project: Project, source_ids: Iterable[int], *, user=None, reason: str = ""
) -> int:
    """Write the current canonical names of these sources into the snapshots of
    the annotations whose attributions use them (with a history record naming
    ``reason``) and re-render their export cells. Returns how many snapshots
    changed. Goes through the annotations a batch at a time: a query for the ids,
    then per batch the annotations, their attributions, the update and the cells."""
    ids = list(
        Annotation.objects.filter(attributions__source_id__in=list(source_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    renderer = None
    changed_total = 0
    for first in range(0, len(ids), SOURCE_SYNC_BATCH):
        batch = ids[first : first + SOURCE_SYNC_BATCH]
        # Locked before reading: a save of one of them meanwhile has committed
        # (its snapshot and attribution rows are read as saved) or waits for us.
        annotations = list(
            Annotation.objects.select_for_update().filter(pk__in=batch).order_by("pk")
        )
        names = Attribution.objects.source_names_by_order(batch)
        changed = []
        for annotation in annotations:
            values = with_source_names(annotation.values, names.get(annotation.pk, {}))
            if values is not annotation.values:
                annotation.values = values
                changed.append(annotation)
        if not changed:
            continue
        bulk_update_with_history(
            changed,
            Annotation,
            ["values"],
            default_user=user,
            # The history table's reason column holds 100 characters.
            default_change_reason=(reason or "source list changed")[:100],
        )
        if renderer is None:
            renderer = project_renderer(project)
        store_export_cells(changed, renderer)
        changed_total += len(changed)
    return changed_total


# ---------------------------------------------------------------------------
# Admin edits of an annotation, and deletions
# ---------------------------------------------------------------------------


@transaction.atomic
def store_admin_edit(*, annotation: Annotation, user) -> None:
    """Save an annotation edited in the admin (comment, unsure, or a version
    reverted from its history page) with its export cells, in one transaction.

    A reverted version may name a source as it was called then: the snapshot
    names the sources its attributions point to now. The export's cells follow
    the edit; without them the export would shape the row on the fly until
    ``refresh_export_cells`` runs."""
    current = Attribution.objects.source_names_by_order([annotation.pk])
    annotation.values = with_source_names(
        annotation.values, current.get(annotation.pk, {})
    )
    annotation._history_user = user
    annotation.save()
    store_export_cells([annotation], project_renderer(annotation.article.project))


@contextmanager
def recounting_progress(project_ids: Iterable[int]) -> Iterator[None]:
    """Run a deletion (or an admin's insert) of annotations, also by cascade from
    articles and segments, and recount ``Membership.labelled_count`` of the
    affected projects afterwards, all in one transaction. One UPDATE."""
    project_ids = set(project_ids)
    with transaction.atomic():
        yield
        Membership.objects.filter(project_id__in=project_ids).recount()


# ---------------------------------------------------------------------------
# Team work: assignment and adjudication
# ---------------------------------------------------------------------------


class AssignmentRefused(Exception):
    """The assignment request is invalid; nothing was stored."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def assign_articles(
    *,
    project: Project,
    articles: Sequence[Article],
    annotators: Sequence,
    overlap: int,
    assigned_by,
) -> list[Assignment]:
    """Give each article ``overlap`` of ``annotators``, balanced; returns the new rows.

    Existing assignments stay and count toward both the article's overlap and the
    annotator's load; new ones go to the end of each annotator's queue in article
    order (see ``assignment.plan_assignments``). By hand = overlap equal to the
    number of annotators chosen. Cost: 4 queries whatever the sizes.
    """
    errors = [
        f"{a.title!r} is not in {project.name}"
        for a in articles
        if a.project_id != project.pk
    ]
    user_ids = [user.pk for user in annotators]
    members = set(
        Membership.objects.filter(project=project, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    errors += [
        f"{u.username} is not a member of {project.name}"
        for u in annotators
        if u.pk not in members
    ]
    if not articles:
        errors.append("choose at least one article")
    if errors:
        raise AssignmentRefused(errors)
    try:
        with transaction.atomic():
            existing = Assignment.objects.select_for_update().filter(
                article__project=project, annotator_id__in=user_ids
            )
            pairs = list(existing.values_list("article_id", "annotator_id"))
            last = dict(
                Assignment.objects.filter(annotator_id__in=user_ids)
                .values("annotator_id")
                .annotate(last=Max("position"))
                .values_list("annotator_id", "last")
            )
            plan = plan_assignments(
                articles=[a.pk for a in articles],
                annotators=user_ids,
                overlap=overlap,
                existing=pairs,
                last_positions=last,
            )
            return Assignment.objects.bulk_create(
                Assignment(
                    article_id=item.article,
                    annotator_id=item.annotator,
                    position=item.position,
                    assigned_by=assigned_by,
                )
                for item in plan
            )
    except AssignmentError as error:
        raise AssignmentRefused([str(error)]) from None
    except IntegrityError:
        raise AssignmentRefused(
            ["someone else assigned the same articles at the same moment; try again"]
        ) from None


def adjudicate_segment(
    *,
    segment: Segment,
    reviewer,
    payload: AnnotationInput,
    expected_revision: int | None,
    index: SchemeIndex | None = None,
) -> Annotation:
    """Store the reviewer's gold for ``segment``, adjudicated from everyone's own.

    The gold is a separate ``Annotation`` (``is_gold``) whose ``annotator`` is the
    reviewer who saved it last, ``updated_at`` says when, ``adjudicated_from`` from
    which annotations; its history keeps every earlier version. Raises
    ``AnnotationRefused`` (bad input or role) or ``StaleRevision`` (another reviewer
    saved first), storing nothing.
    """
    if not has_role(reviewer, segment.article.project, Role.REVIEWER):
        raise AnnotationRefused(["adjudication needs the reviewer role"])
    sources = list(Annotation.objects.own().filter(segment=segment))
    return save_annotation(
        segment=segment,
        annotator=reviewer,
        payload=payload,
        expected_revision=expected_revision,
        is_gold=True,
        adjudicated_from=sources,
        index=index,
    )


# ---------------------------------------------------------------------------
# Suggestions from elsewhere (an external model or tool)
# ---------------------------------------------------------------------------


def import_suggestions(
    *,
    project: Project,
    suggestions: Sequence[ExternalSuggestion],
    origin: str,
    replace: bool = False,
) -> int:
    """Store suggestions for the project's segments, all or none: every row must
    name an article of the project and one of its segments, its spans must lie in
    that segment, its form must be one of the scheme's. ``replace`` first removes
    the suggestions of the same ``origin`` for the segments named. Returns how
    many were stored; raises ``SuggestionsRefused`` with every problem."""
    origin = origin.strip()
    errors = (
        [] if 0 < len(origin) <= 100 else ["origin: give a name of 1-100 characters"]
    )
    articles = {s.article for s in suggestions}
    segments = {
        (segment.article_id, segment.position): segment
        for segment in Segment.objects.filter(
            article__project=project, article_id__in=articles
        ).only("pk", "article_id", "position", "start", "end", "text", "kind")
    }
    index = SchemeIndex.for_project(project)
    form_dimension = index.by_role.get(DimensionRole.FORM)
    forms = {
        code
        for (dim, code), label in index.labels.items()
        if form_dimension and dim == form_dimension.code and label.active
    }
    rows = []
    for item in suggestions:
        segment = segments.get((item.article, item.position))
        if segment is None:
            errors.append(
                f"{item.where}: article {item.article} has no segment "
                f"{item.position} in {project.slug}"
            )
            continue
        shift = 0 if item.segment_offsets else segment.start
        length = segment.end - segment.start

        def local(span, what: str, item=item, shift=shift, length=length):
            start, end = span[0] - shift, span[1] - shift
            if not 0 <= start < end <= length:
                errors.append(
                    f"{item.where}: {what} {list(span)} is outside the segment"
                )
                return None
            return [start, end]

        cues = [local(span, "cue span") for span in item.cue_spans]
        source = local(item.source_span, "source span") if item.source_span else None
        if item.form and item.form not in forms:
            errors.append(f"{item.where}: unknown form {item.form!r}")
        if None in cues or (item.source_span and source is None):
            continue
        source_text = item.source_text or (
            segment.text[source[0] : source[1]] if source else ""
        )
        rows.append(
            ImportedSuggestion(
                segment=segment,
                origin=origin,
                cue_spans=cues,
                source_start=source[0] if source else None,
                source_end=source[1] if source else None,
                source_text=source_text[:300],
                form=item.form,
                score=item.score,
            )
        )
    if errors:
        raise SuggestionsRefused(errors)
    with transaction.atomic():
        if replace:
            ImportedSuggestion.objects.filter(
                origin=origin, segment__in=[row.segment for row in rows]
            ).delete()
        ImportedSuggestion.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
