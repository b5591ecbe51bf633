"""The columnar loader and computation give exactly the figures of the code
they replaced.

``tests/reference/ratings_v1.py`` (with ``agreement_v1.py``) is a frozen copy of
the agreement page's computation before it moved to numpy columns. On projects
with random snapshots (missing and multi-label answers, empty sets, stances held
by the author and by sources, repeated targets, attributions with repeated and
differently spelt sources, missing types and forms, spans, suggestions offered to
some annotators only, odd shapes) both must give equal results, floats compared
with ``==`` and the order of every list and dict included.
"""

from __future__ import annotations

import random
from dataclasses import fields, is_dataclass

import pytest

from annotations.models import Annotation
from annotations.ratings import load_ratings, project_agreement
from annotations.scheme import SchemeIndex
from tests import factories
from tests.reference import ratings_v1

SOURCES = ["Dmitri Peskow", "dmitri  peskow", "Olaf Scholz", "NATO", "", "Die EU"]


def ordered(value):
    """Nested data with dicts as lists of pairs, so order counts in ``==``."""
    if is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            [(f.name, ordered(getattr(value, f.name))) for f in fields(value)],
        )
    if isinstance(value, dict):
        return [(ordered(k), ordered(v)) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [ordered(v) for v in value]
    return value


def random_values(rng: random.Random, index: SchemeIndex) -> dict:
    specs = index.specs()
    codes = {s.dimension: [c for c, _n, _k in s.labels] for s in specs if s.dimension}
    targets = [s.target for s in specs if s.target]
    polarities = next(s for s in specs if s.target).labels
    polarity_codes = [c for c, _n, _k in polarities] + [""]
    labels: dict = {}
    for dimension, options in codes.items():
        roll = rng.random()
        if roll < 0.25:
            continue  # not given
        if roll < 0.35:
            labels[dimension] = []
        else:
            labels[dimension] = rng.sample(options, rng.randint(1, 3))
    stances = [
        {
            "target": rng.choice(targets + ["unknown"]),
            "polarity": rng.choice(polarity_codes),
            "holder": rng.choice([None, None, 0]),
        }
        for _ in range(rng.randint(0, 4))
    ]
    type_codes = codes.get("source_type", []) or ["person", "organisation"]
    form_codes = codes.get("form", []) or ["direct", "indirect"]
    attributions = []
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        start = rng.randint(0, 30)
        item = {
            "source_text": rng.choice(SOURCES) or "jemand",
            "source": rng.choice(SOURCES),
            "source_type": rng.choice(type_codes + [""]),
            "form": rng.choice(form_codes + [""]),
            "cue_text": "sagte",
            "source_span": rng.choice([None, [start, start + rng.randint(1, 8)]]),
            "cue_spans": [
                [s, s + rng.randint(1, 5)]
                for s in rng.sample(range(40), rng.randint(0, 2))
            ],
        }
        if rng.random() < 0.3:
            item["suggestion"] = rng.choice(["accepted", "edited"])
        attributions.append(item)
    values = {
        "labels": labels,
        "primary": {},
        "attributions": attributions,
        "stances": stances,
        "unsure": False,
        "comment": "",
    }
    roll = rng.random()
    if roll < 0.4:
        values["suggestions_shown"] = rng.randint(1, 3)
    elif roll < 0.45:
        values["suggestions_shown"] = 0
    if rng.random() < 0.03:
        del values["labels"]
    if rng.random() < 0.03:
        values["stances"] = None
    if rng.random() < 0.03:
        values["attributions"] = {"not": "a list"}
    return values


def random_project(project, seed: int, *, n_annotators: int, n_sentences: int):
    rng = random.Random(seed)
    index = SchemeIndex.for_project(project)
    people = [
        factories.member(project, username=f"coder{seed}-{k}")
        for k in range(n_annotators)
    ]
    rows = []
    for article_no in range(2):
        article = factories.make_article(
            project, n_sentences=n_sentences, title=f"Artikel {seed}-{article_no}"
        )
        for segment in article.segments.all():
            for person in people:
                if rng.random() < 0.75:
                    rows.append(
                        Annotation(
                            segment=segment,
                            article=article,
                            annotator=person,
                            values=random_values(rng, index),
                        )
                    )
    rng.shuffle(rows)
    Annotation.objects.bulk_create(rows)
    # A gold annotation never counts.
    gold = rows[0]
    Annotation.objects.create(
        segment=gold.segment,
        article=gold.article,
        annotator=gold.annotator,
        is_gold=True,
        values=random_values(rng, index),
    )
    return project


@pytest.mark.parametrize(
    ("seed", "n_annotators", "n_sentences"), [(1, 2, 12), (2, 3, 20), (3, 5, 15)]
)
def test_project_agreement_is_identical_to_the_reference(
    project, seed, n_annotators, n_sentences
):
    random_project(project, seed, n_annotators=n_annotators, n_sentences=n_sentences)
    for most in (3, 20, 500):
        got = project_agreement(project, most=most)
        expected = ratings_v1.project_agreement(project, most=most)
        assert got.n_annotations == expected.n_annotations > 0
        assert ordered(got) == ordered(expected)
    assert got.disagreed  # the data disagree somewhere
    specs, got_ratings, coders, version = load_ratings(project)
    old_specs, old_ratings, old_coders, old_version = ratings_v1.load_ratings(project)
    assert (specs, coders, version) == (old_specs, old_coders, old_version)
    # The same ratings; their order is the database's (the query has no ORDER BY).
    assert {k: sorted(map(tuple, v)) for k, v in got_ratings.items()} == {
        k: sorted(map(tuple, v)) for k, v in old_ratings.items()
    }


def test_empty_project_is_identical_to_the_reference(project):
    assert ordered(project_agreement(project)) == ordered(
        ratings_v1.project_agreement(project)
    )


def test_version_is_the_latest_updated_at_whatever_its_fraction(project):
    """On PostgreSQL the loader compares ``updated_at`` as UTC text (no trailing
    zeros in the fraction): the latest must still be the latest time."""
    from datetime import UTC, datetime, timedelta

    from annotations.ratings import agreement_version, load_project_ratings

    random_project(project, 4, n_annotators=2, n_sentences=3)
    base = datetime(2026, 12, 4, 19, 40, tzinfo=UTC)
    offsets = [0, 500_000, 50_000, 123_456, 120_000, -1, 999_999, 10]
    annotations = list(Annotation.objects.own().filter(article__project=project))
    for annotation, micro in zip(annotations, offsets, strict=False):
        Annotation.objects.filter(pk=annotation.pk).update(
            updated_at=base + timedelta(seconds=1, microseconds=micro)
        )
    Annotation.objects.filter(
        pk__in=[a.pk for a in annotations[len(offsets) :]]
    ).update(updated_at=base)
    version = load_project_ratings(project).version
    assert version == agreement_version(project)
    assert version[1] == base + timedelta(seconds=1, microseconds=999_999)
