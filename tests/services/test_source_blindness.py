"""Blind annotation of sources: a name one annotator typed never reaches another,
in any spelling (case, spacing, Unicode form), nor the fact that someone typed it.

Names annotators type are their own source list entries (``Source.owner``); the
curated list (reviewers' and managers' entries) is shared. See services
``_canonical_sources`` and ``SourceQuerySet.suggestable``.
"""

from __future__ import annotations

import csv
import io

import pytest

from annotations import services
from annotations.export.queries import ExportOptions, export_chunks
from annotations.models import Annotation, Role, Source
from annotations.services import AnnotationInput, AttributionInput, save_annotation
from annotations.snapshot import source_key
from tests import factories

TYPED_BY_ONE = "ZQSb_ann1y"
# The same name as another annotator might type it.
VARIANTS = [
    "zqsb_ann1y",
    "ZQSB_ANN1Y",
    "  zqsb_ann1y ",
    "ｚｑｓｂ＿ａｎｎ１ｙ",  # full-width forms: NFKC makes them the same name
]


def say(segment, user, name: str, *, is_gold: bool = False) -> Annotation:
    return save_annotation(
        segment=segment,
        annotator=user,
        payload=AnnotationInput(
            labels={"claim": ("opinion",)},
            attributions=(AttributionInput(source_text=name, source_type="person"),),
        ),
        expected_revision=None,
        is_gold=is_gold,
    )


@pytest.fixture
def two(project):
    article = factories.make_article(project, n_sentences=3)
    first, second = article.segments.annotatable().order_by("position")[:2]
    one = factories.member(project, role=Role.ANNOTATOR, username="b_ann1")
    two = factories.member(project, role=Role.ANNOTATOR, username="b_ann2")
    return article, first, second, one, two


def test_source_key_ignores_case_spacing_and_unicode_form():
    keys = {source_key(name) for name in [TYPED_BY_ONE, *VARIANTS]}
    assert keys == {"zqsb_ann1y"}
    assert source_key("Dmitri  Peskow") == source_key("dmitri peskow")
    assert source_key("Peskow") != source_key("Peskov")


@pytest.mark.parametrize("variant", VARIANTS)
def test_another_annotators_spelling_never_reaches_me(project, two, variant):
    _article, first, second, one, other = two
    say(first, one, TYPED_BY_ONE)
    mine = say(second, other, variant)
    written = variant.strip()
    assert mine.values["attributions"][0]["source"] == written
    suggested = {
        spelling
        for source in Source.objects.suggestable(
            project=project, user=other, sees_others=False
        )
        for spelling in [source.name, *source.aliases]
    }
    assert TYPED_BY_ONE not in suggested
    assert suggested == {written}
    # My own export shows my spelling only.
    text = "".join(
        export_chunks(
            project,
            ExportOptions(annotators=["b_ann2"]),
            fmt="csv",
            spreadsheet=False,
        )
    )
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["attribution_source"] for row in rows] == [written]
    assert TYPED_BY_ONE not in text


def test_my_own_spellings_map_to_my_first_one(project, two):
    _article, first, second, one, _other = two
    say(first, one, "Dmitri Peskow")
    again = say(second, one, "dmitri  PESKOW")
    assert again.values["attributions"][0]["source"] == "Dmitri Peskow"
    assert Source.objects.filter(project=project).count() == 1


def test_curated_entries_are_shared_and_win_over_my_own(project, two):
    _article, first, second, one, other = two
    say(first, one, "Peskow")
    Source.objects.create(
        project=project, name="Dmitri Peskow", aliases=["Peskow", "Peskov"]
    )
    mine = say(second, other, "peskov")
    assert mine.values["attributions"][0]["source"] == "Dmitri Peskow"
    again = say(second.article.segments.annotatable()[2], one, "Peskow")
    assert again.values["attributions"][0]["source"] == "Dmitri Peskow"


def test_a_reviewers_gold_makes_a_curated_entry(project, two):
    _article, first, _second, one, _other = two
    boss = factories.member(project, role=Role.REVIEWER, username="boss")
    say(first, one, "Rubio")
    say(first, boss, "Marco Rubio", is_gold=True)
    curated = Source.objects.filter(project=project).curated()
    assert [source.name for source in curated] == ["Marco Rubio"]
    assert Source.objects.get(name="Rubio").owner == one


def test_curating_shares_an_own_name_and_refuses_a_clash(project, two):
    _article, first, second, one, other = two
    say(first, one, "Selenski")
    say(second, other, "Selenski")
    first_own = Source.objects.get(owner=one)
    assert services.curate_sources([first_own]) == 1
    suggested = Source.objects.suggestable(
        project=project, user=other, sees_others=False
    )
    assert sorted(s.name for s in suggested) == ["Selenski", "Selenski"]
    with pytest.raises(services.SourceMergeRefused, match="already names"):
        services.curate_sources([Source.objects.get(owner=other)])
    assert Source.objects.curated().count() == 1
