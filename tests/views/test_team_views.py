"""Team pages: roles per URL, dashboard, assignment, agreement, review; query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from annotations import services
from annotations.models import Annotation, Assignment, Role
from tests import factories

ROLES = ("anonymous", "outsider", "annotator", "reviewer", "manager", "superuser")


@pytest.fixture
def people(db, project):
    """One user per role; the outsider manages another project only."""
    other = factories.ProjectFactory(slug="elsewhere")
    users = {
        "outsider": factories.member(other, role=Role.MANAGER, username="outsider"),
        "annotator": factories.member(project, role=Role.ANNOTATOR, username="ann"),
        "reviewer": factories.member(project, role=Role.REVIEWER, username="rev"),
        "manager": factories.member(project, role=Role.MANAGER, username="man"),
        "superuser": factories.UserFactory(
            username="root", is_superuser=True, is_staff=True
        ),
    }
    return users


def client_as(client, people, role):
    if role != "anonymous":
        client.force_login(people[role])
    return client


def two_annotators_disagree(project, *, n_sentences=3):
    article = factories.make_article(project, n_sentences=n_sentences)
    a = factories.member(project, username="anna")
    b = factories.member(project, username="bert")
    segment = article.segments.annotatable().order_by("position")[0]
    factories.annotate(
        segment,
        a,
        claim="checkworthy",
        frames=("economic",),
        stances={"russia": "against"},
        time_spent_ms=4000,
    )
    factories.annotate(
        segment,
        b,
        claim="opinion",
        frames=("economic", "political"),
        time_spent_ms=6000,
    )
    return article, segment, a, b


# ---------------------------------------------------------------------------
# Roles, for every URL this module adds
# ---------------------------------------------------------------------------

# (url name, needs, kwargs kind): needs is the lowest role that gets 200.
PAGES = [
    ("team_dashboard", "manager", "slug"),
    ("team_assign", "manager", "slug"),
    ("team_agreement", "reviewer", "slug"),
    ("review_list", "reviewer", "slug"),
    ("review", "reviewer", "article"),
]
RANK = {"annotator": 1, "reviewer": 2, "manager": 3, "superuser": 4}


def expected_status(role: str, needs: str) -> int:
    if role == "anonymous":
        return 302
    if role == "outsider":
        return 404
    return 200 if RANK[role] >= RANK[needs] else 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "needs", "kind"), PAGES)
def test_every_team_page_answers_each_role_as_its_rank_allows(
    client, project, people, role, name, needs, kind
):
    article, _segment, _a, _b = two_annotators_disagree(project)
    args = [project.slug] if kind == "slug" else [article.pk]
    response = client_as(client, people, role).get(
        reverse(f"annotations:{name}", args=args)
    )
    assert response.status_code == expected_status(role, needs)
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))
    if response.status_code != 200:
        # Nobody below the rank sees another annotator's labels or names.
        assert b"bert" not in response.content


@pytest.mark.parametrize("role", ROLES)
def test_saving_gold_is_for_reviewers_and_up_only(client, project, people, role):
    article, segment, _a, _b = two_annotators_disagree(project)
    url = reverse("annotations:review_save", args=[article.pk, segment.pk])
    response = client_as(client, people, role).post(url, {"dim-claim": "factual"})
    allowed = role in ("reviewer", "manager", "superuser")
    expected = 302 if allowed else expected_status(role, "reviewer")
    assert response.status_code == expected
    assert Annotation.objects.gold().exists() == allowed


@pytest.mark.parametrize("role", ROLES)
def test_posting_an_assignment_is_for_managers_only(client, project, people, role):
    article = factories.make_article(project, n_sentences=2)
    url = reverse("annotations:team_assign", args=[project.slug])
    data = {
        "mode": "hand",
        "annotators": [project.memberships.get(user=people["annotator"]).pk],
        "articles": [article.pk],
    }
    response = client_as(client, people, role).post(url, data)
    allowed = role in ("manager", "superuser")
    assert response.status_code == (
        302 if allowed else expected_status(role, "manager")
    )
    assert Assignment.objects.exists() == allowed


def test_team_pages_of_another_project_answer_404_even_to_its_neighbours(
    client, project, people
):
    other = factories.ProjectFactory(slug="third")
    client.force_login(people["manager"])
    for name in ("team_dashboard", "team_assign", "team_agreement", "review_list"):
        assert (
            client.get(reverse(f"annotations:{name}", args=[other.slug])).status_code
            == 404
        )
    foreign = factories.make_article(other, n_sentences=1)
    assert (
        client.get(reverse("annotations:review", args=[foreign.pk])).status_code == 404
    )


def test_team_index_lists_only_projects_where_the_user_reviews_or_manages(
    client, project, people
):
    client.force_login(people["annotator"])
    response = client.get(reverse("annotations:team_index"))
    assert response.status_code == 200
    assert project.name.encode() not in response.content
    assert b">Team<" not in response.content  # no nav link for annotators
    client.force_login(people["reviewer"])
    response = client.get(reverse("annotations:team_index"))
    assert project.name.encode() in response.content
    assert b">Team<" in response.content
    dashboard = reverse("annotations:team_dashboard", args=[project.slug])
    assert f'href="{dashboard}"'.encode() not in response.content
    assert reverse("annotations:team_agreement", args=[project.slug]).encode() in (
        response.content
    )


def test_anonymous_team_index_redirects_to_login(client, db):
    # (db: every request checks the database first, workbench/outage.py)
    response = client.get(reverse("annotations:team_index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# ---------------------------------------------------------------------------
# Assignment form
# ---------------------------------------------------------------------------


def test_automatic_assignment_gives_each_article_k_annotators_balanced(
    client, project, manager
):
    articles = [factories.make_article(project, n_sentences=1) for _ in range(10)]
    team_members = [factories.member(project, username=f"a{i}") for i in range(5)]
    memberships = project.memberships.filter(user__in=team_members)
    client.force_login(manager)
    response = client.post(
        reverse("annotations:team_assign", args=[project.slug]),
        {
            "mode": "auto",
            "overlap": 2,
            "annotators": [m.pk for m in memberships],
            "all_articles": "on",
        },
    )
    assert response.status_code == 302
    assert Assignment.objects.count() == 20
    for article in articles:
        assert Assignment.objects.filter(article=article).count() == 2
    loads = {
        u.username: Assignment.objects.filter(annotator=u).count() for u in team_members
    }
    assert set(loads.values()) == {4}
    queue = list(
        Assignment.objects.filter(annotator=team_members[0])
        .order_by("position")
        .values_list("article_id", "position")
    )
    assert [pos for _, pos in queue] == [1, 2, 3, 4]
    assert [art for art, _ in queue] == sorted(art for art, _ in queue)
    assert set(Assignment.objects.values_list("assigned_by", flat=True)) == {manager.pk}


def test_assigning_again_keeps_existing_assignments_and_adds_only_the_missing(
    client, project, manager
):
    article = factories.make_article(project, n_sentences=1)
    a, b, c = (factories.member(project, username=n) for n in "abc")
    Assignment.objects.create(article=article, annotator=a, position=7)
    client.force_login(manager)
    client.post(
        reverse("annotations:team_assign", args=[project.slug]),
        {
            "mode": "auto",
            "overlap": 2,
            "articles": [article.pk],
            "annotators": list(
                project.memberships.filter(user__in=[a, b, c]).values_list(
                    "pk", flat=True
                )
            ),
        },
    )
    assert set(Assignment.objects.values_list("annotator__username", "position")) == {
        ("a", 7),
        ("b", 1),
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "auto", "overlap": 3}, b"k can be at most the 2 annotators"),
        ({"mode": "auto", "overlap": ""}, b"Give k"),
        ({"mode": "hand", "no_articles": True}, b"Choose articles"),
    ],
)
def test_an_invalid_assignment_is_shown_again_with_its_error_and_stores_nothing(
    client, project, manager, data, message
):
    article = factories.make_article(project, n_sentences=1)
    users = [factories.member(project, username=n) for n in ("x", "y")]
    post = {
        "mode": data["mode"],
        "overlap": data.get("overlap", ""),
        "annotators": list(
            project.memberships.filter(user__in=users).values_list("pk", flat=True)
        ),
    }
    if not data.get("no_articles"):
        post["articles"] = [article.pk]
    client.force_login(manager)
    response = client.post(
        reverse("annotations:team_assign", args=[project.slug]), post
    )
    assert response.status_code == 422
    assert message in response.content
    assert not Assignment.objects.exists()


def test_an_article_of_another_project_cannot_be_assigned(client, project, manager):
    foreign = factories.make_article(factories.ProjectFactory(slug="x2"), n_sentences=1)
    user = factories.member(project, username="z")
    client.force_login(manager)
    response = client.post(
        reverse("annotations:team_assign", args=[project.slug]),
        {
            "mode": "hand",
            "articles": [foreign.pk],
            "annotators": [project.memberships.get(user=user).pk],
        },
    )
    assert response.status_code == 422
    assert not Assignment.objects.exists()


# ---------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------


def test_dashboard_shows_progress_time_gold_and_disagreements(client, project, manager):
    article, segment, a, b = two_annotators_disagree(project, n_sentences=3)
    services.assign_articles(
        project=project,
        articles=[article],
        annotators=[a, b],
        overlap=2,
        assigned_by=manager,
    )
    factories.annotate(segment, manager, claim="checkworthy", is_gold=True)
    client.force_login(manager)
    response = client.get(reverse("annotations:team_dashboard", args=[project.slug]))
    assert response.status_code == 200
    people = {
        row.record.user.username: row.record for row in response.context["people"].rows
    }
    assert people["anna"].assigned_articles == 1
    assert people["anna"].labelled == 1
    assert people["anna"].assigned_segments == article.annotatable_count
    assert people["anna"].time_spent_ms == 4000
    assert people["anna"].last_activity is not None
    assert people["manager"].assigned_articles == 0
    html = response.content.decode()
    assert "0:00:04" in html
    assert "0:00:06" in html
    row = response.context["articles"].rows[0]
    assert row.record.gold_count == 1
    assert row.record.annotation_count == 2
    assert response.context["articles"].disagreement_counts == {article.pk: 1}
    assert f'<progress value="1" max="{article.annotatable_count}">' in html


def test_dashboard_dates_in_the_workbench_locale_not_the_interface_language(
    client, project, manager
):
    """A Berlin workbench reads 04.12.2026 15:37, not 12/04/2026 3:37 p.m."""
    article, segment, a, b = two_annotators_disagree(project, n_sentences=1)
    when = dt.datetime(2026, 12, 4, 14, 37, tzinfo=dt.UTC)  # 15:37 in Berlin
    Annotation.objects.filter(segment=segment).update(updated_at=when)
    client.force_login(manager)
    url = reverse("annotations:team_dashboard", args=[project.slug])
    html = client.get(url).content.decode()
    assert "04.12.2026 15:37" in html
    assert "p.m." not in html


def build(project, *, n_sentences: int, n_annotators: int):
    """An article of ``n_sentences`` labelled by ``n_annotators`` (disagreeing)."""
    article = factories.make_article(project, n_sentences=n_sentences)
    users = [factories.member(project, username=f"u{i}") for i in range(n_annotators)]
    claims = ["checkworthy", "factual", "opinion", "none"]
    for segment in article.segments.annotatable():
        for i, user in enumerate(users):
            factories.annotate(
                segment,
                user,
                claim=claims[i % 4],
                frames=("economic",) if i % 2 else (),
                stances={"nato": "favor"} if i == 1 else None,
            )
    services.assign_articles(
        project=project,
        articles=[article],
        annotators=users,
        overlap=n_annotators,
        assigned_by=None,
    )
    return article


@pytest.mark.parametrize(
    ("n_sentences", "n_annotators"), [(1, 2), (1, 5), (62, 2), (62, 5)]
)
def test_team_pages_need_a_fixed_number_of_queries(
    client, project, manager, django_assert_max_num_queries, n_sentences, n_annotators
):
    article = build(project, n_sentences=n_sentences, n_annotators=n_annotators)
    if n_sentences > 1:
        assert article.annotatable_count >= 60
    client.force_login(manager)
    limits = {
        # session, user, project, role, nav role, then the page's own reads
        reverse("annotations:team_dashboard", args=[project.slug]): 15,
        reverse("annotations:team_agreement", args=[project.slug]): 10,
        reverse("annotations:review_list", args=[project.slug]): 13,
        reverse("annotations:review", args=[article.pk]): 10,
        reverse("annotations:team_assign", args=[project.slug]): 7,
    }
    for url, limit in limits.items():
        with django_assert_max_num_queries(limit):
            assert client.get(url).status_code == 200
    # Saving a gold: 24 queries (reads, role checks, the write with its history row,
    # adjudicated_from links and export cells, the segment rendered back), at any
    # size.
    segment = article.segments.annotatable().order_by("position").last()
    save = reverse("annotations:review_save", args=[article.pk, segment.pk])
    with django_assert_max_num_queries(24):
        response = client.post(
            save, {"dim-claim": "opinion"}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 200
    with django_assert_max_num_queries(24):
        response = client.post(save, {"dim-claim": "none", "revision": "1"})
        assert response.status_code == 302
    gold = Annotation.objects.gold().get(segment=segment)
    assert gold.adjudicated_from.count() == n_annotators


# ---------------------------------------------------------------------------
# Agreement page and summary
# ---------------------------------------------------------------------------


def test_agreement_page_shows_figures_matrix_heat_map_and_disagreed_links(
    client, project, reviewer
):
    article, segment, _a, _b = two_annotators_disagree(project)
    client.force_login(reviewer)
    response = client.get(reverse("annotations:team_agreement", args=[project.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Krippendorff" in html
    assert "Cohen" in html
    assert (
        'class="heat-9"' in html
    )  # the one confusion (checkworthy/opinion) is darkest
    link = reverse("annotations:review", args=[article.pk]) + f"#seg-{segment.pk}"
    assert link in html
    assert "style=" not in html  # CSP: no inline styles
    names = [item.spec.key for item in response.context["result"].dimensions]
    assert names[:2] == ["claim", "frames"]
    assert "stance:russia" in names
    assert "stance:nato" in names


@pytest.mark.parametrize("role", ROLES)
def test_team_index_answers_every_role_and_lists_only_its_own_projects(
    client, project, people, role
):
    response = client_as(client, people, role).get(reverse("annotations:team_index"))
    if role == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    listed = [p.slug for p, _role in response.context["rows"]]
    if role in ("reviewer", "manager"):
        assert listed == [project.slug]
    elif role == "superuser":
        assert set(listed) == {project.slug, "elsewhere"}
    elif role == "outsider":
        assert listed == ["elsewhere"]
    else:
        assert listed == []


def test_dashboard_shows_the_work_done_when_nothing_was_assigned(
    client, project, manager
):
    """Not "0/0" for people who labelled without assignments."""
    article = factories.make_article(project, n_sentences=3)
    worker = factories.member(project, username="fleissig")
    for segment in article.segments.annotatable():
        factories.annotate(segment, worker, claim="factual")
    client.force_login(manager)
    html = client.get(
        reverse("annotations:team_dashboard", args=[project.slug])
    ).content.decode()
    row = html.split("fleissig")[1].split("</tr>")[0]
    done = article.segments.annotatable().count()
    assert f'<span class="num">{done}</span> labelled · nothing assigned' in row
    assert "0/0" not in row
