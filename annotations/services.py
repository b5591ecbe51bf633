"""Writes that span models. Each is keyword-only, validates first, then runs in one
transaction, so it lands whole or not at all."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from simple_history.utils import bulk_update_with_history

from . import scheme_data
from .assignment import AssignmentError, plan_assignments
from .export.cells import label_renderer, project_renderer, store_export_cells
from .importing import SUPPORTED_SUFFIXES, ArticleDraft, ImportRefused, parse_file
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
    Label,
    LabelScheme,
    Membership,
    Project,
    Role,
    Segment,
    Source,
    StanceEntry,
    StanceTarget,
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

__all__ = [  # the inputs of save_annotation, for its callers
    "AnnotationInput",
    "AttributionInput",
    "StanceInput",
]

DEMO_PROJECT_SLUG = "seed"

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


@dataclass
class FileImportResult:
    """What importing one file did; ``error`` is set when it was refused."""

    name: str
    articles: int = 0
    segments: int = 0
    duplicates: int = 0
    error: str = ""
    article_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


def store_drafts(
    *, project: Project, drafts: list[ArticleDraft], user=None
) -> FileImportResult:
    """Store parsed articles in one transaction; texts already there are skipped.

    Cost: one query for the duplicates, one INSERT per article, one bulk INSERT of
    all segments of the file.
    """
    result = FileImportResult(name=drafts[0].source_file if drafts else "")
    hashes = [draft.content_hash for draft in drafts]
    existing = set(
        Article.objects.filter(project=project, content_hash__in=hashes).values_list(
            "content_hash", flat=True
        )
    )
    segments: list[Segment] = []
    with transaction.atomic():
        for draft in drafts:
            if draft.content_hash in existing:
                result.duplicates += 1
                continue
            existing.add(draft.content_hash)  # the same text twice in one file
            article = Article.objects.create(
                project=project,
                title=draft.title,
                byline=draft.byline,
                outlet=draft.outlet,
                url=draft.url,
                published=draft.published,
                language=draft.language,
                text=draft.text,
                content_hash=draft.content_hash,
                source_file=draft.source_file,
                imported_by=user
                if user is not None and user.is_authenticated
                else None,
                segment_count=len(draft.segments),
                annotatable_count=sum(
                    span.kind in ANNOTATABLE_KINDS for span in draft.segments
                ),
            )
            segments += [
                Segment(
                    article=article,
                    position=span.position,
                    kind=span.kind,
                    paragraph=span.paragraph,
                    start=span.start,
                    end=span.end,
                    text=span.text,
                )
                for span in draft.segments
            ]
            result.articles += 1
            result.article_ids.append(article.pk)
        Segment.objects.bulk_create(segments, batch_size=2000)
    result.segments = len(segments)
    return result


def import_file(
    *, project: Project, name: str, data: bytes, user=None
) -> FileImportResult:
    """Parse, segment and store one file, or refuse it with a message; never half."""
    try:
        drafts = parse_file(
            data,
            name=name,
            max_bytes=settings.IMPORT_MAX_FILE_BYTES,
            max_chars=settings.IMPORT_MAX_ARTICLE_CHARS,
            language=project.language,
        )
        result = store_drafts(project=project, drafts=drafts, user=user)
    except ImportRefused as refusal:
        return FileImportResult(name=name, error=str(refusal))
    except IntegrityError:
        # Another process imported the same text at the same moment.
        return FileImportResult(
            name=name, error=f"{name}: imported concurrently by someone else; try again"
        )
    result.name = name
    return result


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


def import_path(*, project: Project, path: Path, user=None) -> FileImportResult:
    try:
        size = path.stat().st_size
        if size > settings.IMPORT_MAX_FILE_BYTES:
            return FileImportResult(
                name=str(path),
                error=f"{path}: the file has {size:,} bytes; the limit is "
                f"{settings.IMPORT_MAX_FILE_BYTES:,}",
            )
        data = path.read_bytes()
    except OSError as error:
        return FileImportResult(
            name=str(path), error=f"{path}: cannot read ({error.strerror})"
        )
    return import_file(project=project, name=path.name, data=data, user=user)


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
            }
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
) -> Annotation:
    """Validate ``payload`` against the project's scheme and store it, or refuse.

    Optimistic concurrency: ``expected_revision`` is the revision the client loaded
    (None when it saw no annotation). A mismatch raises ``StaleRevision`` carrying
    the stored version; nothing is overwritten silently. Raises ``AnnotationRefused``
    with every problem found. A fixed number of queries whatever the article length.
    """
    project = segment.article.project
    if not segment.is_annotatable:
        raise AnnotationRefused([f"{segment.kind} segments are not annotated"])
    if (
        not annotator.is_superuser
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
    existing = Annotation.objects.select_for_update().filter(
        segment=segment, is_gold=is_gold
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
        annotation.stances.all().delete()
        annotation.attributions.all().delete()
        annotation.labels.all().delete()
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
