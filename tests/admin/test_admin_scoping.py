"""The admin is scoped by project: a staff manager runs only their own projects.

Project A's rows are marked "ZZA", project B's "ZZB" (names, titles, usernames,
slugs), so one ``"zzb" not in body`` catches any leak of B on A's manager's pages.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations.models import (
    Annotation,
    Article,
    Assignment,
    Dimension,
    Label,
    LabelScheme,
    Membership,
    Project,
    Role,
    Segment,
    Source,
    StanceTarget,
)
from annotations.permissions import editable_scheme_ids, managed_project_ids
from tests import factories

# Changelist name -> what A's manager must see there (B's rows all contain "zzb").
CHANGELISTS = {
    "project": "ZZA Projekt",
    "article": "ZZA Artikel",
    "segment": "ZZA Artikel",
    "annotation": "ZZA Artikel",
    "membership": "zza-annotator",
    "source": "ZZA Quelle",
    "stancetarget": "ZZA Ziel",
    "assignment": "ZZA Artikel",
}


@dataclass
class World:
    a: Project
    b: Project
    manager: object
    objects: dict[str, dict[str, object]]  # side -> model name -> object


def build_side(tag: str) -> dict[str, object]:
    low = tag.lower()
    project = factories.ProjectFactory(
        name=f"{tag} Projekt",
        slug=f"{low}-projekt",
        stance_targets=[(f"{low}-ziel", f"{tag} Ziel", "Frage?", "5")],
    )
    annotator = factories.member(project, username=f"{low}-annotator")
    article = factories.make_article(project, n_sentences=2, title=f"{tag} Artikel")
    segment = article.segments.annotatable().order_by("position")[0]
    return {
        "project": project,
        "article": article,
        "segment": segment,
        "annotation": factories.annotate(segment, annotator, claim="checkworthy"),
        "membership": Membership.objects.get(user=annotator),
        "source": factories.SourceFactory(project=project, name=f"{tag} Quelle"),
        "stancetarget": StanceTarget.objects.get(project=project),
        "assignment": factories.AssignmentFactory(article=article, annotator=annotator),
    }


@pytest.fixture
def world(db) -> World:
    objects = {"a": build_side("ZZA"), "b": build_side("ZZB")}
    a, b = objects["a"]["project"], objects["b"]["project"]
    manager = factories.member(a, role=Role.MANAGER, username="zza-manager")
    # Staff, but no Django model permission at all: the role alone opens the admin.
    get_user_model().objects.filter(pk=manager.pk).update(is_staff=True)
    manager.refresh_from_db()
    return World(a=a, b=b, manager=manager, objects=objects)


@pytest.fixture
def manager_client(client, world):
    client.force_login(world.manager)
    return client


def change_url(obj) -> str:
    return reverse(f"admin:annotations_{obj._meta.model_name}_change", args=[obj.pk])


# A CSRF token is 64 random letters and digits: by chance it can hold "zzb"
# (about one page in 500), so the leak checks look at the page without it.
CSRF_TOKEN_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')


def text(response) -> str:
    return CSRF_TOKEN_VALUE.sub(r"\1\2", response.content.decode())


# --- the helpers in permissions.py ---------------------------------------------


def test_managed_project_ids_are_the_manager_role_only(
    world, django_assert_num_queries
):
    annotator = get_user_model().objects.get(username="zza-annotator")
    with django_assert_num_queries(1):
        assert managed_project_ids(world.manager) == {world.a.pk}
    assert managed_project_ids(annotator) == set()
    root = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    assert managed_project_ids(root) == {world.a.pk, world.b.pk}


def test_a_scheme_is_editable_only_if_every_project_using_it_is_managed(world):
    shared = world.a.scheme
    assert world.b.scheme == shared
    assert shared.pk not in editable_scheme_ids({world.a.pk})
    assert shared.pk in editable_scheme_ids({world.a.pk, world.b.pk})
    assert editable_scheme_ids(set()) == set()


# --- changelists -------------------------------------------------------------------


@pytest.mark.parametrize("model", CHANGELISTS)
def test_manager_sees_own_project_rows_and_nothing_of_another_project(
    manager_client, model
):
    response = manager_client.get(reverse(f"admin:annotations_{model}_changelist"))
    assert response.status_code == 200
    body = text(response)
    assert CHANGELISTS[model] in body
    assert "zzb" not in body.lower()  # no row, no filter choice, no username


def test_admin_index_lists_the_project_models_for_a_manager(manager_client):
    body = text(manager_client.get(reverse("admin:index")))
    for model in CHANGELISTS:
        assert reverse(f"admin:annotations_{model}_changelist") in body
    assert reverse("admin:annotations_labelscheme_changelist") in body
    assert reverse("admin:auth_user_changelist") not in body
    assert reverse("admin:annotations_project_add") not in body


@pytest.mark.parametrize("model", CHANGELISTS)
def test_superuser_sees_both_projects(admin_client, world, model):
    response = admin_client.get(reverse(f"admin:annotations_{model}_changelist"))
    assert response.status_code == 200
    body = text(response).lower()
    assert "zza" in body
    assert "zzb" in body


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_staff_annotator_or_reviewer_is_refused_every_project_model(
    client, world, role
):
    user = factories.member(world.a, role=role, username=f"staff-{role}")
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
    client.force_login(user)
    for model in [*CHANGELISTS, "labelscheme", "dimension", "label"]:
        assert (
            client.get(reverse(f"admin:annotations_{model}_changelist")).status_code
            == 403
        ), model
        assert (
            client.get(reverse(f"admin:annotations_{model}_add")).status_code == 403
        ), model
    own = world.objects["a"]["article"]
    response = client.get(change_url(own), follow=True)
    assert "ZZA Artikel" not in text(response)
    index = text(client.get(reverse("admin:index")))
    assert "annotations/article" not in index


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelist_queries_do_not_grow_for_a_manager(
    manager_client, world, django_assert_max_num_queries, model
):
    url = reverse(f"admin:annotations_{model}_changelist")
    with CaptureQueriesContext(connection) as small:
        assert manager_client.get(url).status_code == 200
    for n in range(6):
        for project in (world.a, world.b):
            annotator = get_user_model().objects.get(
                username=project.slug.replace("projekt", "annotator")
            )
            article = factories.make_article(
                project, n_sentences=60, title=f"Groß {project.slug} {n}"
            )
            factories.AssignmentFactory(article=article, annotator=annotator)
            for segment in article.segments.annotatable()[:10]:
                factories.annotate(segment, annotator, claim="checkworthy")
        factories.member(world.a, username=f"more-{n}")
        factories.SourceFactory(project=world.a, name=f"Quelle {n}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert manager_client.get(url).status_code == 200


# --- another project's objects --------------------------------------------------


@pytest.mark.parametrize("model", CHANGELISTS)
def test_another_projects_change_and_delete_pages_answer_does_not_exist(
    manager_client, world, model
):
    obj = world.objects["b"][model]
    for url in (
        change_url(obj),
        reverse(f"admin:annotations_{model}_delete", args=[obj.pk]),
        reverse(f"admin:annotations_{model}_history", args=[obj.pk]),
    ):
        response = manager_client.get(url)
        assert response.status_code in (302, 403, 404), url
        if response.status_code == 302:
            assert response["Location"] == reverse("admin:index")
            followed = manager_client.get(response["Location"])
            assert "doesn’t exist" in text(followed)
        assert "zzb" not in text(response).lower()


def test_own_projects_change_pages_open_with_their_inlines(manager_client, world):
    article = world.objects["a"]["article"]
    body = text(manager_client.get(change_url(article)))
    assert article.segments.order_by("position")[1].text in body  # segment inline
    body = text(manager_client.get(change_url(world.a)))
    assert 'name="memberships-0-user"' in body  # the membership inline
    assert 'name="stance_targets-0-name"' in body
    # New members are picked from all active users; B's rows stay hidden.
    assert "ZZB Projekt" not in body
    assert "ZZB Ziel" not in body


def test_posts_to_another_projects_objects_change_nothing(manager_client, world):
    b = world.objects["b"]
    before = {
        "project": Project.objects.filter(pk=world.b.pk).values().get(),
        "source": Source.objects.filter(pk=b["source"].pk).values().get(),
        "membership": Membership.objects.filter(pk=b["membership"].pk).values().get(),
    }
    manager_client.post(
        change_url(world.b),
        {
            "name": "gekapert",
            "slug": "gekapert",
            "language": "de",
            "overlap": "1",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "stance_targets-TOTAL_FORMS": "0",
            "stance_targets-INITIAL_FORMS": "0",
        },
    )
    manager_client.post(
        change_url(b["source"]), {"project": world.a.pk, "name": "gekapert"}
    )
    manager_client.post(
        change_url(b["membership"]),
        {"user": world.manager.pk, "project": world.b.pk, "role": "manager"},
    )
    for model in ("source", "article", "assignment", "annotation"):
        manager_client.post(
            reverse(f"admin:annotations_{model}_delete", args=[b[model].pk]),
            {"post": "yes"},
        )
        manager_client.post(
            reverse(f"admin:annotations_{model}_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [b[model].pk],
                "post": "yes",
            },
        )
    assert Project.objects.filter(pk=world.b.pk).values().get() == before["project"]
    assert Source.objects.filter(pk=b["source"].pk).values().get() == before["source"]
    assert (
        Membership.objects.filter(pk=b["membership"].pk).values().get()
        == before["membership"]
    )
    for model in ("source", "article", "assignment", "annotation"):
        assert type(b[model]).objects.filter(pk=b[model].pk).exists(), model
    assert not Membership.objects.filter(user=world.manager, project=world.b).exists()


def test_manager_changes_and_deletes_in_their_own_project(manager_client, world):
    a = world.objects["a"]
    response = manager_client.post(
        change_url(a["source"]), {"project": world.a.pk, "name": "ZZA Neu"}
    )
    assert response.status_code == 302
    assert Source.objects.get(pk=a["source"].pk).name == "ZZA Neu"
    response = manager_client.post(
        reverse("admin:annotations_assignment_delete", args=[a["assignment"].pk]),
        {"post": "yes"},
    )
    assert response.status_code == 302
    assert not Assignment.objects.filter(pk=a["assignment"].pk).exists()


def test_manager_cannot_move_a_row_into_another_project(manager_client, world):
    target = world.objects["a"]["stancetarget"]
    response = manager_client.post(
        change_url(target),
        {"project": world.b.pk, "code": "umgezogen", "name": "Umgezogen", "order": 1},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in text(response)
    assert StanceTarget.objects.get(pk=target.pk).project == world.a


def test_a_sources_project_is_read_only_once_it_exists(manager_client, world):
    source = world.objects["a"]["source"]
    page = text(manager_client.get(change_url(source)))
    assert 'name="project"' not in page
    manager_client.post(change_url(source), {"project": world.b.pk, "name": "neu"})
    source.refresh_from_db()
    assert (source.project, source.name) == (world.a, "neu")


def test_manager_cannot_create_a_project(manager_client, world):
    before = Project.objects.count()
    add = reverse("admin:annotations_project_add")
    assert manager_client.get(add).status_code == 403
    response = manager_client.post(
        add, {"name": "Neu", "slug": "neu", "language": "de", "overlap": "2"}
    )
    assert response.status_code == 403
    assert Project.objects.count() == before


def test_history_of_another_projects_annotation_is_refused(manager_client, world):
    for side, expected in (("a", 200), ("b", 403)):
        annotation = world.objects[side]["annotation"]
        record = annotation.history.latest("history_id")
        history = manager_client.get(
            reverse("admin:annotations_annotation_history", args=[annotation.pk])
        )
        version = manager_client.get(
            reverse(
                "admin:annotations_annotation_simple_history",
                args=[annotation.pk, record.history_id],
            )
        )
        assert history.status_code == expected
        assert version.status_code == expected
        assert "zzb" not in (text(history) + text(version)).lower()


def test_autocomplete_offers_only_own_projects(manager_client, world):
    response = manager_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "annotations",
            "model_name": "membership",
            "field_name": "project",
            "term": "Projekt",
        },
    )
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["ZZA Projekt"]


# --- import and export ---------------------------------------------------------------


def upload(name: str) -> io.BytesIO:
    data = io.BytesIO(f"{name} Titel\n\nEin Satz. Noch ein Satz.\n".encode())
    data.name = f"{name}.txt"
    return data


def test_manager_imports_into_own_project_only(manager_client, world):
    url = reverse("admin:annotations_article_import")
    page = text(manager_client.get(url))
    assert "ZZA Projekt" in page
    assert "zzb" not in page.lower()
    # The only project a manager manages is chosen already.
    assert f'<option value="{world.a.pk}" selected>' in page
    refused = manager_client.post(url, {"project": world.b.pk, "files": [upload("b")]})
    assert refused.status_code == 200
    assert "Select a valid choice" in text(refused)
    assert Article.objects.filter(project=world.b).count() == 1
    assert not Article.objects.filter(title="b Titel").exists()
    manager_client.post(url, {"project": world.a.pk, "files": [upload("a")]})
    assert Article.objects.get(title="a Titel").project == world.a


def test_import_form_leaves_the_choice_to_a_manager_of_several_projects(
    manager_client, world
):
    Membership.objects.create(project=world.b, user=world.manager, role=Role.MANAGER)
    page = text(manager_client.get(reverse("admin:annotations_article_import")))
    assert "ZZA Projekt" in page
    assert "ZZB Projekt" in page
    assert '<option value="" selected>' in page
    assert not re.search(r'<option value="\d+" selected>', page)


def test_export_action_takes_only_own_articles(manager_client, world):
    url = reverse("admin:annotations_article_changelist")
    own = manager_client.post(
        url,
        {
            "action": "export_csv",
            "_selected_action": [world.objects["a"]["article"].pk],
        },
    )
    assert own.status_code == 200
    assert "ZZA Artikel" in b"".join(own.streaming_content).decode("utf-8-sig")
    other = manager_client.post(
        url,
        {
            "action": "export_csv",
            "_selected_action": [world.objects["b"]["article"].pk],
        },
        follow=True,
    )
    assert "zzb" not in text(other).lower()


# --- people ---------------------------------------------------------------------------


def test_manager_adds_a_member_to_own_project(manager_client, world):
    newcomer = factories.UserFactory(username="neu-im-team")
    add = reverse("admin:annotations_membership_add")
    page = text(manager_client.get(add))
    # A plain select of active users: the user admin's autocomplete is superusers'.
    assert f'<option value="{newcomer.pk}">neu-im-team</option>' in page
    response = manager_client.post(
        add, {"user": newcomer.pk, "project": world.a.pk, "role": Role.ANNOTATOR}
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=newcomer).project == world.a


def test_manager_cannot_add_a_member_to_another_project(manager_client, world):
    newcomer = factories.UserFactory(username="neu-im-team")
    response = manager_client.post(
        reverse("admin:annotations_membership_add"),
        {"user": newcomer.pk, "project": world.b.pk, "role": Role.MANAGER},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in text(response)
    assert not Membership.objects.filter(user=newcomer).exists()


def test_assignment_annotators_are_members_of_managed_projects(manager_client, world):
    page = text(manager_client.get(reverse("admin:annotations_assignment_add")))
    assert "zza-annotator" in page
    assert "zzb" not in page.lower()


def test_manager_assigns_own_articles_to_own_members(manager_client, world):
    helper = factories.member(world.a, username="zza-helfer")
    add = reverse("admin:annotations_assignment_add")
    data = {"annotator": helper.pk, "position": "3"}
    refused = manager_client.post(
        add, {**data, "article": world.objects["b"]["article"].pk}
    )
    assert "Select a valid choice" in text(refused)
    assert not Assignment.objects.filter(annotator=helper).exists()
    article = world.objects["a"]["article"]
    assert manager_client.post(add, {**data, "article": article.pk}).status_code == 302
    assignment = Assignment.objects.get(annotator=helper)
    assert (assignment.article, assignment.assigned_by) == (article, world.manager)


# --- label schemes ---------------------------------------------------------


@pytest.fixture
def own_scheme(world) -> LabelScheme:
    """A scheme only project A uses (B keeps the shared default scheme)."""
    scheme = LabelScheme.objects.create(name="ZZA Schema", slug="zza-schema")
    dimension = Dimension.objects.create(
        scheme=scheme, code="claim", role="claim", name_de="Claim", name_en="Claim"
    )
    Label.objects.create(dimension=dimension, code="yes", name_de="Ja", name_en="Yes")
    Project.objects.filter(pk=world.a.pk).update(scheme=scheme)
    return scheme


def scheme_post(scheme: LabelScheme, name: str) -> dict:
    return {
        "name": name,
        "slug": scheme.slug,
        "version": scheme.version,
        "dimensions-TOTAL_FORMS": "0",
        "dimensions-INITIAL_FORMS": "0",
    }


def test_manager_views_a_shared_scheme_but_cannot_change_it(
    manager_client, world, own_scheme
):
    shared = world.b.scheme
    assert manager_client.get(change_url(shared)).status_code == 200
    response = manager_client.post(change_url(shared), scheme_post(shared, "gekapert"))
    assert response.status_code == 403
    assert LabelScheme.objects.get(pk=shared.pk).name == shared.name
    label = Label.objects.filter(dimension__scheme=shared).first()
    assert manager_client.post(change_url(label), {"code": "x"}).status_code == 403
    manager_client.post(
        reverse("admin:annotations_label_changelist"),
        {"action": "deactivate", "_selected_action": [label.pk]},
    )
    assert Label.objects.get(pk=label.pk).active


def test_manager_changes_a_scheme_only_their_projects_use(
    manager_client, world, own_scheme
):
    response = manager_client.post(
        change_url(own_scheme), scheme_post(own_scheme, "ZZA Schema 2")
    )
    assert response.status_code == 302
    assert LabelScheme.objects.get(pk=own_scheme.pk).name == "ZZA Schema 2"
    label = Label.objects.get(dimension__scheme=own_scheme)
    manager_client.post(
        reverse("admin:annotations_label_changelist"),
        {"action": "deactivate", "_selected_action": [label.pk]},
    )
    assert not Label.objects.get(pk=label.pk).active


def test_manager_adds_dimensions_only_to_schemes_they_may_change(
    manager_client, world, own_scheme
):
    add = reverse("admin:annotations_dimension_add")
    data = {
        "code": "neu",
        "role": "extra",
        "name_de": "Neu",
        "name_en": "New",
        "kind": "single",
        "order": "0",
        "labels-TOTAL_FORMS": "0",
        "labels-INITIAL_FORMS": "0",
    }
    refused = manager_client.post(add, {**data, "scheme": world.b.scheme.pk})
    assert "Select a valid choice" in text(refused)
    assert not Dimension.objects.filter(code="neu").exists()
    manager_client.post(add, {**data, "scheme": own_scheme.pk})
    assert Dimension.objects.get(code="neu").scheme == own_scheme


def test_only_superusers_add_schemes(manager_client, admin_client, world):
    add = reverse("admin:annotations_labelscheme_add")
    assert manager_client.get(add).status_code == 403
    assert admin_client.get(add).status_code == 200


def test_manager_deletes_own_article_with_its_rows(manager_client, world):
    """Deleting their own article works and takes its segments along; the
    confirmation page checks every cascaded row against the manager's projects."""
    article = world.objects["a"]["article"]
    response = manager_client.post(
        reverse("admin:annotations_article_delete", args=[article.pk]),
        {"post": "yes"},
    )
    assert response.status_code == 302
    assert not Segment.objects.filter(article_id=article.pk).exists()
    assert not Annotation.objects.filter(article_id=article.pk).exists()
    assert Segment.objects.filter(article=world.objects["b"]["article"]).exists()
