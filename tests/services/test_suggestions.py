"""Attribution suggestions: those of other tools imported all or nothing (JSON lines
and Label Studio predictions), offered on the annotate page like the built-in
ones unless the project switched them off, and recorded with every attribution
that came from one."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotations import services
from annotations.models import Attribution, ImportedSuggestion
from annotations.services import AnnotationInput, AttributionInput, save_annotation
from annotations.suggesting.external import SuggestionsRefused, parse_suggestions
from tests import factories

TEXT = (
    "Kreml-Sprecher Dmitri Peskow bestätigte am Montag die Gespräche.\n\n"
    "Die Zeitung berichtete, dass die Runde in Abu Dhabi stattfinde."
)


@pytest.fixture
def article(project):
    return factories.make_article(project, text=TEXT, title="x")


def sentence(article, number: int = 0):
    return article.segments.annotatable().order_by("position")[number]


def jsonl(*rows: dict) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


def row_for(article, segment, **extra) -> dict:
    start = segment.start
    peskow = segment.text.index("Dmitri Peskow")
    cue = segment.text.index("bestätigte")
    return {
        "article": article.pk,
        "position": segment.position,
        "cue_spans": [[start + cue, start + cue + len("bestätigte")]],
        "source_span": [start + peskow, start + peskow + len("Dmitri Peskow")],
        "source_text": "Dmitri Peskow",
        "form": "indirect",
        "score": 0.8,
        **extra,
    }


# ------------------------------------------------------------------ the formats


def test_json_lines_are_read_with_article_offsets(article):
    segment = sentence(article)
    (item,) = parse_suggestions(jsonl(row_for(article, segment)), name="s.jsonl")
    assert (item.article, item.position, item.form) == (
        article.pk,
        segment.position,
        "indirect",
    )
    assert item.segment_offsets is False


def test_label_studio_predictions_pair_cue_and_source():
    tasks = [
        {
            "data": {"article": 7, "position": 2, "text": "Peskow bestätigte das."},
            "predictions": [
                {
                    "score": 0.6,
                    "result": [
                        {
                            "id": "s",
                            "type": "labels",
                            "value": {"start": 0, "end": 6, "labels": ["Source"]},
                        },
                        {
                            "id": "c",
                            "type": "labels",
                            "value": {"start": 7, "end": 17, "labels": ["Cue"]},
                        },
                        {"type": "relation", "from_id": "c", "to_id": "s"},
                        {"type": "choices", "value": {"choices": ["indirect"]}},
                    ],
                }
            ],
        }
    ]
    (item,) = parse_suggestions(json.dumps(tasks).encode(), name="ls.json")
    assert item.cue_spans == ((7, 17),)
    assert item.source_span == (0, 6)
    assert (item.form, item.score, item.segment_offsets) == ("indirect", 0.6, True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"article": 1, "position": 0}', "names neither a cue nor a source"),
        (b'{"article": -1, "position": 0, "source_text": "x"}', "article"),
        (b'{"article": 1, "position": 0, "cue_spans": [[5, 2]]}', "start < end"),
        (b'{"article": 1, "position": 0, "source_text": "x", "score": 3}', "score"),
        (b"[1, 2", "not valid JSON"),
        (b'{"article": 1}\n[]', "must be a JSON object"),
        (("[" * 100_000).encode(), "nested deeper"),
        (b'{"a": ' * 50 + b"1" + b"}" * 50, "nested deeper"),
    ],
)
def test_bad_files_are_refused_with_a_message(data, message):
    with pytest.raises(SuggestionsRefused) as refused:
        parse_suggestions(data, name="bad.jsonl")
    assert any(message in error for error in refused.value.errors), refused.value.errors


# ------------------------------------------------------------------ storing


def test_import_converts_to_segment_offsets_all_or_nothing(project, article):
    segment = sentence(article)
    good = row_for(article, segment)
    stored = services.import_suggestions(
        project=project,
        suggestions=parse_suggestions(jsonl(good), name="s.jsonl"),
        origin="my-model",
    )
    assert stored == 1
    row = ImportedSuggestion.objects.get()
    assert segment.text[row.source_start : row.source_end] == "Dmitri Peskow"
    assert [segment.text[a:b] for a, b in row.cue_spans] == ["bestätigte"]
    # A second file with one bad row: nothing of it is stored.
    bad = row_for(article, segment, form="shouted")
    outside = row_for(article, segment, position=segment.position + 1)
    with pytest.raises(SuggestionsRefused) as refused:
        services.import_suggestions(
            project=project,
            suggestions=parse_suggestions(jsonl(good, bad, outside), name="b.jsonl"),
            origin="my-model",
        )
    assert any("unknown form 'shouted'" in e for e in refused.value.errors)
    assert any("outside the segment" in e for e in refused.value.errors)
    assert ImportedSuggestion.objects.count() == 1


def test_import_refuses_articles_of_other_projects(project, article):
    elsewhere = factories.make_article(factories.ProjectFactory(slug="other"))
    with pytest.raises(SuggestionsRefused, match="has no segment"):
        services.import_suggestions(
            project=project,
            suggestions=parse_suggestions(
                jsonl({"article": elsewhere.pk, "position": 1, "source_text": "X"}),
                name="s.jsonl",
            ),
            origin="my-model",
        )
    assert not ImportedSuggestion.objects.exists()


def test_replace_removes_the_same_origins_earlier_suggestions(project, article):
    rows = parse_suggestions(jsonl(row_for(article, sentence(article))), name="s")
    for _ in range(2):
        services.import_suggestions(project=project, suggestions=rows, origin="m")
    assert ImportedSuggestion.objects.count() == 2
    services.import_suggestions(
        project=project, suggestions=rows, origin="m", replace=True
    )
    assert ImportedSuggestion.objects.count() == 1


def test_command_imports_and_refuses_as_written(tmp_path, project, article):
    path = tmp_path / "s.jsonl"
    path.write_bytes(jsonl(row_for(article, sentence(article))))
    out = StringIO()
    call_command("import_suggestions", str(path), "--origin", "crf", stdout=out)
    assert "imported 1 suggestion from crf" in out.getvalue()
    path.write_bytes(b'{"article": 1, "position": 0, "cue_spans": "x"}')
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_suggestions", str(path), "--origin", "crf")
    assert ImportedSuggestion.objects.count() == 1


def test_admin_upload_imports_for_a_managed_project(client, project, manager, article):
    manager.is_staff = True
    manager.save()
    client.force_login(manager)
    url = reverse("admin:annotations_importedsuggestion_import")
    page = client.get(url)
    assert page.status_code == 200
    upload = StringIO(jsonl(row_for(article, sentence(article))).decode())
    upload.name = "model.jsonl"
    response = client.post(
        url, {"project": project.pk, "origin": "crf", "file": upload}, follow=True
    )
    assert "imported 1 suggestions" in response.content.decode()
    assert ImportedSuggestion.objects.get().origin == "crf"


# ------------------------------------------------------------------ the page


def payload(client, article, position: int) -> dict:
    html = client.get(
        reverse("annotations:annotate_segment", args=[article.pk, position])
    ).content.decode()
    raw = html.split('id="annotate-data" hidden data-payload="')[1].split('"></div>')[0]
    import html as html_module

    return json.loads(html_module.unescape(raw))


def test_page_offers_built_in_and_imported_suggestions_unless_switched_off(
    client, project, annotator, article
):
    segment = sentence(article)
    services.import_suggestions(
        project=project,
        suggestions=parse_suggestions(
            jsonl(row_for(article, segment, score=0.99)), name="s"
        ),
        origin="crf",
    )
    client.force_login(annotator)
    data = payload(client, article, segment.position)
    offered = next(s for s in data["segments"] if s["id"] == segment.pk)
    origins = [s["origin"] for s in offered["suggestions"]]
    assert origins[0] == "crf"
    assert "built-in" in origins
    built_in = next(s for s in offered["suggestions"] if s["origin"] == "built-in")
    a, b = built_in["source_span"]
    assert segment.text[a:b] == "Kreml-Sprecher Dmitri Peskow"
    project.suggestions_enabled = False
    project.save()
    data = payload(client, article, segment.position)
    assert all(not s["suggestions"] for s in data["segments"])


def test_an_attribution_records_whether_it_came_from_a_suggestion(
    project, annotator, article
):
    saved = save_annotation(
        segment=sentence(article),
        annotator=annotator,
        payload=AnnotationInput(
            labels={"claim": ("factual",)},
            attributions=(
                AttributionInput(source_text="Dmitri Peskow", suggestion="accepted"),
                AttributionInput(source_text="Die Zeitung", suggestion="edited"),
                AttributionInput(source_text="Montag"),
            ),
        ),
        expected_revision=None,
    )
    assert [a.get("suggestion", "") for a in saved.values["attributions"]] == [
        "accepted",
        "edited",
        "",
    ]
    assert list(
        Attribution.objects.order_by("order").values_list("suggestion", flat=True)
    ) == ["accepted", "edited", ""]
    with pytest.raises(services.AnnotationRefused, match="suggestion must be one of"):
        save_annotation(
            segment=sentence(article, 1),
            annotator=annotator,
            payload=AnnotationInput(
                labels={"claim": ("factual",)},
                attributions=(AttributionInput(source_text="X", suggestion="maybe"),),
            ),
            expected_revision=None,
        )


def test_agreement_page_shows_suggestion_use_and_agreement_with_and_without(
    client, project, reviewer, article
):
    """Segment 0: both annotators were offered a suggestion and both took it
    (they agree); segment 1: neither was offered one, one gave a source (they
    disagree): alpha with suggestions 1.0, without it is undefined-or-lower,
    and the counts say what was taken."""
    from annotations.ratings import project_agreement

    anna = factories.member(project, username="anna")
    bert = factories.member(project, username="bert")
    first, second = sentence(article), sentence(article, 1)
    for user, use in ((anna, "accepted"), (bert, "edited")):
        save_annotation(
            segment=first,
            annotator=user,
            payload=AnnotationInput(
                labels={"claim": ("factual",)},
                attributions=(
                    AttributionInput(source_text="Dmitri Peskow", suggestion=use),
                ),
                suggestions_shown=1,
            ),
            expected_revision=None,
        )
    save_annotation(
        segment=second,
        annotator=anna,
        payload=AnnotationInput(
            labels={"claim": ("factual",)},
            attributions=(AttributionInput(source_text="Die Zeitung"),),
        ),
        expected_revision=None,
    )
    save_annotation(
        segment=second,
        annotator=bert,
        payload=AnnotationInput(labels={"claim": ("factual",)}),
        expected_revision=None,
    )
    figures = project_agreement(project).suggestions
    assert (figures.annotations_offered, figures.offered) == (2, 2)
    assert (figures.accepted, figures.edited) == (1, 1)
    assert figures.taken_share == 1.0
    presence_with = dict(figures.with_suggestions)["Attribution: presence"]
    presence_without = dict(figures.without_suggestions)["Attribution: presence"]
    assert presence_with.n_items == 1
    assert presence_without.n_items == 1
    assert presence_with.percent == 1.0
    assert presence_without.percent == 0.0
    client.force_login(reviewer)
    html = client.get(
        reverse("annotations:team_agreement", args=[project.slug])
    ).content.decode()
    assert "2 suggestions offered with 2 annotations" in html
    assert "1 accepted as suggested, 1 accepted and then edited (100 % taken)" in html
