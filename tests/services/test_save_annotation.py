"""Every validation rule of services.save_annotation: refused with a message, and
nothing stored (no annotation, no label rows, no new source)."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection

from annotations import services
from annotations.models import (
    Annotation,
    AnnotationLabel,
    Attribution,
    Segment,
    Source,
    StanceEntry,
)
from annotations.services import (
    AnnotationInput,
    AnnotationRefused,
    AttributionInput,
    StaleRevision,
    StanceInput,
    load_scheme,
    save_annotation,
)
from tests import factories

VALID = AnnotationInput(labels={"claim": ("opinion",)})


@pytest.fixture
def article(project):
    return factories.make_article(project, n_sentences=3)


@pytest.fixture
def sentence(article) -> Segment:
    return article.segments.filter(kind="sentence").select_related("article__project")[
        0
    ]


def _nothing_stored() -> None:
    assert Annotation.objects.count() == 0
    assert AnnotationLabel.objects.count() == 0
    assert Attribution.objects.count() == 0
    assert StanceEntry.objects.count() == 0
    assert Source.objects.count() == 0


def _refused(segment, user, payload, match: str) -> None:
    with pytest.raises(AnnotationRefused) as refusal:
        save_annotation(
            segment=segment, annotator=user, payload=payload, expected_revision=None
        )
    assert any(match in error for error in refusal.value.errors), refusal.value.errors
    _nothing_stored()


def test_valid_annotation_is_stored_with_all_parts(sentence, annotator):
    payload = AnnotationInput(
        labels={"claim": ("checkworthy",), "frames": ("political", "economic")},
        primary={"frames": "economic"},
        attributions=(
            AttributionInput(
                source_text="Selenskyj",
                source_type="person",
                form="indirect",
                cue_text="sagte",
                source_span=(0, 4),
                cue_spans=((5, 9),),
            ),
        ),
        stances=(
            StanceInput(target="ukraine", polarity="favor", holder=0),
            StanceInput(target="russia", polarity="against"),
        ),
        unsure=True,
        comment="hm",
        time_spent_ms=1200,
    )
    annotation = save_annotation(
        segment=sentence, annotator=annotator, payload=payload, expected_revision=None
    )
    assert annotation.revision == 1
    assert AnnotationLabel.objects.filter(annotation=annotation).count() == 3
    assert annotation.labels.get(is_primary=True).label.code == "economic"
    assert annotation.attributions.get().source.name == "Selenskyj"
    assert StanceEntry.objects.get(target__code="ukraine").holder is not None
    assert annotation.values["stances"][1] == {
        "target": "russia",
        "polarity": "against",
        "holder": None,
    }


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (AnnotationInput(labels={"claim": ("bogus",)}), "unknown or inactive"),
        (
            AnnotationInput(labels={"claim": ("opinion",), "nonsense": ("x",)}),
            "unknown or inactive dimension",
        ),
        (AnnotationInput(labels={"claim": ("opinion", "factual")}), "takes one label"),
        (AnnotationInput(labels={"frames": ("political",)}), "Claim is required"),
        (
            AnnotationInput(
                labels={"claim": ("opinion",), "frames": ("political",)},
                primary={"frames": "economic"},
            ),
            "primary",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)}, primary={"frames": "political"}
            ),
            "without labels",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                stances=(StanceInput(target="mars", polarity="favor"),),
            ),
            "unknown or inactive stance target",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                stances=(StanceInput(target="nato", polarity="love"),),
            ),
            "unknown or inactive stance label",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                stances=(StanceInput(target="nato", polarity=""),),
            ),
            "polarity is missing",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                stances=(StanceInput(target="nato", polarity="favor", holder=0),),
            ),
            "holder 0 is not an attribution",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                stances=(
                    StanceInput(target="nato", polarity="favor"),
                    StanceInput(target="nato", polarity="against"),
                ),
            ),
            "given twice",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                attributions=(AttributionInput(source_text="   "),),
            ),
            "source name is empty",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                attributions=(AttributionInput(source_text="x" * 201),),
            ),
            "source name is limited to 200",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                attributions=(AttributionInput(source_text="A", cue_text="c" * 301),),
            ),
            "cue is limited to 300",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                attributions=(AttributionInput(source_text="A", source_type="robot"),),
            ),
            "unknown or inactive source type",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                attributions=(AttributionInput(source_text="A", form="sung"),),
            ),
            "unknown or inactive form",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                attributions=(
                    AttributionInput(source_text="A", source_span=(5, 5000)),
                ),
            ),
            "outside the segment",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                attributions=(AttributionInput(source_text="A", source_span=(7, 3)),),
            ),
            "outside the segment",
        ),
        (
            AnnotationInput(
                labels={"claim": ("opinion",)},
                attributions=(AttributionInput(source_text="A", cue_spans=((-1, 2),)),),
            ),
            "outside the segment",
        ),
        (
            AnnotationInput(labels={"claim": ("opinion",)}, comment="x" * 5001),
            "comment is limited",
        ),
        (
            AnnotationInput(labels={"claim": ("opinion",)}, time_spent_ms=-5),
            "time spent",
        ),
        (
            AnnotationInput(labels={"claim": ("opinion",)}, time_spent_ms=10**9),
            "time spent",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_invalid_input_is_refused_and_nothing_stored(
    sentence, annotator, payload, match
):
    _refused(sentence, annotator, payload, match)


def test_inactive_label_is_refused(sentence, annotator, project):
    opinion = factories.label(project, "claim", "opinion")
    opinion.active = False
    opinion.save()
    _refused(sentence, annotator, VALID, "unknown or inactive")


def test_inactive_target_is_refused(sentence, annotator, project):
    project.stance_targets.filter(code="nato").update(active=False)
    payload = AnnotationInput(
        labels={"claim": ("opinion",)},
        stances=(StanceInput(target="nato", polarity="favor"),),
    )
    _refused(sentence, annotator, payload, "unknown or inactive stance target")


def test_label_of_another_projects_scheme_is_refused(sentence, annotator):
    data = {
        "slug": "other",
        "version": "1",
        "name": "Other",
        "dimensions": [
            {
                "code": "claim",
                "role": "claim",
                "name_de": "B",
                "name_en": "Claim",
                "kind": "single",
                "required": True,
                "labels": [
                    {
                        "code": "rumour",
                        "name_de": "G",
                        "name_en": "Rumour",
                        "key": "1",
                        "definition": "",
                        "example": "",
                        "mappings": {},
                    }
                ],
            },
        ],
    }
    other_scheme, _ = load_scheme(data=data)
    factories.ProjectFactory(scheme=other_scheme)
    payload = AnnotationInput(labels={"claim": ("rumour",)})
    _refused(sentence, annotator, payload, "unknown or inactive")


def test_optional_dimension_is_refused_until_the_project_enables_it(
    sentence, annotator, project
):
    payload = AnnotationInput(labels={"claim": ("opinion",), "subjectivity": ("subj",)})
    _refused(sentence, annotator, payload, "unknown or inactive dimension")
    project.optional_dimensions.add(project.scheme.dimensions.get(code="subjectivity"))
    annotation = save_annotation(
        segment=sentence, annotator=annotator, payload=payload, expected_revision=None
    )
    assert annotation.values["labels"]["subjectivity"] == ["subj"]


def test_boilerplate_segment_is_refused(project, annotator):
    article = factories.make_article(
        project, text="Titel\n\nEin Satz hier.\n\nCookies akzeptieren\n"
    )
    boilerplate = article.segments.exclude(
        kind__in=["title", "byline", "heading", "sentence"]
    ).first()
    if boilerplate is None:
        # The segmenter did not mark any boilerplate: make one explicitly.
        boilerplate = article.segments.last()
        Segment.objects.filter(pk=boilerplate.pk).update(kind="boilerplate")
        boilerplate.refresh_from_db()
    _refused(boilerplate, annotator, VALID, "not annotated")


def test_non_member_is_refused(sentence):
    outsider = factories.UserFactory(username="outsider")
    _refused(sentence, outsider, VALID, "not a member")


def test_stale_revision_is_refused_and_keeps_the_stored_version(sentence, annotator):
    first = save_annotation(
        segment=sentence, annotator=annotator, payload=VALID, expected_revision=None
    )
    second = save_annotation(
        segment=sentence,
        annotator=annotator,
        payload=AnnotationInput(labels={"claim": ("factual",)}),
        expected_revision=1,
    )
    assert second.revision == 2
    with pytest.raises(StaleRevision) as stale:
        save_annotation(
            segment=sentence,
            annotator=annotator,
            payload=AnnotationInput(labels={"claim": ("none",)}),
            expected_revision=first.revision,
        )
    assert stale.value.current.revision == 2
    stored = Annotation.objects.get()
    assert stored.values["labels"] == {"claim": ["factual"]}
    assert stored.revision == 2


def test_first_save_when_one_exists_is_stale(sentence, annotator):
    save_annotation(
        segment=sentence, annotator=annotator, payload=VALID, expected_revision=None
    )
    with pytest.raises(StaleRevision) as stale:
        save_annotation(
            segment=sentence,
            annotator=annotator,
            payload=AnnotationInput(labels={"claim": ("none",)}),
            expected_revision=None,
        )
    assert stale.value.current.values["labels"] == {"claim": ["opinion"]}
    assert Annotation.objects.get().revision == 1


def test_replacing_labels_keeps_one_row_set(sentence, annotator):
    save_annotation(
        segment=sentence,
        annotator=annotator,
        payload=AnnotationInput(
            labels={"claim": ("opinion",), "frames": ("political",)}
        ),
        expected_revision=None,
    )
    save_annotation(
        segment=sentence, annotator=annotator, payload=VALID, expected_revision=1
    )
    assert list(AnnotationLabel.objects.values_list("label__code", flat=True)) == [
        "opinion"
    ]


def test_replacing_keeps_only_the_new_attributions_and_stances(
    sentence, annotator, article
):
    """The save deletes only the rows the annotation has (the lock's query says
    which), stances before the attributions that hold them."""
    with_source = AnnotationInput(
        labels={"claim": ("opinion",)},
        attributions=(AttributionInput(source_text="Olaf Scholz"),),
        stances=(
            StanceInput(target="nato", polarity="favor", holder=0),
            StanceInput(target="russia", polarity="against"),
        ),
    )
    other = article.segments.filter(kind="sentence").select_related("article__project")[
        1
    ]
    save_annotation(
        segment=other, annotator=annotator, payload=with_source, expected_revision=None
    )
    revision = None
    for payload in (with_source, VALID, with_source, with_source):
        annotation = save_annotation(
            segment=sentence,
            annotator=annotator,
            payload=payload,
            expected_revision=revision,
        )
        revision = annotation.revision
        mine = {"annotation__segment": sentence}
        assert AnnotationLabel.objects.filter(**mine).count() == 1
        assert Attribution.objects.filter(**mine).count() == len(payload.attributions)
        assert StanceEntry.objects.filter(**mine).count() == len(payload.stances)
    # The other segment's annotation kept its rows.
    assert Attribution.objects.filter(annotation__segment=other).count() == 1
    assert StanceEntry.objects.filter(annotation__segment=other).count() == 2


def test_source_alias_maps_to_the_canonical_entry(sentence, annotator, project):
    Source.objects.create(
        project=project, name="Wolodymyr Selenskyj", aliases=["Selenski", "Zelensky"]
    )
    payload = AnnotationInput(
        labels={"claim": ("opinion",)},
        attributions=(AttributionInput(source_text="zelensky"),),
    )
    annotation = save_annotation(
        segment=sentence, annotator=annotator, payload=payload, expected_revision=None
    )
    assert annotation.attributions.get().source.name == "Wolodymyr Selenskyj"
    assert Source.objects.count() == 1


def test_first_save_race_lost_on_the_unique_constraint_answers_stale(
    sentence, annotator, monkeypatch
):
    """The loser of two simultaneous first saves hits the database's unique
    constraint; it gets StaleRevision with the winner, and nothing of its own."""
    save_annotation(
        segment=sentence, annotator=annotator, payload=VALID, expected_revision=None
    )

    def lose_race(**kwargs):
        raise IntegrityError("one_annotation_per_segment_and_annotator")

    monkeypatch.setattr(services, "_store_annotation", lose_race)
    with pytest.raises(StaleRevision) as stale:
        save_annotation(
            segment=sentence,
            annotator=annotator,
            payload=AnnotationInput(labels={"claim": ("none",)}),
            expected_revision=None,
        )
    assert stale.value.current.values["labels"] == {"claim": ["opinion"]}
    assert Annotation.objects.get().values["labels"] == {"claim": ["opinion"]}


@pytest.mark.django_db(transaction=True)
def test_first_save_race_leaves_one_annotation_and_the_loser_sees_the_winner(
    scheme,
):
    """Two first saves at once (two tabs): one wins, the other gets StaleRevision."""
    project = factories.ProjectFactory(scheme=scheme)
    user = factories.member(project, username="racer")
    article = factories.make_article(project, n_sentences=1)
    segment = (
        article.segments.filter(kind="sentence")
        .select_related("article__project")
        .get()
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(code: str) -> None:
        try:
            barrier.wait()
            save_annotation(
                segment=segment,
                annotator=user,
                payload=AnnotationInput(labels={"claim": (code,)}),
                expected_revision=None,
            )
            outcomes.append("saved")
        except StaleRevision as stale:
            outcomes.append("stale" if stale.current is not None else "stale-empty")
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(c,)) for c in ("opinion", "factual")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["saved", "stale"]
    assert Annotation.objects.filter(segment=segment).count() == 1
    assert AnnotationLabel.objects.count() == 1


# --------------------------------------------------------------------- the form


def _form(data: dict):
    from django.http import QueryDict

    from annotations.forms import AnnotationForm

    query = QueryDict(mutable=True)
    for key, value in data.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return AnnotationForm(query)


def test_form_turns_a_post_into_the_service_input():
    form = _form(
        {
            "dim-claim": "opinion",
            "dim-frames": ["political", "economic"],
            "primary-frames": "economic",
            "dim-empty": "",
            "stance-nato": "favor",
            "holder-nato": "1",
            "stance-usa": "",
            "attr-count": "3",
            "attr-0-source": "Peskow",
            "attr-0-cue_spans": "1-3,5-8",
            "attr-1-source": "  ",  # the always-offered empty row
            "attr-2-source": "Rubio",
            "attr-2-source_start": "0",
            "attr-2-source_end": "5",
            "attr-9-source": "beyond attr-count, ignored",
            "unsure": "on",
            "comment": " so ",
            "time_spent_ms": "900",
            "revision": "4",
        }
    )
    assert form.is_valid(), form.errors
    payload = form.cleaned_data["payload"]
    assert payload.labels == {
        "claim": ("opinion",),
        "frames": ("political", "economic"),
    }
    assert payload.primary == {"frames": "economic"}
    assert [(s.target, s.polarity, s.holder) for s in payload.stances] == [
        ("nato", "favor", 1)
    ]
    assert [a.source_text for a in payload.attributions] == ["Peskow", "Rubio"]
    assert payload.attributions[0].cue_spans == ((1, 3), (5, 8))
    assert payload.attributions[1].source_span == (0, 5)
    assert payload.unsure is True
    assert payload.comment == " so "
    assert payload.time_spent_ms == 900
    assert form.cleaned_data["revision"] == 4


@pytest.mark.parametrize(
    "data",
    [
        {"revision": "0"},
        {"revision": "x"},
        {"time_spent_ms": "-1"},
        {"time_spent_ms": str(25 * 3600 * 1000)},
        {"attr-count": "21"},
        {"comment": "c" * 5001},
        {"attr-count": "1", "attr-0-source": "A", "attr-0-source_start": "3"},
        {"attr-count": "1", "attr-0-source": "A", "attr-0-cue_spans": "3-"},
        {"attr-count": "1", "attr-0-source": "s" * 2001},
        {"stance-nato": "favor", "holder-nato": "-1"},
    ],
)
def test_form_refuses_malformed_values(data):
    assert not _form({"dim-claim": "opinion", **data}).is_valid()
