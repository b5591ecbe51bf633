"""One factory per model; articles are built through the real import path."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from annotations import services
from annotations.importing import draft_from_plain_text
from annotations.models import (
    Annotation,
    Article,
    Assignment,
    Label,
    LabelScheme,
    Membership,
    Project,
    Source,
    StanceTarget,
)
from annotations.scheme_data import SEED_STANCE_TARGETS
from annotations.services import AnnotationInput, StanceInput

PASSWORD = "pw-for-tests-123"


def default_scheme() -> LabelScheme:
    return services.load_scheme()[0]


def label(project: Project, dimension: str, code: str) -> Label:
    return Label.objects.get(
        dimension__scheme=project.scheme, dimension__code=dimension, code=code
    )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    scheme = factory.LazyFunction(default_scheme)

    @factory.post_generation
    def stance_targets(obj, create, extracted, **kwargs):  # noqa: N805
        if not create:
            return
        targets = SEED_STANCE_TARGETS if extracted is None else extracted
        StanceTarget.objects.bulk_create(
            StanceTarget(
                project=obj,
                code=code,
                name=name,
                question=question,
                key=key,
                order=order,
            )
            for order, (code, name, question, key) in enumerate(targets)
        )


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = "annotator"


def member(project: Project, *, role: str = "annotator", username: str | None = None):
    user = UserFactory(**({"username": username} if username else {}))
    Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return user


def article_text(n_sentences: int, *, title: str = "Eine Überschrift") -> str:
    """A plain-text article with a title and ``n_sentences`` sentences."""
    sentences = " ".join(
        f"Satz {i + 1} sagt, dass Berlin am {i % 28 + 1}. Mai zustimmte."
        for i in range(n_sentences)
    )
    return f"{title}\n\nVon Erika Musterfrau\n\n{sentences}\n"


def make_article(
    project: Project,
    *,
    n_sentences: int = 5,
    title: str | None = None,
    text: str | None = None,
) -> Article:
    """An article stored through the real import path (segmentation included)."""
    title = title or f"Artikel {Article.objects.count() + 1}"
    body = text if text is not None else article_text(n_sentences, title=title)
    draft = draft_from_plain_text(body, source_file=f"{title}.txt")
    result = services.store_drafts(project=project, drafts=[draft])
    return Article.objects.get(pk=result.article_ids[0])


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Quelle {n}")


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    article = None
    annotator = factory.SubFactory(UserFactory)


def annotate(
    segment,
    user,
    *,
    claim: str = "",
    frames: tuple[str, ...] = (),
    stances: dict[str, str] | None = None,
    time_spent_ms: int = 0,
    comment: str = "",
    is_gold: bool = False,
    adjudicated_from=(),
):
    """Label one segment through the real write path (services.save_annotation).

    ``stances`` maps target code -> polarity held by the author. Saves over the
    stored revision, so calling it twice edits the annotation.
    """
    labels = {}
    if claim:
        labels["claim"] = (claim,)
    if frames:
        labels["frames"] = tuple(frames)
    existing = Annotation.objects.filter(segment=segment, is_gold=is_gold)
    if not is_gold:
        existing = existing.filter(annotator=user)
    current = existing.first()
    return services.save_annotation(
        segment=segment,
        annotator=user,
        payload=AnnotationInput(
            labels=labels,
            stances=tuple(
                StanceInput(target=t, polarity=p) for t, p in (stances or {}).items()
            ),
            time_spent_ms=time_spent_ms,
            comment=comment,
        ),
        expected_revision=current.revision if current else None,
        is_gold=is_gold,
        adjudicated_from=adjudicated_from,
    )
