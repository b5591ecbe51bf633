"""``Membership.labelled_count``: the annotate screen's project bar reads this counter
instead of counting every annotation of the project. It must equal the count after
every write path: save (create, edit, gold, refused), admin deletes (also by cascade),
a re-added member, ``manage.py recount_progress``."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations.models import Annotation, Article, Membership
from annotations.services import AnnotationInput, AnnotationRefused, save_annotation
from tests import factories

JSON = {"HTTP_ACCEPT": "application/json"}


def counter(project, user) -> int:
    return Membership.objects.get(project=project, user=user).labelled_count


def true_count(project, user) -> int:
    return (
        Annotation.objects.own()
        .filter(article__project=project, annotator=user)
        .count()
    )


def sentences(article):
    return list(
        article.segments.filter(kind="sentence")
        .select_related("article__project")
        .order_by("position")
    )


@pytest.fixture
def article(project):
    return factories.make_article(project, n_sentences=4)


def test_counts_creates_not_edits_gold_or_refusals(
    project, article, annotator, reviewer
):
    first, second, *_ = sentences(article)
    factories.annotate(first, annotator, claim="opinion")
    factories.annotate(second, annotator, claim="opinion")
    factories.annotate(first, annotator, claim="factual")  # an edit: revision 2
    assert counter(project, annotator) == 2
    factories.annotate(first, reviewer, claim="opinion")
    factories.annotate(
        first,
        reviewer,
        claim="opinion",
        is_gold=True,
        adjudicated_from=Annotation.objects.own().filter(segment=first),
    )
    assert counter(project, reviewer) == 1  # gold is not "mine"
    with pytest.raises(AnnotationRefused):
        save_annotation(
            segment=sentences(article)[2],
            annotator=annotator,
            payload=AnnotationInput(labels={"claim": ("no-such-label",)}),
            expected_revision=None,
        )
    assert counter(project, annotator) == 2 == true_count(project, annotator)


def test_page_and_json_save_show_the_counter(client, project, article, annotator):
    other = factories.make_article(project, n_sentences=2)
    factories.annotate(sentences(other)[0], annotator, claim="opinion")
    client.force_login(annotator)
    target = sentences(article)[0]
    response = client.post(
        reverse("annotations:save_annotation", args=[article.pk, target.position]),
        {"dim-claim": "opinion", "attr-count": "1"},
        **JSON,
    )
    body = response.json()
    assert body["status"] == "saved"
    assert body["project_done"] == 2
    assert body["project_total"] == article.annotatable_count + other.annotatable_count
    page = client.get(reverse("annotations:annotate", args=[article.pk]))
    assert page.context["project_done"] == 2
    assert 'id="project-progress-text">2/' in page.content.decode()


def test_member_without_counter_row_gets_the_count(admin_client, project, article):
    """A superuser is no member: the bar falls back to counting (correct, slower)."""
    admin = get_user_model().objects.get(username="admin")
    factories.annotate(sentences(article)[0], admin, claim="opinion")
    page = admin_client.get(reverse("annotations:annotate", args=[article.pk]))
    assert page.context["project_done"] == 1


def test_admin_deletes_recount(admin_client, project, article, annotator, reviewer):
    other = factories.make_article(project, n_sentences=3)
    for segment in sentences(article) + sentences(other):
        factories.annotate(segment, annotator, claim="opinion")
    factories.annotate(sentences(article)[0], reviewer, claim="opinion")
    assert counter(project, annotator) == 7
    response = admin_client.post(
        reverse("admin:annotations_article_delete", args=[article.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert counter(project, annotator) == 3 == true_count(project, annotator)
    assert counter(project, reviewer) == 0
    doomed = Annotation.objects.filter(segment=sentences(other)[0]).get()
    response = admin_client.post(
        reverse("admin:annotations_annotation_changelist"),
        {"action": "delete_selected", "_selected_action": [doomed.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert counter(project, annotator) == 2 == true_count(project, annotator)


def test_re_added_member_starts_at_their_count(project, article, annotator):
    for segment in sentences(article)[:3]:
        factories.annotate(segment, annotator, claim="opinion")
    Membership.objects.filter(project=project, user=annotator).delete()
    Membership.objects.create(project=project, user=annotator)
    assert counter(project, annotator) == 3


def test_membership_moved_to_another_user_counts_theirs(project, article, annotator):
    """The admin's membership form lets a manager change the user."""
    factories.annotate(sentences(article)[0], annotator, claim="opinion")
    someone = factories.UserFactory()
    membership = Membership.objects.get(project=project, user=annotator)
    membership.user = someone
    membership.save()
    assert counter(project, someone) == 0
    membership.user = annotator
    membership.save()
    assert counter(project, annotator) == 1


def test_recount_progress_command(project, article, annotator):
    factories.annotate(sentences(article)[0], annotator, claim="opinion")
    Membership.objects.update(labelled_count=40)  # as after a raw-SQL delete
    call_command("recount_progress", project=[project.slug])
    assert counter(project, annotator) == 1
    Membership.objects.update(labelled_count=40)
    call_command("recount_progress")
    assert counter(project, annotator) == 1
    with pytest.raises(CommandError, match="no such project: nope"):
        call_command("recount_progress", project=["nope"])


@pytest.mark.parametrize("n_articles", [1, 30])
def test_work_list_count_never_touches_annotations(
    project, annotator, n_articles, django_assert_num_queries
):
    """The paginator's COUNT was the whole grouped join again (61 s at 300,000
    annotations): now it counts articles only, and the page is one query."""
    for _ in range(n_articles):
        article = factories.make_article(project, n_sentences=2)
        factories.annotate(sentences(article)[0], annotator, claim="opinion")
    rows = Article.objects.for_work_list(annotator)
    with CaptureQueriesContext(connection) as count_query:
        assert rows.count() == n_articles
    (sql,) = [query["sql"] for query in count_query.captured_queries]
    assert "annotations_annotation" not in sql
    assert "GROUP BY" not in sql
    with django_assert_num_queries(1):
        page = list(rows[:25])
    assert all(row.my_done == 1 and row.team_done == 1 for row in page)
