"""The work list: my projects' articles, my and the team's progress, filters,
sorting, paging, my assigned queue first, the global Continue; fixed query count."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.timezone import localtime

from annotations.models import Annotation, Article, Assignment, Membership
from annotations.services import AnnotationInput, save_annotation
from tests import factories

URL = reverse("annotations:work_list")
CONTINUE = reverse("annotations:continue")
LABELS = AnnotationInput(labels={"claim": ("opinion",)})


def label(article: Article, user, n: int) -> None:
    """``user`` labels the first ``n`` annotatable segments of ``article``."""
    for segment in article.segments.annotatable().select_related("article__project")[
        :n
    ]:
        save_annotation(
            segment=segment, annotator=user, payload=LABELS, expected_revision=None
        )


def rows(response) -> list[Article]:
    return list(response.context["table"].page.object_list.data)


@pytest.fixture
def other(project):
    return factories.member(project, role="annotator", username="annotator2")


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_lists_only_articles_of_my_projects(client, annotator, project, scheme):
    mine = factories.make_article(project, title="Mein Artikel")
    factories.make_article(
        factories.ProjectFactory(scheme=scheme), title="Fremder Artikel"
    )
    client.force_login(annotator)
    response = client.get(URL)
    html = response.content.decode()
    assert [a.pk for a in rows(response)] == [mine.pk]
    assert "Fremder Artikel" not in html


def test_progress_counts_mine_and_the_team(client, annotator, other, project):
    article = factories.make_article(project, n_sentences=6)
    label(article, annotator, 2)
    label(article, other, 3)  # two of these overlap with mine
    client.force_login(annotator)
    response = client.get(URL)
    (row,) = rows(response)
    assert row.my_done == 2
    assert row.team_done == 3  # distinct segments labelled by anyone
    assert row.last_activity is not None
    html = response.content.decode()
    total = article.annotatable_count
    assert f"2/{total}" in html
    assert f"3/{total}" in html
    assert f'<progress value="2" max="{total}"' in html


def test_filters_by_status_project_outlet_and_title(client, annotator, project, scheme):
    done = factories.make_article(project, n_sentences=1, title="Fertig")
    started = factories.make_article(project, n_sentences=3, title="Angefangen")
    fresh = factories.make_article(project, n_sentences=2, title="Neu")
    Article.objects.filter(pk=fresh.pk).update(outlet="Die Zeitung")
    label(done, annotator, done.annotatable_count)
    label(started, annotator, 1)
    second = factories.ProjectFactory(scheme=scheme, slug="zweites")
    Membership.objects.create(project=second, user=annotator, role="annotator")
    elsewhere = factories.make_article(second, title="Anderswo")
    client.force_login(annotator)

    def pks(**query) -> list[int]:
        return sorted(a.pk for a in rows(client.get(URL, query)))

    assert pks(status="done") == [done.pk]
    assert pks(status="in_progress") == [started.pk]
    assert pks(status="not_started") == sorted([fresh.pk, elsewhere.pk])
    assert pks(project="zweites") == [elsewhere.pk]
    assert pks(outlet="Die Zeitung") == [fresh.pk]
    assert pks(title="angef") == [started.pk]
    # A project I am not in is not a valid choice: the filter refuses it.
    factories.ProjectFactory(scheme=scheme, slug="fremd")
    response = client.get(URL, {"project": "fremd"})
    assert response.context["filter"].errors


def test_sorting_by_my_progress(client, annotator, project):
    a = factories.make_article(project, n_sentences=3)
    b = factories.make_article(project, n_sentences=3)
    label(b, annotator, 2)
    client.force_login(annotator)
    assert [r.pk for r in rows(client.get(URL, {"sort": "my_done"}))] == [a.pk, b.pk]
    assert [r.pk for r in rows(client.get(URL, {"sort": "-my_done"}))] == [b.pk, a.pk]


def test_sorting_by_team_progress_last_activity_and_queue(
    client, annotator, other, project
):
    a, b, c = (factories.make_article(project, n_sentences=4) for _ in range(3))
    label(c, other, 3)
    label(a, annotator, 1)
    label(b, annotator, 1)  # my latest
    Assignment.objects.create(article=b, annotator=annotator, position=0)
    client.force_login(annotator)

    def order(sort: str) -> list[int]:
        return [r.pk for r in rows(client.get(URL, {"sort": sort}))]

    assert order("-team_done")[0] == c.pk
    assert order("team_done")[-1] == c.pk
    # c has none of mine: where it goes depends on the database's NULL order.
    assert [pk for pk in order("-last_activity") if pk != c.pk] == [b.pk, a.pk]
    assert [pk for pk in order("last_activity") if pk != c.pk] == [a.pk, b.pk]
    # Where articles without a queue position go depends on the database
    # (NULLs last in PostgreSQL, first in SQLite); mine is at one end.
    assert b.pk in {order("queue_position")[0], order("queue_position")[-1]}
    assert b.pk in {order("-queue_position")[0], order("-queue_position")[-1]}


def test_pages_of_25(client, annotator, project):
    for _ in range(27):
        factories.make_article(project, n_sentences=1)
    client.force_login(annotator)
    assert len(rows(client.get(URL))) == 25
    assert len(rows(client.get(URL, {"page": 2}))) == 2


def test_a_page_out_of_range_is_not_found(client, annotator, project):
    factories.make_article(project, n_sentences=1)
    client.force_login(annotator)
    for page in ("2", "0", "abc"):
        assert client.get(URL, {"page": page}).status_code == 404, page


def test_the_last_page_shows_the_progress_of_its_own_rows(
    client, annotator, other, project
):
    articles = [factories.make_article(project, n_sentences=3) for _ in range(26)]
    label(articles[-1], annotator, 1)
    label(articles[-1], other, 2)
    client.force_login(annotator)
    (first, *_) = rows(client.get(URL))
    assert (first.my_done, first.team_done, first.last_activity) == (0, 0, None)
    response = client.get(URL, {"page": 2})
    (row,) = rows(response)
    assert row.pk == articles[-1].pk
    assert (row.my_done, row.team_done) == (1, 2)
    assert row.last_activity is not None
    html = response.content.decode()
    assert '<a class="button small primary" href="' in html  # "Continue"
    assert f"2/{row.annotatable_count}" in html


def test_rows_show_byline_outlet_queue_and_last_activity(
    client, annotator, project, settings
):
    settings.TIME_ZONE = "Europe/Berlin"
    fresh = factories.make_article(project, n_sentences=2, title="Neu")
    Article.objects.filter(pk=fresh.pk).update(byline="Von <Anna>", outlet="taz & Co")
    done = factories.make_article(project, n_sentences=1, title="Fertig")
    Article.objects.filter(pk=done.pk).update(byline="", outlet="")
    label(done, annotator, done.annotatable_count)
    Assignment.objects.create(article=done, annotator=annotator, position=0)
    client.force_login(annotator)
    html = client.get(URL).content.decode()
    tbody = html.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tbody, re.DOTALL)]
    when = localtime(
        Annotation.objects.filter(annotator=annotator).latest("updated_at").updated_at
    )
    n, m = done.annotatable_count, fresh.annotatable_count
    assert cells[:9] == [
        "1",
        f'<a href="{done.get_absolute_url()}">Fertig</a>',
        project.name,
        "—",
        str(n),
        f'<div class="progress-cell"><progress value="{n}" max="{n}" '
        'aria-label="My progress">100%</progress>'
        f'<span class="progress-text">{n}/{n}</span></div>',
        f'<div class="progress-cell"><progress value="{n}" max="{n}" '
        'aria-label="Segments labelled by anyone">100%</progress>'
        f'<span class="progress-text">{n}/{n}</span></div>',
        when.strftime("%d.%m.%Y %H:%M"),
        f'<a class="button small" href="{done.get_absolute_url()}">Open</a>',
    ]
    assert cells[9:] == [
        "–",
        f'<a href="{fresh.get_absolute_url()}">Neu</a>'
        '<span class="byline">Von &lt;Anna&gt;</span>',
        project.name,
        "taz &amp; Co",
        str(m),
        f'<div class="progress-cell"><progress value="0" max="{m}" '
        'aria-label="My progress">0%</progress>'
        f'<span class="progress-text">0/{m}</span></div>',
        f'<div class="progress-cell"><progress value="0" max="{m}" '
        'aria-label="Segments labelled by anyone">0%</progress>'
        f'<span class="progress-text">0/{m}</span></div>',
        "–",
        f'<a class="button small" href="{fresh.get_absolute_url()}">Start</a>',
    ]
    assert re.search(r'<tr class="even">\s*<td class="num">1</td>', html)
    assert re.search(r'<tr class="odd">\s*<td class="num">–</td>', html)


def test_my_queue_comes_first_and_continue_follows_it(client, annotator, project):
    first, second, third = (
        factories.make_article(project, n_sentences=2) for _ in range(3)
    )
    Assignment.objects.create(article=third, annotator=annotator, position=0)
    Assignment.objects.create(article=first, annotator=annotator, position=1)
    client.force_login(annotator)
    response = client.get(URL)
    assert [r.pk for r in rows(response)] == [third.pk, first.pk, second.pk]
    assert "Your assigned queue comes first" in response.content.decode()
    assert client.get(CONTINUE)["Location"] == third.get_absolute_url()
    label(third, annotator, third.annotatable_count)
    assert client.get(CONTINUE)["Location"] == first.get_absolute_url()
    label(first, annotator, first.annotatable_count)
    assert client.get(CONTINUE)["Location"] == second.get_absolute_url()


def test_continue_without_queue_takes_the_first_unfinished_article(
    client, annotator, project
):
    a = factories.make_article(project, n_sentences=1)
    b = factories.make_article(project, n_sentences=1)
    label(a, annotator, a.annotatable_count)
    client.force_login(annotator)
    assert client.get(CONTINUE)["Location"] == b.get_absolute_url()
    label(b, annotator, b.annotatable_count)
    response = client.get(CONTINUE, follow=True)
    assert response.redirect_chain[-1][0] == URL
    assert "Nothing left to label" in response.content.decode()


def test_queue_of_another_annotator_does_not_reorder_mine(
    client, annotator, other, project
):
    a = factories.make_article(project, n_sentences=1)
    b = factories.make_article(project, n_sentences=1)
    Assignment.objects.create(article=b, annotator=other, position=0)
    assert [r.pk for r in Article.objects.for_work_list(annotator)] == [a.pk, b.pk]


def test_titles_are_escaped(client, annotator, project):
    factories.make_article(project, title="<script>alert(1)</script> Titel")
    client.force_login(annotator)
    html = client.get(URL).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Titel" in html


@pytest.mark.parametrize(("n_articles", "n_sentences"), [(1, 1), (30, 60)])
def test_work_list_runs_a_fixed_number_of_queries(
    client,
    annotator,
    other,
    project,
    n_articles,
    n_sentences,
    django_assert_max_num_queries,
):
    articles = [
        factories.make_article(project, n_sentences=n_sentences)
        for _ in range(n_articles)
    ]
    for article in articles[:3]:
        label(article, annotator, 2)
        label(article, other, 1)
    Assignment.objects.create(article=articles[-1], annotator=annotator, position=0)
    client.force_login(annotator)
    client.get(URL)  # the session's first request may write to it
    last_page = str((n_articles + 24) // 25)
    # Session, user, the filter's outlets and projects, one COUNT, the page's
    # articles, their progress, "has a queue", the navigation's role.
    for query in (
        {},
        {"page": last_page},
        {"status": "in_progress", "sort": "-team_done"},
    ):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(URL, query)
        assert response.status_code == 200
        assert len(captured) <= 9, query
        counts = [q["sql"] for q in captured if "COUNT(*)" in q["sql"]]
        assert len(counts) == 1, query
    with django_assert_max_num_queries(5):
        client.get(CONTINUE)
